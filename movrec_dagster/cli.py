"""`movrec`: ingest videos, query the index, open the UI. Query commands take --json."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import TypeVar

import click

from movrec_dagster.core.adaptation import AdaptSettings
from movrec_dagster.core.home import MovrecHome

T = TypeVar("T")
MARTIAN_QUERY = "NASA tries to rescue an astronaut stranded on Mars"


def _home(ctx: click.Context) -> MovrecHome:
    return MovrecHome.resolve(ctx.obj["home"]).ensure()


def _store(home: MovrecHome):  # noqa: ANN202 - VectorStore
    from movrec_dagster.core.vectorstore import StoreSettings, open_store

    try:
        return open_store(home.qdrant, StoreSettings.from_env())
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


def _with_progress(run: Callable[[], T]) -> T:
    """`run` with a progress bar on the terminal for its long steps (see core/progress.py)."""
    from movrec_dagster.core.progress import Bar, watching

    bar = Bar()
    try:
        with watching(bar):
            return run()
    finally:
        bar.done()


def _embedder_for(store):  # noqa: ANN001, ANN202
    """The embedder the serving collection was built with, so queries and documents share a model."""
    from movrec_dagster.core.embedding import Embedder, EmbedderSettings

    if store.serving_version() is None:
        raise click.ClickException("nothing is indexed yet: run `movrec ingest DIR` or `movrec demo` first")
    info = store.serving_info()
    return Embedder(EmbedderSettings.from_fingerprint(info.model, info.second))


def _filters(language: tuple[str, ...], genre: tuple[str, ...], year_min: int | None, year_max: int | None):  # noqa: ANN202
    from movrec_dagster.core.vectorstore import PayloadFilter

    return PayloadFilter(languages=language, genres=genre, year_min=year_min, year_max=year_max)


def _print_hits(results: list, as_json: bool, explain: bool = False) -> None:  # noqa: ANN001
    """Search/similar hits or recommendations; `explain` adds each one's evidence in words."""
    from movrec_dagster.core.sentences import excerpt

    if as_json:
        rows = [r.to_dict() | ({"explanation": r.explanation()} if explain else {}) for r in results]
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not results:
        click.echo("no results")
    for rank, result in enumerate(results, 1):
        h = getattr(result, "hit", result)
        year = f" ({h.year})" if h.year else ""
        readable = f"relevance={h.relevance:.2f}  " if getattr(h, "relevance", None) is not None else ""
        click.echo(f"{rank:>2}. {h.title}{year}  [{h.language}]  {readable}score={h.score:.3f}  id={h.movie_id}")
        if explain:
            click.echo(f"      why: {result.explanation()}")
        elif h.matched_text:
            at = f" @{h.start:.0f}s" if h.start is not None else ""
            label = "about" if h.matched_kind == "profile" else f"{h.matched_kind}{at}"
            click.echo(f"      {label}: {h.matched_sentence or excerpt(h.matched_text, 140)}")  # whole words


def _report(result) -> None:  # noqa: ANN001
    for run, ok in result.runs.items():
        click.echo(f"  {'ok    ' if ok else 'FAILED'} {run}")
    for name, cause in sorted(result.failures.items()):
        click.echo(f"  skipped {name}: {cause}", err=True)


filter_options = [
    click.option("--language", "-l", multiple=True, help="Only these languages (repeatable)."),
    click.option("--genre", "-g", multiple=True, help="Any of these genres (repeatable)."),
    click.option("--year-min", type=int),
    click.option("--year-max", type=int),
    click.option("--top-k", "-k", type=click.IntRange(1, 100), default=5, show_default=True),
    click.option("--json", "as_json", is_flag=True, help="Machine-readable output."),
    click.option("--explain", is_flag=True, help="Say why each result is there (the evidence that matched)."),
]


def with_filters(fn):  # noqa: ANN001, ANN201
    for option in reversed(filter_options):
        fn = option(fn)
    return fn


@click.group()
@click.option("--home", envvar="MOVREC_HOME", help="Library folder (default ~/.movrec).")
@click.pass_context
def main(ctx: click.Context, home: str | None) -> None:
    """movrec: a movie recommender built from your videos, orchestrated by Dagster."""
    if home:  # models adapted to this home's catalogue are found through it (core/models.adapted_models)
        os.environ["MOVREC_HOME"] = str(Path(home).expanduser())
    ctx.obj = {"home": home}


