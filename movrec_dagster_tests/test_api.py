"""HTTP API contract on the indexed demo library: results, limits (422), 404s, the API key."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from movrec_dagster.api import create_app
from movrec_dagster.core.home import read_table


@pytest.fixture(scope="module")
def client(indexed) -> TestClient:  # noqa: ANN001
    home, _, _ = indexed
    return TestClient(create_app(home))


def test_health_and_openapi(client: TestClient) -> None:
    assert client.get("/health").json()["serving"].startswith("movies__")
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/search", "/movies/{movie_id}/similar", "/recommend", "/movies/{movie_id}", "/health"} <= set(paths)


def test_search_finds_the_martian(client: TestClient) -> None:
    hits = client.get("/search", params={"q": "NASA tries to rescue an astronaut stranded on Mars"}).json()
    assert hits[0]["movie_id"] == "the-martian" and hits[0]["matched_text"]
    # the evidence down to the sentence holding the query's words ("NASA", "rescue", "Mars")
    assert hits[0]["matched_sentence"] and hits[0]["matched_sentence"] in hits[0]["matched_text"]
    assert "NASA" in hits[0]["matched_sentence"] or "Mars" in hits[0]["matched_sentence"]
    relevance = [h["relevance"] for h in hits]  # the fusion score on 0-1, best first
    assert 0 < relevance[-1] <= relevance[0] <= 1 and relevance[0] > 0.5
    spanish = client.get("/search", params={"q": "space", "language": "es", "top_k": 2}).json()
    assert spanish and {h["language"] for h in spanish} == {"es"}


def test_a_transcript_hit_quotes_its_line_and_when_it_is_said(client: TestClient, indexed) -> None:  # noqa: ANN001
    """The trailer's chunk holds three lines; the hit quotes the one with the query's words and its
    time, as the transcript has them."""
    home = indexed[0]
    hits = client.get("/search", params={"q": "astronauts trapped in a crippled capsule"}).json()
    hit = next(h for h in hits if h["movie_id"] == "apollo-13")
    assert hit["matched_kind"] == "transcript" and "crippled" in hit["matched_sentence"]
    transcripts = read_table(home.table("transcripts", "en"))
    assert transcripts is not None
    said = [
        s for row in transcripts.iter_rows(named=True) if row["video_id"] == hit["video_id"] for s in row["segments"]
    ]
    line = next(s for s in said if "crippled" in s["text"])
    assert hit["start"] == line["start"] > said[0]["start"] and hit["matched_sentence"] == line["text"].strip()


@pytest.mark.parametrize(
    "params",
    [
        {"q": ""},
        {"q": "x" * 501},
        {"q": "mars", "top_k": 0},
        {"q": "mars", "top_k": 51},
        {"q": "mars", "year_min": 99999},
        {},
    ],
)
def test_search_limits_are_422(client: TestClient, params: dict) -> None:
    assert client.get("/search", params=params).status_code == 422


def test_similar_movie_and_details(client: TestClient) -> None:
    similar = client.get("/movies/the-martian/similar", params={"top_k": 3}).json()
    assert similar and "the-martian" not in [h["movie_id"] for h in similar]
    details = client.get("/movies/the-martian").json()
    assert details["title"] == "The Martian" and details["overview"] and details["transcript"][0]["text"]
    assert client.get("/movies/no-such-movie").status_code == 404
    assert client.get("/movies/no-such-movie/similar").status_code == 404
    assert client.get("/movies/bad id!").status_code in {404, 422}
    by_title = client.get("/movies/The Martian/similar", params={"top_k": 3}).json()  # a title works too
    assert [h["movie_id"] for h in by_title] == [h["movie_id"] for h in similar]


def test_every_video_has_a_picture(client: TestClient) -> None:
    hit = client.get("/search", params={"q": "NASA tries to rescue an astronaut stranded on Mars"}).json()[0]
    assert hit["thumbnail"] == f"/videos/{hit['picture_video']}/thumbnail"
    picture = client.get(hit["thumbnail"])
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/jpeg"
    assert picture.content[:3] == b"\xff\xd8\xff"  # a JPEG
    video = client.get("/movies/the-martian").json()["videos"][0]
    assert video["thumbnail"] == f"/videos/{video['video_id']}/thumbnail"
    assert client.get("/videos/no-such-video/thumbnail").status_code == 404


def test_recommend(client: TestClient) -> None:
    body = {"liked": ["the-martian"], "disliked": ["coco"], "top_k": 3}
    recs = client.post("/recommend", json=body).json()["results"]
    ids = [r["movie_id"] for r in recs]
    assert ids[0] == "apollo-13" and "coco" not in ids and recs[0]["because_of"] == "the-martian"
    assert recs[0]["because_of_title"] == "The Martian"  # for people; the id for clients
    assert client.post("/recommend", json={"liked": []}).status_code == 422
    assert client.post("/recommend", json={"liked": ["x"], "mmr_lambda": 2}).status_code == 422
    unknown = client.post("/recommend", json={"liked": ["nope", "the-martian"], "disliked": ["gone"], "top_k": 2})
    assert unknown.status_code == 200 and unknown.json()["ignored"] == ["nope", "gone"]
    assert unknown.json()["results"][0]["movie_id"] == "apollo-13"  # the rest of the history still counts
    assert client.post("/recommend", json={"liked": ["nope"]}).json() == {"results": [], "ignored": ["nope"]}


def test_api_key(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOVREC_API_KEY", "s3cret")
    assert client.get("/search", params={"q": "mars"}).status_code == 401
    assert client.get("/search", params={"q": "mars"}, headers={"X-API-Key": "wrong"}).status_code == 401
    assert client.get("/search", params={"q": "mars"}, headers={"X-API-Key": "s3cret"}).status_code == 200
    assert client.get("/health").status_code == 200  # liveness stays open
