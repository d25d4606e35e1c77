"""The users side of the HTTP API: watch events in, a user's recommendations, similar users, and
forgetting a user. Mounted by `api.create_app`; the logic is `core/users/`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response
from pydantic import BaseModel, Field

from movrec_dagster.api_models import UserRecOut
from movrec_dagster.core.home import MovrecHome
from movrec_dagster.core.recsys.artifact import served
from movrec_dagster.core.search import resolve_ids
from movrec_dagster.core.users.events import EventError, read_events, store_events, validate
from movrec_dagster.core.users.service import (
    current_taste,
    drop_forgotten,
    forget_user,
    profile_user,
    refresh_user,
    similar_users,
)
from movrec_dagster.core.users.strategies import STRATEGIES, recommend_for_user
from movrec_dagster.core.vectorstore import PayloadFilter, VectorStore

MAX_EVENTS = 1_000
NEIGHBOURS = 10
UserId = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[^/\x00-\x1f]+$")]


class EventsIn(BaseModel):
    events: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_EVENTS)


class EventsOut(BaseModel):
    stored: int
    dropped_forgotten: int = 0  # events of users who were forgotten: not stored
    unknown_movies: list[str] = []  # kept: the movie may be indexed later
    applied: list[str] = []  # users whose vector was updated before answering (`apply=now`)


class UserOut(BaseModel):
    user_id: str
    segment: str
    events: int
    by_event: dict[str, int]
    liked: int
    watched: int
    last_events: list[dict[str, Any]]


class SimilarUserOut(BaseModel):
    user_id: str
    score: float


def users_router(home: MovrecHome, store: VectorStore, users: VectorStore, guarded: list, filters: Any) -> APIRouter:
    router = APIRouter(dependencies=guarded)

    def model() -> str:
        return store.serving_model()

    @router.post("/events", status_code=202, response_model=EventsOut)
    def post_events(body: EventsIn, apply: Annotated[str | None, Query(pattern="^now$")] = None) -> dict:
        """Up to 1,000 events, stored durably (one atomic micro-batch) before the 202; `apply=now` also
        updates each user's vector before answering (real time)."""
        try:
            events = validate(body.events)
        except EventError as exc:
            raise HTTPException(status_code=422, detail={"errors": exc.errors}) from exc
        events, dropped = drop_forgotten(home, events)
        store_events(home, events)
        movies = sorted({e.movie_id for e in events})
        unknown = sorted(set(movies) - set(resolve_ids(store, movies))) if store.serving_version() else movies
        applied = []
        if apply == "now" and store.serving_version():
            for user in sorted({e.user_id for e in events}):
                refresh_user(home, store, users, user, model())
                applied.append(user)
        return {"stored": len(events), "dropped_forgotten": dropped, "unknown_movies": unknown, "applied": applied}

    def known(user_id: str) -> Any:
        taste = current_taste(home, store, users, user_id)
        if not taste.events:
            raise HTTPException(status_code=404, detail="user not found")
        return taste

    @router.get("/users/{user_id}", response_model=UserOut)
    def user(user_id: UserId) -> dict:
        """The user's segment, event counts and last events."""
        events = read_events(home, user_id)
        if events.is_empty():
            raise HTTPException(status_code=404, detail="user not found")
        taste = profile_user(home, store, user_id)
        counts = events.group_by("event").len()
        last = events.sort("timestamp", descending=True).head(10).drop("user_id").to_dicts()
        return {
            "user_id": user_id,
            "segment": taste.segment,
            "events": len(events),
            "by_event": dict(zip(counts["event"], counts["len"])),
            "liked": len(taste.liked),
            "watched": len(taste.watched),
            "last_events": last,
        }

    @router.get("/users/{user_id}/recommendations", response_model=list[UserRecOut])
    def recommendations(
        user_id: UserId,
        response: Response,
        top_k: Annotated[int, Query(ge=1, le=50)] = 10,
        strategy: Annotated[str, Query(pattern="^(" + "|".join(STRATEGIES) + ")$")] = "blend",
        flt: PayloadFilter = Depends(filters),
    ) -> list[dict]:
        """Never what the user watched; each result names its strategy and evidence. A user with no
        events gets the most popular movies of their language, diversified. The header
        `X-Movrec-Model` names the taste model version served (once one is trained)."""
        taste = current_taste(home, store, users, user_id)
        model = served(home)
        if model is not None:
            response.headers["X-Movrec-Model"] = str(model.info.get("version", ""))
        learned = strategy == "blend" and model is not None and model.knows(taste.recent)
        neighbours = [] if learned else [(u, liked) for u, _, liked in similar_users(home, users, taste, NEIGHBOURS)]
        recs = recommend_for_user(store, neighbours, taste, top_k, flt, strategy, model)
        return [r.to_dict() for r in recs]

    @router.get("/users/{user_id}/similar", response_model=list[SimilarUserOut])
    def similar(user_id: UserId, top_k: Annotated[int, Query(ge=1, le=50)] = 10) -> list[dict]:
        """The users whose taste vectors are closest."""
        taste = known(user_id)
        return [{"user_id": u, "score": score} for u, score, _ in similar_users(home, users, taste, top_k)]

    @router.delete("/users/{user_id}", status_code=204)
    def forget(user_id: UserId) -> Response:
        """Removes the user's events, vector and profile; their later events are dropped."""
        forget_user(home, users, user_id)
        return Response(status_code=204)

    return router