@main.command()
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path), required=False)
@click.option(
    "--catalogue",
    "catalogues",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A CSV/Parquet file of movies (TMDB top-10k shape) to add to the catalogue; repeatable.",
)
@click.option(
    "--ratings",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A folder of ratings (MovieLens shape: ratings.csv + links.csv) for the collaborative signal.",
)
@click.option(
    "--events",
    "event_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Watch events (CSV, JSONL or Parquet: user_id, movie_id, event, value, timestamp, language); repeatable.",
)
@click.pass_context
def ingest(
    ctx: click.Context,
    source: Path | None,
    catalogues: tuple[Path, ...],
    ratings: Path | None,
    event_files: tuple[Path, ...],
) -> None:
    """Copy videos (and <stem>.json sidecars) from SOURCE, and catalogue files, into the library; index them."""
    from movrec_dagster.runner import (
        add_catalogue,
        add_ratings,
        copy_uploads,
        dagster_instance,
        ratings_as_events,
        run_pipeline,
    )

    home = _home(ctx)
    if ratings is not None:
        copied = add_ratings(ratings, home)
        click.echo(f"copied {len(copied)} ratings file(s) into {home.ratings}")
        if copied:
            click.echo(f"stored {ratings_as_events(home, copied)} ratings as watch events (users ml-<userId>)")
    if source is not None:
        copied, skipped = copy_uploads(source, home.uploads)
        click.echo(f"copied {len(copied)} new or changed file(s) into {home.uploads}")
        for cause in skipped:
            click.echo(f"skipped {cause}", err=True)
    for path in catalogues:
        target = add_catalogue(path, home)
        click.echo(f"catalogue {path.name}: " + (f"copied to {target}" if target else "unchanged"))
    result = _with_progress(lambda: run_pipeline(home, dagster_instance(home)))
    _report(result)
    for path in event_files:
        _ingest_events(home, path)
    if not all(result.runs.values()):
        sys.exit(1)


def _ingest_events(home: MovrecHome, path: Path) -> None:
    """Validate a file of events, store it as one batch, and update its users' vectors."""
    from movrec_dagster.core.users.events import EventError, read_event_file, store_events, validate
    from movrec_dagster.core.users.service import drop_forgotten, refresh_user

    try:
        events, dropped = drop_forgotten(home, validate(read_event_file(path)))
    except EventError as exc:
        raise click.ClickException(f"{path}: nothing stored: {exc}") from exc
    store_events(home, events)
    store, users = _store(home), _users(home)
    model = _embedder_for(store).settings.fingerprint
    for user in sorted({e.user_id for e in events}):
        refresh_user(home, store, users, user, model)
    click.echo(f"events {path.name}: {len(events)} stored, {dropped} of forgotten users dropped")


def _users(home: MovrecHome):  # noqa: ANN202 - VectorStore
    from dataclasses import replace

    from movrec_dagster.core.users.service import USERS_ALIAS
    from movrec_dagster.core.vectorstore import StoreSettings, open_store

    return open_store(home.qdrant, replace(StoreSettings.from_env(), alias=USERS_ALIAS))


