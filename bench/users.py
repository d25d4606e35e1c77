"""Users at scale and how fresh their recommendations are, on these 2 cores.

Synthetic, MovieLens-like watch events over the TMDB top-10k catalogue: movie popularity is Zipf
(s = 1.1), user activity log-normal, events 60 % ratings, 20 % finish, 10 % like, 10 % play.
Measured, each in the same run:
* events/s into the store through `POST /events` over real HTTP (uvicorn, 1,000 events a request)
  and through files (`take_in`: CSV in MOVREC_HOME/events);
* the time to (re)build every user vector (all segments), one segment's whole and incrementally
  (only its users with new events), and peak memory;
* `GET /users/{id}/recommendations` p50/p99 at that many users (blend strategy, 200 users);
* freshness, real time: `POST /events?apply=now` for a new user until their recommendations changed;
* freshness, near real time (unless --no-dagster): a real `dagster dev`, an event batch stored,
  until the users collection holds the new vector (sensor tick + two runs).
Movie vectors come from bench/title_search.py's cache of the 10k catalogue's embeddings (run it
first, or this embeds them: ~9 min).
Usage: python bench/users.py [--events 1000000] [--users 100000] [--http-events 200000] [--smoke]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import polars as pl

from movrec_dagster.core.home import MovrecHome, read_table, write_table
from movrec_dagster.core.indexing import build_points, sync_partition
from movrec_dagster.core.pending import clear_pending
from movrec_dagster.core.recsys.training import train
from movrec_dagster.core.users.batch import user_segments
from movrec_dagster.core.users.events import store_frame
from movrec_dagster.core.users.inbox import mark_changed_segments, take_in
from movrec_dagster.core.users.segments import sync_segment
from movrec_dagster.core.users.service import USERS_ALIAS, canonical_events
from movrec_dagster.core.vectorstore import EdgeStore

CACHE = Path.home() / ".cache" / "movrec" / "bench" / "title_search"
MODEL = "st:multilingual-e5-small:seq256"
KINDS = np.array(["rating"] * 6 + ["finish"] * 2 + ["like", "play"])


def library(home: MovrecHome, smoke: bool) -> list[str]:
    """The catalogue's movies table, embeddings and serving collection in `home`; returns movie ids."""
    from movrec_dagster.core.catalogue import read_catalogue
    from movrec_dagster.core.entities import resolve_movies
    from movrec_dagster.core.tables import VIDEO_SCHEMA

    data = Path(__file__).resolve().parents[2] / "shared" / "data" / "tmdb_top10k" / "top10K-TMDB-movies.csv"
    catalogue, _ = read_catalogue(data)
    catalogue = catalogue.head(60) if smoke else catalogue
    movies = resolve_movies(pl.DataFrame(schema=VIDEO_SCHEMA), {}, catalogue).movies
    write_table(movies, home.table("movies"))
    store = EdgeStore(home.qdrant)
    store.switch(store.create_version("movies__bench__1", 384, MODEL).name)
    embedder = None
    for language in sorted(movies["language"].unique().to_list()):
        members = movies.filter(pl.col("language") == language)
        cached = read_table(CACHE / f"embeddings_{language}.parquet")
        if cached is not None and set(members["movie_id"]) <= set(cached["movie_id"]):
            frame = cached.filter(pl.col("movie_id").is_in(members["movie_id"].implode()))
        else:
            from movrec_dagster.core.embedding import Embedder, EmbedderSettings
            from movrec_dagster.core.stages import embed_partition

            embedder = embedder or Embedder(EmbedderSettings())
            frame, _ = embed_partition(members, None, None, embedder)
        write_table(frame, home.table("embeddings", language))
        sync_partition(store, language, build_points(language, frame, members, None, MODEL))
    return movies.sort("popularity", descending=True, nulls_last=True)["movie_id"].to_list()


def synthetic_events(movies: list[str], events: int, users: int, seed: int = 7) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    activity = rng.lognormal(0.0, 1.0, users)
    user_of = rng.choice(users, size=events, p=activity / activity.sum())
    ranks = np.arange(1, len(movies) + 1, dtype=np.float64) ** -1.1
    movie_of = rng.choice(len(movies), size=events, p=ranks / ranks.sum())
    kinds = KINDS[rng.integers(0, len(KINDS), events)]
    ratings = np.round(rng.uniform(0.5, 5.0, events) * 2) / 2
    stamps = time.time() - rng.uniform(60, 86_400 * 365, events)
    return pl.DataFrame(
        {
            "user_id": [f"u{u}" for u in user_of],
            "movie_id": [movies[m] for m in movie_of],
            "event": kinds,
            "rating": ratings,
            "timestamp": stamps,
        }
    ).select(
        "user_id",
        "movie_id",
        "event",
        pl.when(pl.col("event") == "rating").then(pl.col("rating")).alias("value"),
        "timestamp",
    )


