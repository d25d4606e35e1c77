"""One narrow vector-store interface with two Qdrant engines behind it, and one way to open it.

* `EdgeStore` (default, `edge.py`): Qdrant's own engine in-process (qdrant-edge) under MOVREC_HOME;
  processes take turns on the shard (`edge_lock.py`).
* `QdrantServerStore` (`server.py`): qdrant-client against a server or cluster (`QDRANT_URL`).

Both keep collection *versions* behind named pointers (`versions.py`: serving, previous, building),
which is how blue/green rebuilds swap atomically. The Dagster resource, the CLI and the API all open
the store through `open_store`, with `StoreSettings.from_env()` outside Dagster, so every setting
(`QDRANT_TIMEOUT_S`, `QDRANT_PREFER_GRPC`, the cluster layout) reaches every caller.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .edge import EdgeStore
from .server import QdrantServerStore
from .types import (
    INDEXED_FIELDS,
    POINT_NAMESPACE,
    RRF_K,
    SECOND,
    SPARSE,
    Examples,
    Hit,
    NoServingCollection,
    PayloadFilter,
    Search,
    SecondLayout,
    Sparse,
    TermCounts,
    VectorPoint,
    VersionInfo,
    point_id,
)
from .versions import ROLES, alias_name, version_name


class VectorStore(Protocol):
    """What movrec needs of a vector store. `version=None` means the serving version."""

    alias: str

    def pointer(self, role: str) -> str | None:
        """The version a role ("serving", "previous", "building") points at."""

    def set_pointers(self, changes: dict[str, str | None]) -> None:
        """Move several pointers in one atomic step (None removes one)."""

    def serving_version(self) -> str | None: ...
    def serving_model(self) -> str:
        """The model (embedder fingerprint) the serving version was built with."""

    def serving_info(self) -> VersionInfo:
        """The serving version's record: its models (`model`, `second`), sizes and formats."""

    def version_info(self, version: str | None) -> VersionInfo:
        """A version's record (None: the serving one's)."""

    def versions(self, counts: bool = True) -> list[VersionInfo]:
        """This alias's versions; `counts`: with their point counts (which opens every embedded shard:
        0.3 s each at 30k points, more than a small partition's whole write)."""

    def create_version(
        self, name: str, dimension: int, model: str, second: SecondLayout | None = None, graph: bool = False
    ) -> VersionInfo:
        """An empty version for `model`'s vectors; `second`: (fingerprint, dimensions) of its second
        models' dense vectors (`types.second_names`); `graph`: built with HNSW graphs (`types.DenseIndex`, for a
        large version; a server builds them always)."""

    def switch(self, name: str) -> None: ...
    def drop_version(self, name: str) -> None: ...
    def session(self, version: str | None = None) -> contextlib.AbstractContextManager[VectorStore]:
        """Hold one version open across many operations (a no-op on a server)."""

    def upsert(self, points: list[VectorPoint], version: str | None = None) -> None: ...
    def delete(self, flt: PayloadFilter, version: str | None = None) -> None: ...
    def optimize(self, version: str | None = None, due_only: bool = False) -> bool:
        """Index a version's segments now (their int8 copy, `types.DenseIndex`; a server does it by
        itself); True when anything was rebuilt. `due_only`: only once `DenseIndex.defer_points`
        points were written since the last time."""

    def size(self, version: str | None = None) -> int:
        """A version's points as of its last `optimize()`, read without opening it where that is
        costly (the embedded engine); a server counts."""

    def query(
        self,
        vector: Sequence[float],
        flt: PayloadFilter | None = None,
        limit: int = 10,
        version: str | None = None,
        with_vectors: bool = False,
        sparse: Sparse | None = None,
        candidates: int | None = None,
    ) -> list[Hit]:
        """Nearest points under `flt`; with `sparse`, dense and sparse candidates fused (`types.Fusion`),
        `candidates` of each (default: the fusion's depth x `limit`)."""

    def query_batch(self, searches: list[Search], version: str | None = None) -> list[list[Hit]]:
        """Several `query`s in one engine call (Qdrant's batch query), results in the same order."""

    def recommend(self, examples: Examples, version: str | None = None) -> list[Hit]:
        """Points for someone who liked `examples.liked` and disliked `examples.disliked`: the engine's
        recommend query, "best score" strategy (a point scores its similarity to the closest liked
        example, unless a disliked one is closer; then it ranks below every such point)."""

    def count(self, flt: PayloadFilter | None = None, version: str | None = None) -> int: ...
    def write_terms(self, language: str, counts: TermCounts, version: str | None = None) -> None:
        """Record a language's BM25 term counts (`types.TermCounts`) beside its points."""

    def terms(self, version: str | None = None) -> TermCounts:
        """The version's term counts over all its languages (empty: a version written before them)."""

    def languages(self, version: str | None = None) -> list[str]:
        """The languages a version holds points of: a facet over the `language` payload index, with
        estimated counts (the values are what search needs; the exact facet took 5 ms of every search
        at 10k movies, the estimate 0.1 ms)."""

    def scroll(
        self,
        flt: PayloadFilter | None = None,
        version: str | None = None,
        with_vectors: bool = False,
        fields: list[str] | None = None,
    ) -> list[Hit]:
        """The points matching `flt`, with the payload `fields` only where given."""