@main.command()
@click.argument("user_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def user(ctx: click.Context, user_id: str, as_json: bool) -> None:
    """A user: segment, what they liked and watched, their last events."""
    from movrec_dagster.core.users.events import read_events
    from movrec_dagster.core.users.service import profile_user

    home = _home(ctx)
    events = read_events(home, user_id)
    if events.is_empty():
        raise click.ClickException(f"no events for user '{user_id}'")
    taste = profile_user(home, _store(home), user_id)
    info = {
        "user_id": user_id,
        "segment": taste.segment,
        "events": len(events),
        "liked": taste.liked,
        "disliked": taste.disliked,
        "last_events": events.sort("timestamp", descending=True).head(10).drop("user_id").to_dicts(),
    }
    click.echo(json.dumps(info, ensure_ascii=False, indent=2 if as_json else None))


@main.command("forget-user")
@click.argument("user_id")
@click.pass_context
def forget_user_cmd(ctx: click.Context, user_id: str) -> None:
    """Remove a user's events, vector and profile; their later events are dropped."""
    from movrec_dagster.core.users.service import forget_user

    home = _home(ctx)
    removed = forget_user(home, _users(home), user_id)
    click.echo(f"forgot {user_id}: {removed} event(s) removed")


@main.command()
@click.argument("text")
@with_filters
@click.pass_context
def search(
    ctx: click.Context,
    text: str,
    language: tuple[str, ...],
    genre: tuple[str, ...],
    year_min: int | None,
    year_max: int | None,
    top_k: int,
    as_json: bool,
    explain: bool,
) -> None:
    """Free-text semantic search, one hit per movie."""
    from movrec_dagster.core.search import search as run_search

    store = _store(_home(ctx))
    hits = run_search(store, _embedder_for(store), text, top_k, _filters(language, genre, year_min, year_max))
    _print_hits(hits, as_json, explain)


@main.command()
@click.argument("movie_id")
@with_filters
@click.pass_context
def similar(
    ctx: click.Context,
    movie_id: str,
    language: tuple[str, ...],
    genre: tuple[str, ...],
    year_min: int | None,
    year_max: int | None,
    top_k: int,
    as_json: bool,
    explain: bool,
) -> None:
    """Movies similar to MOVIE_ID: an id, a title, or a title with typos (the movie itself excluded)."""
    from movrec_dagster.core.recsys.artifact import served
    from movrec_dagster.core.recsys.serving import similar_movies
    from movrec_dagster.core.search import MovieNotFound, find_movie

    home = _home(ctx)
    store = _store(home)
    try:
        flt = _filters(language, genre, year_min, year_max)
        hits = similar_movies(served(home), store, find_movie(store, movie_id), top_k, flt)
    except MovieNotFound as exc:
        raise click.ClickException(str(exc)) from exc
    _print_hits(hits, as_json, explain)


@main.command()
@click.argument("movie_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def show(ctx: click.Context, movie_id: str, as_json: bool) -> None:
    """One movie by id or alias: its videos (kind, duration, language, file) with their transcripts."""
    from movrec_dagster.core.details import movie_details
    from movrec_dagster.core.search import MovieNotFound

    home = _home(ctx)
    try:
        info = movie_details(_store(home), home, movie_id)
    except MovieNotFound as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(info, ensure_ascii=False, indent=2))
        return
    year = f" ({info['year']})" if info["year"] else ""
    click.echo(f"{info['title']}{year}  [{info['language']}]  id={info['movie_id']}")
    if info["requested_id"] != info["movie_id"]:
        click.echo(f"  (asked for {info['requested_id']}, an alias of {info['movie_id']})")
    if info["aliases"]:
        click.echo(f"  also known as: {', '.join(info['aliases'])}")
    if info["overview"]:
        click.echo(f"  overview: {info['overview'][:300]}")
    click.echo(f"  videos: {len(info['videos'])}")
    for video in info["videos"]:
        length = f"{video['duration_s']:.0f} s" if video["duration_s"] else "?"
        click.echo(f"  - {video['video_id']}  {video['kind']}, {length}, {video['language']}, {video['file_name']}")
        for seg in video["segments"]:
            click.echo(f"      [{seg['start']:6.1f}-{seg['end']:6.1f}] {seg['text'].strip()}")


@main.command("recommend")
@click.option("--liked", default="", help="Comma-separated movie ids the person liked.")
@click.option("--user", "user_id", help="A known user (from their events) instead of --liked.")
@click.option(
    "--strategy",
    type=click.Choice(["blend", "profile", "recent", "similar_users"]),
    default="blend",
    show_default=True,
    help="With --user: which strategy.",
)
@click.option("--disliked", default="", help="Comma-separated movie ids the person disliked.")
@click.option("--sentiment-weight", type=click.FloatRange(0, 1), default=0.0, show_default=True)
@click.option("--mmr-lambda", type=click.FloatRange(0, 1), default=1.0, show_default=True, help="1 = no diversity")
@click.option(
    "--collaborative-weight",
    type=click.FloatRange(0, 1),
    default=0.5,
    show_default=True,
    help="Blend of item-kNN from ratings (when ingested with --ratings); 0 = content only.",
)
@with_filters
@click.pass_context
def recommend_cmd(
    ctx: click.Context,
    liked: str,
    user_id: str | None,
    strategy: str,
    disliked: str,
    sentiment_weight: float,
    mmr_lambda: float,
    collaborative_weight: float,
    language: tuple[str, ...],
    genre: tuple[str, ...],
    year_min: int | None,
    year_max: int | None,
    top_k: int,
    as_json: bool,
    explain: bool,
) -> None:
    """Recommendations from a watch history (watched movies are never recommended)."""
    from movrec_dagster.core.collaborative import load_neighbours
    from movrec_dagster.core.recommend import recommend
    from movrec_dagster.core.recsys.artifact import served
    from movrec_dagster.core.search import MovieNotFound

    split = lambda text: [m.strip() for m in text.split(",") if m.strip()]  # noqa: E731
    home = _home(ctx)
    if user_id:
        _recommend_for_user(home, user_id, strategy, top_k, _filters(language, genre, year_min, year_max), as_json)
        return
    if not split(liked):
        raise click.ClickException("give --liked or --user")
    try:
        recs = recommend(
            _store(home),
            split(liked),
            split(disliked),
            top_k,
            _filters(language, genre, year_min, year_max),
            sentiment_weight,
            mmr_lambda,
            neighbours=load_neighbours(home.table("item_neighbours")) if collaborative_weight else None,
            collaborative_weight=collaborative_weight,
            model=served(home),
        )
    except (MovieNotFound, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    _print_hits(recs, as_json, explain)
    if not (as_json or explain):
        for rank, r in enumerate(recs, 1):
            click.echo(f"  {rank}. {r.hit.movie_id}: because you liked {r.liked}")


def _recommend_for_user(home: MovrecHome, user_id: str, strategy: str, top_k: int, flt, as_json: bool) -> None:  # noqa: ANN001
    from movrec_dagster.core.recsys.artifact import served
    from movrec_dagster.core.users.service import current_taste, similar_users
    from movrec_dagster.core.users.strategies import recommend_for_user

    store = _store(home)
    taste = current_taste(home, store, _users(home), user_id)
    neighbours = [(u, liked) for u, _, liked in similar_users(home, _users(home), taste, 10)]
    recs = recommend_for_user(store, neighbours, taste, top_k, flt, strategy, served(home))
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in recs], ensure_ascii=False, indent=2))
        return
    for rank, r in enumerate(recs, 1):
        year = f" ({r.hit.year})" if r.hit.year else ""
        click.echo(f"{rank:>2}. {r.hit.title}{year}  id={r.hit.movie_id}  [{r.strategy}: {json.dumps(r.evidence)}]")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int) -> None:
    """HTTP API (FastAPI, OpenAPI docs at /docs); set MOVREC_API_KEY to require X-API-Key."""
    import uvicorn

    from movrec_dagster.api import create_app

    uvicorn.run(create_app(_home(ctx)), host=host, port=port)


