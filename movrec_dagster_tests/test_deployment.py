"""Production deployment: Dagster on a real PostgreSQL with the production dagster.yaml, and the
docker/ and Helm configuration checked by the tools that own those formats.

No Docker engine runs here, so the production instance is used with one substitution: runs launch
as local processes instead of containers (the Docker run launcher's config is still validated).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml

from movrec_dagster.core.home import MovrecHome
from movrec_dagster.core.vectorstore import ENV, INT_SETTINGS, EdgeStore, NoServingCollection, PayloadFilter
from movrec_dagster.definitions import qdrant_resource
from movrec_dagster.devserver import DagsterDev
from movrec_dagster.runner import run_pipeline
from movrec_dagster_tests.postgres import LocalPostgres, server_binaries

REPO = Path(__file__).resolve().parents[1]
DOCKER = REPO / "docker"
BIN = Path(sys.executable).parent


def production_instance(launcher: dict | None = None) -> str:
    """docker/dagster.yaml as it ships, with the run launcher swapped (default: local processes)."""
    config = yaml.safe_load((DOCKER / "dagster.yaml").read_text())
    config["run_launcher"] = launcher or {"module": "dagster.core.launcher", "class": "DefaultRunLauncher"}
    return yaml.safe_dump(config, sort_keys=False)


@pytest.fixture(scope="module")
def postgres() -> Iterator[LocalPostgres]:
    if server_binaries() is None:
        reason = "PostgreSQL server is not installed here: `make postgres` installs it"
        if os.environ.get("MOVREC_REQUIRE_POSTGRES"):  # CI: a missing server is a failure, not a skip
            pytest.fail(reason)
        pytest.skip(reason)
    server = LocalPostgres(password=secrets.token_hex(16)).start()
    yield server
    server.stop()


def _searchable(store: EdgeStore, movie: str) -> bool:
    try:
        return store.count(PayloadFilter(movie_ids=(movie,))) > 0
    except NoServingCollection:
        return False


def test_pipeline_and_sensor_runs_on_postgres(
    postgres: LocalPostgres, tmp_path: Path, demo_library: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = postgres.create_database("movrec_production")
    for key, value in postgres.env(database).items():
        monkeypatch.setenv(key, value)
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text(production_instance())
    home = MovrecHome(tmp_path / "movrec").ensure()
    for name in ("the-martian.mp4", "the-martian.json"):
        shutil.copy2(demo_library / name, home.uploads / name)

    # the main pipeline through the real jobs, every run and event stored in PostgreSQL
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        result = run_pipeline(home, instance)
        assert result.runs and all(result.runs.values()), result.runs
    store = EdgeStore(home.qdrant)
    assert _searchable(store, "the-martian")

    # a sensor-launched run: the daemon (in `dagster dev`) on the same production instance
    with DagsterDev(home.root, dagster_home, tmp_path / "dev.log", instance=production_instance()):
        staged = home.uploads / ".coco.partial"
        shutil.copy2(demo_library / "coco.json", home.uploads / "coco.json")
        shutil.copy2(demo_library / "coco.mp4", staged)
        staged.rename(home.uploads / "coco.mp4")
        deadline = time.monotonic() + 300
        while not _searchable(store, "coco"):
            assert time.monotonic() < deadline, f"coco not searchable after 300 s: see {tmp_path / 'dev.log'}"
            time.sleep(1)
        with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
            sensed = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/sensor_name": "upload_sensor"}))
            while sensed and not all(run.is_finished for run in sensed):  # searchable a moment before the end
                assert time.monotonic() < deadline, f"sensor run unfinished: see {tmp_path / 'dev.log'}"
                time.sleep(1)
                sensed = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/sensor_name": "upload_sensor"}))
            assert sensed and all(run.status == dg.DagsterRunStatus.SUCCESS for run in sensed)
    assert _searchable(store, "the-martian")  # the first movie is still served
    # and the rows really are in PostgreSQL, not in a SQLite file beside them
    connection = postgres.connect(database)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pipeline_name, status FROM runs")
        rows = cursor.fetchall()
    connection.close()
    assert ("ingest_uploads", "SUCCESS") in rows and ("scan_library", "SUCCESS") in rows
    assert not list(dagster_home.rglob("*.db"))


def test_docker_run_launcher_config_is_valid() -> None:
    from dagster._config import process_config
    from dagster_docker import DockerRunLauncher

    config = yaml.safe_load((DOCKER / "dagster.yaml").read_text())
    launcher = config["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_docker", "DockerRunLauncher")
    result = process_config(DockerRunLauncher.config_type(), launcher["config"])
    assert result.success, result.errors
    # every variable a run container needs is passed through, and the secrets only by name
    compose = yaml.safe_load((DOCKER / "docker-compose.yml").read_text())
    user_code_env = compose["services"]["user_code"]["environment"]
    assert set(launcher["config"]["env_vars"]) <= set(user_code_env)
    mounted = {volume.split(":")[0] for volume in launcher["config"]["container_kwargs"]["volumes"]}
    named = {spec.get("name") for spec in compose["volumes"].values() if spec}
    assert mounted <= named, "the run launcher mounts volumes by names the compose file must fix"
    assert launcher["config"]["network"] == compose["networks"]["movrec"]["name"]


def test_compose_file_follows_the_compose_spec() -> None:
    compose_file = DOCKER / "docker-compose.yml"
    checked = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(compose_file)],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr

    compose = yaml.safe_load(compose_file.read_text())
    text = compose_file.read_text()
    for name, service in compose["services"].items():
        assert "healthcheck" in service, f"service {name} has no healthcheck"
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|API_KEY|SECRET", key):
                assert str(value).startswith("${"), f"{name}.{key} is a literal; secrets come from docker/.env"
    third_party = [s["image"] for s in compose["services"].values() if not s["image"].startswith("movrec-")]
    assert third_party and all(re.search(r":v?\d+\.\d+", image) for image in third_party), "pin versions"
    documented = set(re.findall(r"^([A-Z_]+)=", (DOCKER / ".env.example").read_text(), flags=re.M))
    used = set(re.findall(r"\$\{([A-Z_]+)", text))
    assert used <= documented | {"DOCKER_GID"}, f"undocumented in .env.example: {used - documented}"


def test_dockerfiles_pass_hadolint() -> None:
    dockerfiles = sorted(DOCKER.glob("Dockerfile*"))
    assert len(dockerfiles) == 2
    linted = subprocess.run([str(BIN / "hadolint"), *map(str, dockerfiles)], capture_output=True, text=True)
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_helm_values_match_the_code_location_and_settings() -> None:
    dagster_values = yaml.safe_load((DOCKER / "k8s" / "dagster-values.yaml").read_text())
    qdrant_values = yaml.safe_load((DOCKER / "k8s" / "qdrant-values.yaml").read_text())
    module = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["dagster"]["module_name"]
    (deployment,) = dagster_values["dagster-user-deployments"]["deployments"]
    args = deployment["codeServerArgs"]
    assert args[args.index("--module-name") + 1] == module
    assert dagster_values["runLauncher"]["type"] == "K8sRunLauncher"
    assert dagster_values["postgresql"]["enabled"] is False
    # the same run limits as the compose deployment's instance (validated for real above)
    instance = yaml.safe_load((DOCKER / "dagster.yaml").read_text())["concurrency"]["runs"]
    helm_runs = dagster_values["concurrency"]["runs"]
    assert helm_runs["tagConcurrencyLimits"] == instance["tag_concurrency_limits"]
    assert (
        "maxConcurrentRuns" not in dagster_values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    )
    env = {item["name"] for item in deployment["env"]}
    qdrant_settings = {"QDRANT_URL", "QDRANT_PREFER_GRPC", *(ENV[field] for field in INT_SETTINGS)}
    assert {name for name in env if name.startswith("QDRANT_")} <= qdrant_settings, "a setting the code ignores"
    assert qdrant_values["config"]["cluster"]["enabled"] is True
    assert qdrant_values["replicaCount"] >= 3 and "valueFrom" in qdrant_values["apiKey"]


def test_qdrant_server_settings_reach_the_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server path's contract: URL, API key, timeout, gRPC and cluster layout, from env vars."""
    key = secrets.token_hex(12)
    monkeypatch.setenv("QDRANT_URL", "http://127.0.0.1:6333")
    monkeypatch.setenv("QDRANT_API_KEY", key)
    monkeypatch.setenv("QDRANT_TIMEOUT_S", "12")
    monkeypatch.setenv("QDRANT_PREFER_GRPC", "true")
    monkeypatch.setenv("QDRANT_SHARD_NUMBER", "6")
    monkeypatch.setenv("QDRANT_REPLICATION_FACTOR", "2")
    resource = qdrant_resource()
    assert key not in repr(resource)  # an EnvVar: the definitions hold the name, not the value
    with dg.build_resources({"qdrant": resource}) as built:
        store = built.qdrant.store(MovrecHome.resolve("/nonexistent"))
    remote = store.client._client
    assert (remote._host, remote._port, remote._api_key) == ("127.0.0.1", 6333, key)
    assert remote._timeout == 12 and remote._prefer_grpc is True
    assert store.cluster == {"shard_number": 6, "replication_factor": 2}
