"""HTTP API (FastAPI): search, similar, recommend and movie details over the serving collection.

Every request reads through the serving alias, so a blue/green swap is invisible to clients. An API
key is required when MOVREC_API_KEY is set (header `X-API-Key`, compared in constant time).
Hardening: request bodies over 64 KB are refused (413); each client address is rate-limited
(slowapi; `MOVREC_API_RATE_LIMIT`, default 100/second); CORS is off unless MOVREC_CORS_ORIGINS
lists origins; an unexpected error answers a bare 500, the traceback goes to the server log only.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
from dataclasses import replace
from functools import lru_cache
from importlib import resources
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Path, Query, Response
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from pydantic import BaseModel, Field, computed_field
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from movrec_dagster.api_models import MovieOut
from movrec_dagster.api_users import users_router
from movrec_dagster.core.collaborative import ItemNeighbours, load_neighbours
from movrec_dagster.core.details import movie_details, video_picture
from movrec_dagster.core.embedding import Embedder, EmbedderSettings
from movrec_dagster.core.home import MovrecHome
from movrec_dagster.core.recommend import recommend_known
from movrec_dagster.core.recsys import serving as taste_serving
from movrec_dagster.core.recsys.artifact import served
from movrec_dagster.core.search import MovieNotFound, find_movie, resolve_ids, search
from movrec_dagster.core.users.service import USERS_ALIAS
from movrec_dagster.core.vectorstore import NoServingCollection, PayloadFilter, StoreSettings, VectorStore, open_store

MAX_QUERY_CHARS = 500
MAX_BODY_BYTES = 64 * 1024
MAX_EVENTS_BODY_BYTES = 1024 * 1024  # POST /events: up to 1,000 events
DEFAULT_RATE_LIMIT = "100/second"
log = logging.getLogger("movrec.api")
# an id, or (for /similar) a title: any printable text without slashes
MovieId = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[^/\x00-\x1f]+$")]
TopK = Annotated[int, Query(ge=1, le=50)]


class Segment(BaseModel):
    start: float
    end: float
    text: str


class VideoOut(BaseModel):
    video_id: str
    kind: str | None = None
    duration_s: float | None = None
    language: str | None = None
    file_name: str | None = None
    has_picture: bool = False
    segments: list[Segment] = []

    @computed_field  # type: ignore[prop-decorator]
    @property
    def thumbnail(self) -> str | None:
        """The URL of the video's representative frame (JPEG), when it has a picture."""
        return f"/videos/{self.video_id}/thumbnail" if self.has_picture else None


class RecommendOut(BaseModel):
    results: list[MovieOut]
    ignored: list[str] = []  # history ids not in the index (not indexed yet, or unknown): skipped


class MovieDetails(BaseModel):
    movie_id: str  # canonical
    requested_id: str  # what was asked for: the canonical id or an alias of it
    aliases: list[str] = []
    title: str
    original_title: str | None = None
    language: str
    year: int | None
    genres: list[str]
    sentiment: float
    catalogue_id: str | None = None
    overview: str | None
    transcript: list[dict[str, Any]]
    videos: list[VideoOut] = []


class Filters(BaseModel):
    language: list[str] = Field(default=[], max_length=20)
    genre: list[str] = Field(default=[], max_length=20)
    year_min: int | None = Field(default=None, ge=1870, le=2100)
    year_max: int | None = Field(default=None, ge=1870, le=2100)
    min_sentiment: float | None = Field(default=None, ge=-1, le=1)

    def payload_filter(self) -> PayloadFilter:
        return PayloadFilter(
            languages=tuple(self.language),
            genres=tuple(self.genre),
            year_min=self.year_min,
            year_max=self.year_max,
            min_sentiment=self.min_sentiment,
        )


class RecommendIn(BaseModel):
    liked: list[Annotated[str, Field(max_length=200)]] = Field(min_length=1, max_length=100)
    disliked: list[Annotated[str, Field(max_length=200)]] = Field(default=[], max_length=100)
    watched: list[Annotated[str, Field(max_length=200)]] = Field(default=[], max_length=2000)
    top_k: int = Field(default=10, ge=1, le=50)
    filters: Filters = Filters()
    sentiment_weight: float = Field(default=0.0, ge=0, le=1)
    mmr_lambda: float = Field(default=1.0, ge=0, le=1)
    collaborative_weight: float = Field(default=0.5, ge=0, le=1)