@main.command()
@click.pass_context
def demo(ctx: click.Context) -> None:
    """Index the bundled demo library (8 short trailers, 4 languages, 302 catalogue movies) and run a search."""
    from movrec_dagster.runner import add_catalogue, dagster_instance, run_pipeline

    home = _home(ctx)
    started = time.perf_counter()
    library = resources.files("movrec_dagster.demo").joinpath("library")
    with resources.as_file(library) as folder:
        for item in sorted(Path(folder).iterdir()):
            if not (home.uploads / item.name).exists():
                shutil.copy2(item, home.uploads / item.name)
    with resources.as_file(resources.files("movrec_dagster.demo").joinpath("catalogue.csv")) as path:
        add_catalogue(path, home)
    click.echo(f"demo library in {home.uploads}; running the asset graph (Dagster instance: {home.dagster_home})")
    result = _with_progress(lambda: run_pipeline(home, dagster_instance(home)))
    _report(result)
    if not all(result.runs.values()):
        sys.exit(1)
    click.echo(f'\nindexed in {time.perf_counter() - started:.0f}s. movrec search "{MARTIAN_QUERY}":')
    no_filters = {"language": (), "genre": (), "year_min": None, "year_max": None, "top_k": 3, "as_json": False}
    ctx.invoke(search, text=MARTIAN_QUERY, explain=False, **no_filters)
    click.echo("\nmovrec similar the-martian:")
    ctx.invoke(similar, movie_id="the-martian", explain=False, **no_filters)
    click.echo("\nmovrec recommend --liked the-martian,coco --mmr-lambda 0.7:")
    ctx.invoke(
        recommend_cmd,
        liked="the-martian,coco",
        disliked="",
        sentiment_weight=0.0,
        mmr_lambda=0.7,
        collaborative_weight=0.5,
        explain=True,
        **no_filters,
    )


