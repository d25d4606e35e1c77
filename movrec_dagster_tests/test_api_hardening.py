"""Hostile clients: property-based fuzzing from the OpenAPI spec (zero 5xx), body size and rate
limits, no CORS unless configured, nothing about the server in error responses, no secrets in
logs or Dagster metadata."""

from __future__ import annotations

import itertools
import json
import logging
import secrets
import shutil
from pathlib import Path

import dagster as dg
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode

from movrec_dagster.api import MAX_BODY_BYTES, create_app
from movrec_dagster.core.home import MovrecHome
from movrec_dagster.runner import run_pipeline


@pytest.fixture(scope="module")
def api_app(indexed, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN001, ANN201
    home, _, _ = indexed
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MOVREC_API_RATE_LIMIT", "100000/second")  # the fuzzer is not the client under test
        yield create_app(home)


def test_fuzzing_the_openapi_spec_finds_no_server_error(api_app, capsys: pytest.CaptureFixture) -> None:  # noqa: ANN001
    """Every operation, with inputs hypothesis generates from the spec: valid (positive) and
    schema-violating (negative) ones."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", api_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    statuses: dict[str, set[int]] = {}
    for operation, mode in itertools.product(operations, GenerationMode):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case) -> None:  # noqa: ANN001
            response = case.call()
            statuses.setdefault(case.operation.label, set()).add(response.status_code)
            case.validate_response(response, checks=[not_a_server_error])
            if response.status_code >= 400:  # no error tells a client about the server's insides
                assert "Traceback" not in response.text and "/tmp/" not in response.text

        try:
            fuzz()
        except Unsatisfiable:
            assert mode == GenerationMode.NEGATIVE  # an operation without inputs has nothing to violate
    with capsys.disabled():
        print("\n\nschemathesis: status codes seen per operation")
        for label, codes in sorted(statuses.items()):
            print(f"  {label}: {sorted(codes)}")
    assert len(operations) >= 5 and all(max(codes) < 500 for codes in statuses.values())


def test_body_size_and_rate_limits(indexed, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    home, _, _ = indexed
    monkeypatch.setenv("MOVREC_API_RATE_LIMIT", "5/second")
    client = TestClient(create_app(home))
    huge = {"liked": ["coco"], "pad": "x" * (MAX_BODY_BYTES + 1)}
    assert client.post("/recommend", json=huge).status_code == 413
    chunked = client.post("/recommend", content=iter([json.dumps(huge).encode()]))  # no Content-Length
    assert chunked.status_code == 413
    codes = [client.get("/health").status_code for _ in range(12)]
    assert codes[:5] == [200] * 5 and 429 in codes  # the sixth within a second is refused


def test_cors_is_off_unless_configured(indexed, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    home, _, _ = indexed
    origin = {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    closed = TestClient(create_app(home))
    assert "access-control-allow-origin" not in closed.get("/health", headers=origin).headers
    assert "access-control-allow-origin" not in closed.options("/search", headers=origin).headers
    monkeypatch.setenv("MOVREC_CORS_ORIGINS", "https://movies.example")
    opened = TestClient(create_app(home))
    allowed = opened.get("/health", headers={"Origin": "https://movies.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://movies.example"
    assert "access-control-allow-origin" not in opened.get("/health", headers=origin).headers


def test_unexpected_errors_answer_a_bare_500(indexed, caplog: pytest.LogCaptureFixture) -> None:  # noqa: ANN001
    home, _, _ = indexed
    app = create_app(home)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError(f"secret detail at {home.root}")

    with caplog.at_level(logging.ERROR, logger="movrec.api"):
        response = TestClient(app, raise_server_exceptions=False).get("/boom")
    assert response.status_code == 500 and response.json() == {"detail": "internal error"}
    assert str(home.root) not in response.text
    assert "secret detail" in caplog.text  # the operator still gets the traceback, in the server log


def test_no_secrets_in_logs_or_dagster_metadata(
    tmp_path: Path, demo_library: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture
) -> None:
    qdrant_key, api_key = secrets.token_hex(16), secrets.token_hex(16)
    monkeypatch.setenv("QDRANT_API_KEY", qdrant_key)  # set, but the embedded store is in use
    monkeypatch.setenv("MOVREC_API_KEY", api_key)
    home = MovrecHome(tmp_path).ensure()
    for name in ("coco.mp4", "coco.json"):
        shutil.copy2(demo_library / name, home.uploads / name)
    with dg.instance_for_test() as instance:
        assert all(run_pipeline(home, instance, run_config={}).runs.values())  # default (INFO) logging
        records = instance.get_event_records(dg.EventRecordsFilter(dg.DagsterEventType.ASSET_MATERIALIZATION))
        events = [r.event_log_entry for r in records]
        logs = [e for run in instance.get_runs() for e in instance.all_logs(run.run_id)]
    dumped = json.dumps([str(e) for e in events + logs])
    client = TestClient(create_app(home))
    denied = client.get("/search", params={"q": "mars"}, headers={"X-API-Key": "wrong"})
    out, err = capfd.readouterr()
    for secret in (qdrant_key, api_key):
        assert secret not in dumped and secret not in out and secret not in err and secret not in denied.text
    assert len(events) > 5 and len(logs) > 50  # there was plenty to leak into