class BodyLimit:
    """Refuses a request body over its route's limit with 413, announced (Content-Length) or chunked
    (read up to the limit before the route sees it). Plain ASGI, like slowapi's middleware below: an
    `@app.middleware("http")` (BaseHTTPMiddleware) runs each request through an extra task and body
    stream, a cost every search paid twice (GET /health through uvicorn: 1.2 ms p50 now)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = MAX_EVENTS_BODY_BYTES if scope["path"] == "/events" else MAX_BODY_BYTES
        refuse = JSONResponse(status_code=413, content={"detail": f"request body over {limit} bytes"})
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None:
            if not length.isdigit() or int(length) > limit:
                return await refuse(scope, receive, send)
            return await self.app(scope, receive, send)
        if scope["method"] not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return None
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > limit:
                return await refuse(scope, receive, send)
            more = message.get("more_body", False)
        body = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replay() -> Message:
            return body.pop() if body else await receive()

        return await self.app(scope, replay, send)


def harden(app: FastAPI) -> None:
    """Body size and rate limits, opt-in CORS, and errors that reveal nothing about the server."""
    from slowapi import Limiter, _rate_limit_exceeded_handler
    from slowapi.errors import RateLimitExceeded
    from slowapi.middleware import SlowAPIASGIMiddleware
    from slowapi.util import get_remote_address

    app.state.limiter = Limiter(
        key_func=get_remote_address, default_limits=[os.environ.get("MOVREC_API_RATE_LIMIT", DEFAULT_RATE_LIMIT)]
    )
    app.add_exception_handler(RateLimitExceeded, _rate_limit_exceeded_handler)
    app.add_middleware(SlowAPIASGIMiddleware)
    origins = [o.strip() for o in os.environ.get("MOVREC_CORS_ORIGINS", "").split(",") if o.strip()]
    if origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST"], allow_headers=["*"])

    app.add_middleware(BodyLimit)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(status_code=500, content={"detail": "internal error"})


def create_app(home: MovrecHome | None = None, store: VectorStore | None = None) -> FastAPI:
    home = home or MovrecHome.resolve()
    # a long-lived reader: the embedded shard stays open between queries (handed over to writers)
    store = store or open_store(home.qdrant, StoreSettings.from_env(), keep_open=True)
    app = FastAPI(title="movrec", version="0.1.0", description="Movie search and recommendations from your videos.")
    harden(app)

    def check_key(x_api_key: Annotated[str | None, Header()] = None) -> None:
        expected = os.environ.get("MOVREC_API_KEY")
        if expected and not hmac.compare_digest((x_api_key or "").encode(), expected.encode()):
            raise HTTPException(status_code=401, detail="missing or wrong X-API-Key")

    @lru_cache(maxsize=4)
    def embedder_for(model: str, second: str | None) -> Embedder:
        return Embedder(EmbedderSettings.from_fingerprint(model, second))

    def serving_embedder() -> Embedder:
        info = store.serving_info()
        return embedder_for(info.model, info.second)

    def filters(
        language: Annotated[list[str], Query(max_length=20)] = [],  # noqa: B006 - FastAPI reads defaults
        genre: Annotated[list[str], Query(max_length=20)] = [],  # noqa: B006
        year_min: Annotated[int | None, Query(ge=1870, le=2100)] = None,
        year_max: Annotated[int | None, Query(ge=1870, le=2100)] = None,
        min_sentiment: Annotated[float | None, Query(ge=-1, le=1)] = None,
    ) -> PayloadFilter:
        return Filters(
            language=language, genre=genre, year_min=year_min, year_max=year_max, min_sentiment=min_sentiment
        ).payload_filter()

    guarded = [Depends(check_key)]
    taste: dict[str, Any] = {}

    def neighbours() -> ItemNeighbours | None:
        """The item-kNN table, read again only when the learn_taste job has rewritten it."""
        path = home.table("item_neighbours")
        stamp = path.stat().st_mtime_ns if path.exists() else None
        if "model" not in taste or taste["stamp"] != stamp:
            taste.update(stamp=stamp, model=load_neighbours(path))
        return taste["model"]

    @app.exception_handler(NoServingCollection)
    async def not_indexed(_request: Any, exc: NoServingCollection) -> Any:
        return JSONResponse(status_code=503, content={"detail": "nothing is indexed yet"})

    @app.get("/", include_in_schema=False)
    def page() -> HTMLResponse:
        return HTMLResponse(resources.files("movrec_dagster.web").joinpath("index.html").read_text())

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "serving": store.serving_version()}

    @app.get("/search", response_model=list[MovieOut], dependencies=guarded)
    def search_movies(
        q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS)],
        top_k: TopK = 10,
        flt: PayloadFilter = Depends(filters),
    ) -> list[dict]:
        if not q.strip():
            raise HTTPException(status_code=422, detail="q is blank")
        return [h.to_dict() for h in search(store, serving_embedder(), q, top_k, flt)]

    @app.get("/movies/{movie_id}/similar", response_model=list[MovieOut], dependencies=guarded)
    def similar_movies(
        movie_id: MovieId, response: Response, top_k: TopK = 10, flt: PayloadFilter = Depends(filters)
    ) -> list[dict]:
        """`movie_id`: an id, an alias, a title or a title with typos; the header `X-Movrec-Movie-Id`
        names the movie it resolved to."""
        try:
            canonical = find_movie(store, movie_id)
            response.headers["X-Movrec-Movie-Id"] = canonical
            return [h.to_dict() for h in taste_serving.similar_movies(served(home), store, canonical, top_k, flt)]
        except MovieNotFound as exc:
            raise HTTPException(status_code=404, detail="movie not found") from exc

    @app.post("/recommend", response_model=RecommendOut, dependencies=guarded)
    def recommend_movies(body: RecommendIn, response: Response) -> dict:
        """Ids in the history may be aliases (the header `X-Movrec-Resolved` maps each one that is not
        canonical to the canonical id used, as JSON); ids not in the index are skipped and listed in
        `ignored`."""
        asked = list(dict.fromkeys([*body.liked, *body.disliked]))
        renamed = {key: value for key, value in resolve_ids(store, asked).items() if key != value}
        if renamed:
            response.headers["X-Movrec-Resolved"] = json.dumps(renamed, ensure_ascii=True)
        recs, ignored = recommend_known(
            store,
            body.liked,
            body.disliked,
            top_k=body.top_k,
            flt=body.filters.payload_filter(),
            sentiment_weight=body.sentiment_weight,
            mmr_lambda=body.mmr_lambda,
            neighbours=neighbours() if body.collaborative_weight else None,
            collaborative_weight=body.collaborative_weight,
            watched=body.watched,
            model=served(home),
        )
        return {"results": [r.to_dict() for r in recs], "ignored": ignored}

    users = open_store(home.qdrant, replace(StoreSettings.from_env(), alias=USERS_ALIAS), keep_open=True)
    app.include_router(users_router(home, store, users, guarded, filters))

    @app.get("/videos/{video_id}/thumbnail", dependencies=guarded, response_class=FileResponse)
    def thumbnail(video_id: Annotated[str, Path(min_length=1, max_length=300)]) -> FileResponse:
        """A video's representative frame (JPEG, 320 px wide), extracted at ingest."""
        picture = video_picture(home, video_id)
        if picture is None:
            raise HTTPException(status_code=404, detail="no picture for this video")
        return FileResponse(picture, media_type="image/jpeg", headers={"Cache-Control": "max-age=3600"})

    @app.get("/movies/{movie_id}", response_model=MovieDetails, dependencies=guarded)
    def movie(movie_id: MovieId) -> dict:
        """A movie by its id or an alias: its videos (kind, duration, language, file, transcript
        segments with timestamps) and the ids it is also known by."""
        try:
            return movie_details(store, home, movie_id)
        except MovieNotFound as exc:
            raise HTTPException(status_code=404, detail="movie not found") from exc

    return app