@main.command()
@click.option("--port", default=3000, show_default=True)
@click.pass_context
def ui(ctx: click.Context, port: int) -> None:
    """Open the Dagster UI (webserver + daemon) on this library's instance."""
    from movrec_dagster.runner import dagster_instance

    home = _home(ctx)
    dagster_instance(home)
    os.environ["MOVREC_HOME"] = str(home.root)
    dagster = str(Path(sys.executable).parent / "dagster")  # this environment's, activated or not
    os.execv(dagster, [dagster, "dev", "-m", "movrec_dagster.definitions", "-h", "127.0.0.1", "-p", str(port)])


@main.command()
@click.option("--data", type=click.Path(exists=True, file_okay=False), help="Folder with ml-latest-small/ and joined/.")
@click.option("--max-movies", type=click.IntRange(0), default=0, show_default=True, help="Most-rated N (0 = all).")
@click.option("--max-users", type=click.IntRange(0), default=0, show_default=True, help="First N users (0 = all).")
@click.option("--max-queries", type=click.IntRange(0), default=0, show_default=True, help="First N (0 = all).")
@click.pass_context
def evaluate(ctx: click.Context, data: str | None, max_movies: int, max_users: int, max_queries: int) -> None:
    """Search and recommendation quality on MovieLens + TMDB overviews, through the `evaluate` job."""
    from movrec_dagster.runner import dagster_instance
    from movrec_dagster.runner import evaluate as run_evaluation

    home = _home(ctx)
    config = {
        "data": data,
        "max_movies": max_movies,
        "max_users": max_users,
        "max_queries": max_queries,
    }
    started = time.perf_counter()
    ok, report = run_evaluation(home, dagster_instance(home), config)
    click.echo(report)
    click.echo(f"evaluation {'finished' if ok else 'FAILED'} in {time.perf_counter() - started:.0f}s")
    if not ok:
        sys.exit(1)


@main.command()
@click.pass_context
def rebuild(ctx: click.Context) -> None:
    """Blue/green: build a new collection version beside the live one, verify it, swap atomically."""
    from movrec_dagster.runner import dagster_instance
    from movrec_dagster.runner import rebuild as run_rebuild

    home = _home(ctx)
    ok, checks = run_rebuild(home, dagster_instance(home))
    for name, outcome in checks.items():
        click.echo(f"  check {name}: {outcome}")
    click.echo(f"serving: {_store(home).serving_version()}")
    if not ok:
        raise click.ClickException("rebuild did not pass its checks; the previous collection keeps serving")


def _at_least_one(flag: str, default: int, text: str) -> Callable[[T], T]:
    return click.option(flag, type=click.IntRange(1), default=default, show_default=True, help=text)


