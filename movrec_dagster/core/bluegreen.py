"""Blue/green collection versions: build beside the live one, verify, swap atomically, roll back, collect garbage."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .lexical import term_counts
from .vectorstore import PayloadFilter, VectorPoint, VectorStore, types, version_name
from .vectorstore.types import LEXICAL_VERSION, SecondLayout, VersionInfo

REQUIRED_PAYLOAD = (
    "movie_id",
    "title",
    "language",
    "genres",
    "sentiment",
    "kind",
    "text",
    "content_hash",
    "model",
    "renown",
)


class ModelMismatch(RuntimeError):
    pass


Layout = tuple[int, SecondLayout | None]  # (dimension, (second models, their dimensions) or None)


def write_targets(store: VectorStore, model: str, layout: Callable[[], Layout], slug: str) -> list[str]:
    """Versions a live partition write goes to: the serving one and a rebuild in progress, if they hold
    this model's vectors. The first write ever creates the first version (`layout`: its vectors' sizes,
    asked only then, so a write that creates nothing never loads a model)."""
    serving, building = store.pointer("serving"), store.pointer("building")
    if serving is None and building is None:
        dimension, second = layout()
        name = store.create_version(version_name(store.alias, slug), dimension, model, second).name
        store.switch(name)
        return [name]
    models = {v.name: v.model for v in store.versions(counts=False)}
    targets = [v for v in (serving, building) if v is not None and models.get(v) == model]
    if not targets:
        raise ModelMismatch(
            f"collection '{serving}' holds vectors of {models.get(serving)}, but the embedder is configured as "
            f"{model}; run the rebuild_collection job to build a collection for the new model"
        )
    return list(dict.fromkeys(targets))


def outdated_format(store: VectorStore, second: str | None, model: str | None = None) -> str | None:
    """The serving version, when it needs a rebuild: its first model is not the configured `model`
    (a fingerprint; MOVREC_MODEL changed, say to a model `movrec adapt` made), its points (sparse
    vectors or payload) are in an older format (`LEXICAL_VERSION`, written by an older release), its
    second dense vectors are not the configured `second` models' (a release or a setting added,
    changed or removed one), or it grew large enough for graphs without having them
    (`DenseIndex.wants_graph`; a version built before the per-language copies,
    `VersionInfo.language_graphs`, lacks some). None when it is current, when nothing serves yet, or
    when a rebuild is already under way."""
    serving = store.serving_version()
    if serving is None or store.pointer("building") is not None:
        return None
    info = next((v for v in store.versions(counts=False) if v.name == serving), None)
    if info is None:
        return None
    other_model = model is not None and info.model != model
    outdated = other_model or info.lexical < LEXICAL_VERSION or info.second != second or _outgrown(store, info)
    return serving if outdated else None


def _outgrown(store: VectorStore, info: VersionInfo) -> bool:
    # a version with graphs from before the per-language copies counts as without
    return not info.language_graphs and types.DENSE_INDEX.wants_graph(store.size(version=info.name))


def start_rebuild(
    store: VectorStore, dimension: int, model: str, slug: str, second: tuple[str, int] | None = None
) -> str:
    """A new empty version, marked as `building` so that live writes reach it from now on; with
    graphs when the version it replaces is large enough for them (`DenseIndex.wants_graph`)."""
    serving = store.serving_version()
    graph = serving is not None and types.DENSE_INDEX.wants_graph(store.size(version=serving))
    name = store.create_version(version_name(store.alias, slug), dimension, model, second, graph).name
    store.set_pointers({"building": name})
    return name


@dataclass
class Check:
    name: str
    passed: bool
    detail: str


def verify(
    store: VectorStore,
    version: str,
    *,
    expected_points: int,
    dimension: int,
    model: str,
    canary: tuple[str, np.ndarray] | None,
    second: str | None = None,
) -> list[Check]:
    """What a swap depends on: every point there, the right model and size, full payloads, a known answer."""
    info = next(v for v in store.versions() if v.name == version)
    hits = store.scroll(version=version)
    missing = sorted({f for h in hits for f in REQUIRED_PAYLOAD if f not in h.payload})
    checks = [
        Check("point_count", info.points == expected_points, f"{info.points} points, expected {expected_points}"),
        Check(
            "model_and_size",
            info.model == model
            and info.dimension == dimension
            and info.lexical == LEXICAL_VERSION
            and info.second == second,
            f"{info.model}/{info.dimension}/lexical {info.lexical}/second {info.second}, "
            f"configured {model}/{dimension}/lexical {LEXICAL_VERSION}/second {second}",
        ),
        Check("payload_complete", not missing, f"missing fields: {missing}" if missing else "all fields present"),
    ]
    if canary is not None:
        movie, vector = canary
        found = [
            h.payload["movie_id"]
            for h in store.query(vector, PayloadFilter(kinds=("overview", "transcript")), limit=10, version=version)
        ]
        top = list(dict.fromkeys(found))[:3]
        checks.append(Check("canary_query", movie in top, f"expected {movie} in top 3, got {top}"))
    return checks


def promote(store: VectorStore, version: str, keep: int) -> list[str]:
    """Index the version's vectors (their int8 copy), then swap the serving pointer to it in one atomic step;
    the old one becomes `previous`."""
    store.optimize(version)
    old = store.pointer("serving")
    store.set_pointers({"serving": version, "previous": old if old != version else None, "building": None})
    return collect_garbage(store, keep)


def abandon(store: VectorStore, version: str) -> None:
    """A rebuild that failed its checks stops receiving writes; it stays for inspection until collected."""
    if store.pointer("building") == version:
        store.set_pointers({"building": None})


def rollback(store: VectorStore) -> str:
    previous = store.pointer("previous")
    if previous is None:
        raise LookupError("no previous collection version to roll back to")
    store.set_pointers({"serving": previous, "previous": store.pointer("serving")})
    return previous


def collect_garbage(store: VectorStore, keep: int) -> list[str]:
    """Drop versions beyond the newest `keep`, never one that a pointer holds."""
    held = {store.pointer(role) for role in ("serving", "previous", "building")}
    newest = sorted(store.versions(counts=False), key=lambda v: v.created_at, reverse=True)
    dropped = [v.name for v in newest[keep:] if v.name not in held]
    for name in dropped:
        store.drop_version(name)
    return dropped


def load(store: VectorStore, version: str, points: list[VectorPoint]) -> int:
    """Write points to a version being built, with the BM25 term counts of each of their languages:
    `points` holds all of those languages' points (the counts are replaced, not added to)."""
    store.upsert(points, version=version)
    for language in sorted({p.payload["language"] for p in points}):
        sparse = (p.sparse for p in points if p.payload["language"] == language)
        store.write_terms(language, term_counts(sparse), version=version)
    return len(points)