# setting -> environment variable: the one list both `from_env` and the Dagster definitions read
ENV = {
    "url": "QDRANT_URL",
    "api_key": "QDRANT_API_KEY",
    "timeout_s": "QDRANT_TIMEOUT_S",
    "prefer_grpc": "QDRANT_PREFER_GRPC",
    "shard_number": "QDRANT_SHARD_NUMBER",
    "replication_factor": "QDRANT_REPLICATION_FACTOR",
    "write_consistency_factor": "QDRANT_WRITE_CONSISTENCY_FACTOR",
}
INT_SETTINGS = ("timeout_s", "shard_number", "replication_factor", "write_consistency_factor")


@dataclass(frozen=True)
class StoreSettings:
    url: str | None = None  # None: the embedded engine under MOVREC_HOME
    api_key: str | None = None
    alias: str = "movies"
    timeout_s: int = 30
    prefer_grpc: bool = False
    shard_number: int | None = None
    replication_factor: int | None = None
    write_consistency_factor: int | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> StoreSettings:
        env = os.environ if environ is None else environ
        values: dict = {}
        for field, variable in ENV.items():
            raw = env.get(variable)
            if not raw:
                continue
            if field in INT_SETTINGS:
                try:
                    values[field] = int(raw)
                except ValueError as exc:
                    raise ValueError(f"{variable} must be a whole number, got {raw!r}") from exc
            elif field == "prefer_grpc":
                values[field] = raw.lower() in ("1", "true", "yes")
            else:
                values[field] = raw
        return cls(**values)


def open_store(root: Path, settings: StoreSettings | None = None, keep_open: bool = False) -> VectorStore:
    """The store: a Qdrant server when `settings.url` is set, else the embedded engine under `root`.
    `keep_open`: a long-lived reader (the API) keeps the embedded shard open between queries."""
    settings = settings or StoreSettings()
    if settings.url:
        return QdrantServerStore(
            url=settings.url,
            api_key=settings.api_key,
            alias=settings.alias,
            timeout_s=settings.timeout_s,
            prefer_grpc=settings.prefer_grpc,
            shard_number=settings.shard_number,
            replication_factor=settings.replication_factor,
            write_consistency_factor=settings.write_consistency_factor,
        )
    return EdgeStore(root, alias=settings.alias, keep_open=keep_open)


__all__ = [
    "ENV",
    "INDEXED_FIELDS",
    "INT_SETTINGS",
    "POINT_NAMESPACE",
    "RRF_K",
    "ROLES",
    "SECOND",
    "SPARSE",
    "EdgeStore",
    "Examples",
    "Hit",
    "NoServingCollection",
    "PayloadFilter",
    "QdrantServerStore",
    "Search",
    "Sparse",
    "StoreSettings",
    "TermCounts",
    "VectorPoint",
    "VectorStore",
    "VersionInfo",
    "alias_name",
    "open_store",
    "point_id",
    "version_name",
]
