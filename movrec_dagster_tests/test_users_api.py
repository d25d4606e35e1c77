"""Users through the HTTP API on the real indexed library: events in, personalised recommendations in
the same request (`apply=now`), each strategy with its evidence, similar users, a complete DELETE."""

from __future__ import annotations

import subprocess
import time

import pytest
from fastapi.testclient import TestClient

from movrec_dagster.api import create_app
from movrec_dagster.core.vectorstore import EdgeStore


@pytest.fixture(scope="module")
def client(indexed) -> TestClient:  # noqa: ANN001
    home, _, _ = indexed
    return TestClient(create_app(home, EdgeStore(home.qdrant)))


def _events(user: str, *movies: str, event: str = "like") -> dict:
    now = time.time()
    return {
        "events": [{"user_id": user, "movie_id": m, "event": event, "timestamp": now - i} for i, m in enumerate(movies)]
    }


def test_a_new_user_gets_personalised_recommendations_in_the_same_request(client: TestClient) -> None:
    cold = client.get("/users/ana/recommendations", params={"top_k": 3}).json()
    assert cold and {r["strategy"] for r in cold} == {"popular"}  # no events yet: cold start
    answer = client.post("/events", params={"apply": "now"}, json=_events("ana", "the-martian", "nowhere-movie"))
    assert answer.status_code == 202
    assert answer.json() == {
        "stored": 2,
        "dropped_forgotten": 0,
        "unknown_movies": ["nowhere-movie"],
        "applied": ["ana"],
    }
    recs = client.get("/users/ana/recommendations", params={"top_k": 4}).json()
    assert recs and "the-martian" not in [r["movie_id"] for r in recs]
    assert {r["strategy"] for r in recs} <= {"recent", "profile", "similar_users"}
    assert recs[0]["strategy"] == "recent" and recs[0]["evidence"] == {"liked": "the-martian"}
    assert recs[0]["movie_id"] == "apollo-13"  # the closest to The Martian (see test_pipeline)
    # its evidence: the line of its trailer sharing The Martian's words, and when it is said
    assert "astronauts" in recs[0]["matched_sentence"] and recs[0]["start"] is not None
    details = client.get("/users/ana").json()
    assert details["events"] == 2 and details["segment"] == "en" and details["by_event"] == {"like": 2}


def test_similar_users_and_their_strategy(client: TestClient) -> None:
    client.post("/events", params={"apply": "now"}, json=_events("bo", "the-martian", "coco", "amelie"))
    client.post("/events", params={"apply": "now"}, json=_events("cy", "the-martian", "apollo-13"))
    near = client.get("/users/cy/similar").json()
    assert near and near[0]["user_id"] in ("ana", "bo") and "cy" not in [u["user_id"] for u in near]
    recs = client.get("/users/cy/recommendations", params={"strategy": "similar_users"}).json()
    assert recs and all(r["strategy"] == "similar_users" and r["evidence"]["users"] for r in recs)
    assert not {"the-martian", "apollo-13"} & {r["movie_id"] for r in recs}
    assert client.get("/users/cy/recommendations", params={"strategy": "nonsense"}).status_code == 422


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (
            {"events": [{"user_id": "x", "movie_id": "coco", "event": "rating", "value": 11, "timestamp": 1}]},
            "events[0].value",
        ),
        (
            {"events": [{"user_id": "x", "movie_id": "coco", "event": "like", "timestamp": 4102444800}]},
            "events[0].timestamp",
        ),
        ({"events": []}, "events"),
    ],
)
def test_bad_events_are_422_naming_the_field_and_nothing_is_stored(client: TestClient, body: dict, where: str) -> None:
    answer = client.post("/events", json=body)
    assert answer.status_code == 422 and where in answer.text
    assert client.get("/users/x").status_code == 404


def test_too_many_or_too_large_is_refused(client: TestClient) -> None:
    many = {"events": [{"user_id": "x", "movie_id": "coco", "event": "like", "timestamp": 1}] * 1001}
    assert client.post("/events", json=many).status_code == 422
    huge = '{"events": [' + ",".join(['{"user_id": "x"}'] * 200_000) + "]}"
    answer = client.post("/events", content=huge, headers={"content-type": "application/json"})
    assert answer.status_code == 413


def test_delete_leaves_no_trace(client: TestClient, indexed) -> None:  # noqa: ANN001
    home, _, _ = indexed
    client.post("/events", params={"apply": "now"}, json=_events("qq-forget-me-7", "coco", "amelie"))
    assert client.get("/users/qq-forget-me-7").status_code == 200
    assert client.delete("/users/qq-forget-me-7").status_code == 204
    assert client.get("/users/qq-forget-me-7").status_code == 404
    trace = subprocess.run(["grep", "-rl", "qq-forget-me-7", str(home.root)], capture_output=True, text=True)
    assert trace.stdout == ""
    again = client.post("/events", json=_events("qq-forget-me-7", "coco")).json()
    assert again["stored"] == 0 and again["dropped_forgotten"] == 1
    assert client.get("/users/bo/similar").status_code == 200  # the others are still served


def test_the_cli_takes_event_files_and_recommends_for_a_user(indexed, tmp_path) -> None:  # noqa: ANN001
    import json

    from click.testing import CliRunner

    from movrec_dagster.cli import main

    home, _, _ = indexed
    now = time.time()
    lines = [{"user_id": "dee", "movie_id": m, "event": "like", "timestamp": now - i} for i, m in enumerate(["coco"])]
    (tmp_path / "events.jsonl").write_text("\n".join(json.dumps(line) for line in lines))
    runner = CliRunner()
    base = ["--home", str(home.root)]
    out = runner.invoke(main, [*base, "ingest", "--events", str(tmp_path / "events.jsonl")])
    assert out.exit_code == 0, out.output
    assert "events events.jsonl: 1 stored" in out.output
    recs = json.loads(runner.invoke(main, [*base, "recommend", "--user", "dee", "--json", "-k", "3"]).output)
    assert recs and "coco" not in [r["movie_id"] for r in recs]
    # the fixture's library has ratings, so a taste model is trained and serves the default blend
    assert recs[0]["strategy"] == "blend" and recs[0]["evidence"]["signal"]
    shown = json.loads(runner.invoke(main, [*base, "user", "dee", "--json"]).output)
    assert shown["liked"] == ["coco"] and shown["segment"] == "es"
    (tmp_path / "bad.jsonl").write_text('{"user_id": "dee", "movie_id": "coco", "event": "rating", "value": 9}\n')
    bad = runner.invoke(main, [*base, "ingest", "--events", str(tmp_path / "bad.jsonl")])
    assert bad.exit_code != 0 and "events[0].value" in bad.output and "nothing stored" in bad.output
    gone = runner.invoke(main, [*base, "forget-user", "dee"])
    assert gone.exit_code == 0 and "1 event(s) removed" in gone.output