def serve(home: MovrecHome) -> tuple[str, object]:
    import uvicorn

    from movrec_dagster.api import create_app
    from movrec_dagster.devserver import free_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(home), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--http-events", type=int, default=200_000, help="how many of them go through POST /events")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--no-dagster", action="store_true", help="skip the near-real-time (dagster dev) figure")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    if args.smoke:
        args.events, args.users, args.http_events, args.queries = 3_000, 300, 2_000, 20
    import httpx

    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        home = MovrecHome(Path(tmp) / "home").ensure()
        movies = library(home, args.smoke)
        events = synthetic_events(movies, args.events, args.users)
        http_part, file_part = events.head(args.http_events), events.slice(args.http_events)
        url, server = serve(home)
        with httpx.Client(base_url=url, timeout=60) as client:
            started = time.perf_counter()
            for i in range(0, len(http_part), 1000):
                answer = client.post("/events", json={"events": http_part.slice(i, 1000).to_dicts()})
                assert answer.status_code == 202, answer.text
            http_s = time.perf_counter() - started
            rows.append(("POST /events (1,000 a request, real HTTP)", f"{len(http_part) / http_s:,.0f} events/s"))
            inbox = home.root / "events"
            inbox.mkdir(exist_ok=True)
            file_part.write_csv(inbox / "events.csv")
            started = time.perf_counter()
            take_in(home)
            file_s = time.perf_counter() - started
            rows.append(("event file taken in (CSV)", f"{len(file_part) / max(file_s, 1e-9):,.0f} events/s"))
            users = EdgeStore(home.qdrant, alias=USERS_ALIAS)
            canonical, language = canonical_events(
                home, pl.read_parquet(list((home.data / "events").glob("*.parquet")))
            )
            segments = user_segments(canonical, language).group_by("segment").len().sort("len", descending=True)
            started = time.perf_counter()
            for segment in segments["segment"]:
                sync_segment(home, users, segment, MODEL)
            rows.append(
                (
                    f"all user vectors ({args.users:,} users, {len(segments)} segments)",
                    f"{time.perf_counter() - started:.1f} s",
                )
            )
            biggest = segments["segment"][0]
            started = time.perf_counter()
            sync_segment(home, users, biggest, MODEL, full=True)
            rows.append(
                (
                    f"one segment re-embedded whole ({biggest}: {segments['len'][0]:,} users)",
                    f"{time.perf_counter() - started:.1f} s",
                )
            )
            # steady state: every stored batch seen by a take-in, no segment waiting
            mark_changed_segments(home)
            for segment in segments["segment"]:
                clear_pending(home, segment, kind="users")
            changed = [f"u{u}" for u in range(100)]
            store_frame(
                home,
                events.filter(pl.col("user_id").is_in(changed)).with_columns(
                    pl.col("timestamp") + 60, pl.lit(None, pl.String).alias("language")
                ),
            )
            started = time.perf_counter()
            sync_segment(home, users, biggest, MODEL)
            rows.append(
                (
                    f"one segment, incremental ({biggest}: the users among 100 with new events)",
                    f"{time.perf_counter() - started:.1f} s",
                )
            )
            rows.append(("users collection points", f"{users.count():,}"))
            started = time.perf_counter()
            trained = train(home)
            rows.append(
                (
                    f"taste model trained ({trained.interactions:,} interactions, {len(trained.model.items):,} movies)",
                    f"{time.perf_counter() - started:.1f} s",
                )
            )
            sample = [f"u{u}" for u in np.random.default_rng(3).choice(args.users, args.queries, replace=False)]
            for strategy in ("blend", "recent", "profile", "similar_users"):
                timings = []
                for user in sample if strategy == "blend" else sample[:50]:
                    t0 = time.perf_counter()
                    answer = client.get(f"/users/{user}/recommendations", params={"top_k": 10, "strategy": strategy})
                    assert answer.status_code == 200, answer.text
                    timings.append((time.perf_counter() - t0) * 1000)
                what = "the learned taste model" if strategy == "blend" else f"{len(timings)} users"
                rows.append(
                    (
                        f"GET /users/{{id}}/recommendations?strategy={strategy} ({what})",
                        f"p50 {np.percentile(timings, 50):.0f} ms, p99 {np.percentile(timings, 99):.0f} ms",
                    )
                )
            # `profile` follows the user's vector, which is what real time updates (the learned blend
            # may rank a one-movie history like a new user's: on these synthetic events it learns
            # popularity only)
            mode = {"top_k": 5, "strategy": "profile"}
            before = client.get("/users/fresh-user/recommendations", params=mode).json()
            t0 = time.perf_counter()
            event = {"user_id": "fresh-user", "movie_id": movies[-1], "event": "like", "timestamp": time.time()}
            client.post("/events", params={"apply": "now"}, json={"events": [event]})
            after = client.get("/users/fresh-user/recommendations", params=mode).json()
            changed = [r["movie_id"] for r in after] != [r["movie_id"] for r in before]
            rows.append(
                (
                    "real time: event -> changed recommendations",
                    f"{(time.perf_counter() - t0) * 1000:.0f} ms (changed: {changed})",
                )
            )
        server.should_exit = True
        rows.append(("peak memory (this process: API + builds)", f"{peak_mb():,.0f} MB"))
        if not args.no_dagster:
            rows.append(("near real time: event -> vector (dagster dev, sensor)", near_real_time(home, movies)))
    label = f"{args.events:,} events, {args.users:,} users" + (", SMOKE" if args.smoke else "")
    print(f"\n| users benchmark ({label}) | figure |")
    print("|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


def near_real_time(home: MovrecHome, movies: list[str]) -> str:
    from movrec_dagster.core.users.events import store_events, validate
    from movrec_dagster.core.users.service import pseudonym
    from movrec_dagster.core.vectorstore import PayloadFilter
    from movrec_dagster.devserver import DagsterDev

    with DagsterDev(home.root, home.root / "dagster", home.root / "dev.log") as dev:
        dev.wait_until_up()
        users = EdgeStore(home.qdrant, alias=USERS_ALIAS)
        key = pseudonym(home, "nrt-user")
        started = time.perf_counter()
        store_events(
            home, validate([{"user_id": "nrt-user", "movie_id": movies[0], "event": "like", "timestamp": time.time()}])
        )
        while time.perf_counter() - started < 300:
            if users.count(PayloadFilter(user_ids=(key,))):
                return f"{time.perf_counter() - started:.1f} s"
            time.sleep(0.5)
        return "not within 300 s"


if __name__ == "__main__":
    main()