@main.command()
@_at_least_one("--steps", AdaptSettings.steps, "At most this many steps of 32 pairs.")
@_at_least_one(
    "--passes",
    AdaptSettings.passes,
    "Passes over the overviews, each asking another of their sentences (--steps still caps them).",
)
@click.option(
    "--seed",
    type=int,
    default=AdaptSettings.seed,
    show_default=True,
    help="Which sentence of each overview, in which order.",
)
@click.option(
    "--model",
    "models",
    multiple=True,
    help="A model to adapt (repeatable); default: the configured ones measured to gain "
    "(multilingual-e5-small, all-MiniLM-L6-v2).",
)
@click.pass_context
def adapt(ctx: click.Context, steps: int, passes: int, seed: int, models: tuple[str, ...]) -> None:
    """Adapt the embedding models to this catalogue: each trained on its overviews' own sentences
    (core/adaptation.py, the `adapt_models` job), then named in MOVREC_MODEL / MOVREC_SECOND_MODEL
    and put to use by a rebuild."""
    from movrec_dagster.core.adaptation import bases_to_adapt
    from movrec_dagster.core.embedding import EmbedderSettings
    from movrec_dagster.core.home import read_table
    from movrec_dagster.runner import adapt as run_adapt
    from movrec_dagster.runner import dagster_instance

    home = _home(ctx)
    movies = read_table(home.table("movies"))
    if movies is None or movies.is_empty():
        raise click.ClickException("no movies yet: run `movrec ingest --catalogue FILE` (or `movrec demo`) first")
    settings = EmbedderSettings()  # what MOVREC_MODEL and MOVREC_SECOND_MODEL configure
    try:
        bases = bases_to_adapt(list(models), [settings.model, *settings.second_models])
    except ValueError as exc:
        raise click.ClickException(f"{exc} (--model)") from exc
    click.echo(f"adapting {', '.join(bases)} to {movies.height} movies' overviews (minutes on a CPU)...")
    config = {"models": list(models), "steps": steps, "passes": passes, "seed": seed}
    ok, done = run_adapt(home, dagster_instance(home), config)
    if not ok:
        raise click.ClickException(f"adaptation failed: {done['error']}")
    for model in done["trained"]:
        trained = f"{model['pairs']} pairs, {model['steps']} steps, {model['seconds']:.0f} s, loss {model['loss']:.3f}"
        click.echo(f"{model['model']}: {trained}" + (" (trained before: reused)" if model["reused"] else ""))
        click.echo(f"  in {model['path']}")
    click.echo("to search with them, set (for every movrec process: CLI, Dagster, API) and rebuild:")
    click.echo(f"  export MOVREC_MODEL={done['MOVREC_MODEL']}")
    click.echo(f"  export MOVREC_SECOND_MODEL={done['MOVREC_SECOND_MODEL']}")
    click.echo("  movrec rebuild")


@main.command()
@click.pass_context
def rollback(ctx: click.Context) -> None:
    """Serve the previous collection version again (the current one becomes `previous`)."""
    from movrec_dagster.core.bluegreen import rollback as run_rollback

    try:
        click.echo(f"serving: {run_rollback(_store(_home(ctx)))}")
    except LookupError as exc:
        raise click.ClickException(str(exc)) from exc


@main.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """What is indexed (per language), which collection version serves, which files failed and why,
    partitions left to finish, and disk use."""
    from movrec_dagster.core.doctor import library_state
    from movrec_dagster.runner import collect_failures

    home = _home(ctx)
    info = library_state(home, _store(home), collect_failures(home))
    click.echo(json.dumps(info, indent=2, default=str) if as_json else "\n".join(f"{k}: {v}" for k, v in info.items()))


@main.command()
@click.pass_context
def doctor(ctx: click.Context) -> None:
    """Health checks (ffmpeg, models, uploads, the serving collection, unfinished partitions, failed
    files, disk); exits 1 when one fails, each failure saying what to do."""
    from movrec_dagster.core.doctor import diagnose
    from movrec_dagster.core.models import embedder_model_path, whisper_model_path
    from movrec_dagster.defs.settings import EMBEDDER, WHISPER
    from movrec_dagster.runner import collect_failures

    def located(resolve: Callable[[str], str], name: str) -> str:
        try:
            return resolve(name)
        except FileNotFoundError as missing:  # a package not installed: a finding, not a traceback
            return str(missing)

    home = _home(ctx)
    models = {
        f"whisper {WHISPER.model}": located(whisper_model_path, WHISPER.model),
        f"embedder {EMBEDDER.settings().model}": located(embedder_model_path, EMBEDDER.settings().model),
    }
    for second in EMBEDDER.settings().second_models:
        models[f"second embedder {second}"] = located(embedder_model_path, second)
    findings = diagnose(home, _store(home), EMBEDDER.settings().fingerprint, models, collect_failures(home))
    for finding in findings:
        click.echo(f"{'ok  ' if finding.ok else 'FAIL'}  {finding.check}: {finding.detail}")
    if not all(f.ok for f in findings):
        sys.exit(1)


if __name__ == "__main__":
    main()
