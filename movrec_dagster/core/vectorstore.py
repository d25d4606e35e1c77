"""One narrow vector-store interface with two Qdrant engines behind it.

* `EdgeStore` (default): Qdrant's own engine in-process (qdrant-edge), one shard folder per
  collection version under MOVREC_HOME, and a serving alias kept in `aliases.json`, replaced
  atomically (write + rename). The engine locks a shard to one process, so every operation opens the
  shard under an inter-process file lock and closes it again: writers and readers in different
  processes (Dagster runs, CLI, API) take turns instead of failing. Opening costs ~70 ms, so a
  long-lived reader (the API, `keep_open=True`) keeps the serving shard open across queries and
  hands the lock over the moment another process registers that it is waiting for it.
* `QdrantServerStore`: qdrant-client against a server/cluster (`QDRANT_URL`) or its local mode;
  versions are collections and the serving alias is switched with one `update_collection_aliases`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from filelock import FileLock

POINT_NAMESPACE = uuid.UUID("6f1c3b1e-4d1e-4c55-9a38-6d6f7672656d")
# Payload fields people filter on; each gets a payload index.
INDEXED_FIELDS = {
    "movie_id": "keyword",
    "language": "keyword",
    "genres": "keyword",
    "kind": "keyword",
    "year": "integer",
    "sentiment": "float",
    "content_hash": "keyword",
    "title_keys": "keyword",  # exact-title lookups
    "aliases": "keyword",  # ids a movie was served under before
    "video_id": "keyword",
}


def point_id(movie_id: str, kind: str, index: int) -> str:
    """Deterministic id: the same chunk of the same movie always lands on the same point."""
    return str(uuid.uuid5(POINT_NAMESPACE, f"{movie_id}\x1f{kind}\x1f{index}"))


RRF_K = 60  # reciprocal rank fusion constant (Qdrant's default)
SPARSE = "bm25"  # the sparse (lexical) vector's name; the dense vector is the unnamed one
Sparse = tuple[list[int], list[float]]


@dataclass
class VectorPoint:
    id: str
    vector: Sequence[float]
    payload: dict[str, Any]
    sparse: Sparse | None = None


@dataclass
class Hit:
    id: str
    score: float
    payload: dict[str, Any]
    vector: list[float] | None = None


@dataclass(frozen=True)
class PayloadFilter:
    """Conditions on the payload; all given ones must hold."""

    languages: tuple[str, ...] = ()
    genres: tuple[str, ...] = ()  # any of
    year_min: int | None = None
    year_max: int | None = None
    min_sentiment: float | None = None
    kinds: tuple[str, ...] = ()
    movie_ids: tuple[str, ...] = ()
    title_keys: tuple[str, ...] = ()  # any of
    aliases: tuple[str, ...] = ()  # any of
    exclude_movie_ids: tuple[str, ...] = ()
    exclude_point_ids: tuple[str, ...] = ()

    def clauses(self) -> tuple[list[tuple[str, str, Any]], list[tuple[str, str, Any]]]:
        """(must, must_not) as engine-neutral ("any" | "range" | "ids", key, value) triples."""
        must: list[tuple[str, str, Any]] = [
            ("any", key, list(values))
            for key, values in (
                ("language", self.languages),
                ("genres", self.genres),
                ("kind", self.kinds),
                ("movie_id", self.movie_ids),
                ("title_keys", self.title_keys),
                ("aliases", self.aliases),
            )
            if values
        ]
        if self.year_min is not None or self.year_max is not None:
            must.append(("range", "year", (self.year_min, self.year_max)))
        if self.min_sentiment is not None:
            must.append(("range", "sentiment", (self.min_sentiment, None)))
        must_not: list[tuple[str, str, Any]] = []
        if self.exclude_movie_ids:
            must_not.append(("any", "movie_id", list(self.exclude_movie_ids)))
        if self.exclude_point_ids:
            must_not.append(("ids", "", list(self.exclude_point_ids)))
        return must, must_not


@dataclass
class VersionInfo:
    name: str
    dimension: int
    model: str
    points: int = 0
    created_at: float = field(default_factory=time.time)


class VectorStore(Protocol):
    alias: str

    def pointer(self, role: str) -> str | None: ...
    def set_pointers(self, changes: dict[str, str | None]) -> None: ...
    def serving_version(self) -> str | None: ...
    def versions(self) -> list[VersionInfo]: ...
    def create_version(self, name: str, dimension: int, model: str) -> VersionInfo: ...
    def switch(self, name: str) -> None: ...
    def drop_version(self, name: str) -> None: ...
    def session(self, version: str | None = None) -> contextlib.AbstractContextManager[VectorStore]: ...
    def upsert(self, points: list[VectorPoint], version: str | None = None) -> None: ...
    def delete(self, flt: PayloadFilter, version: str | None = None) -> None: ...
    def query(
        self,
        vector: Sequence[float],
        flt: PayloadFilter | None = None,
        limit: int = 10,
        version: str | None = None,
        with_vectors: bool = False,
        sparse: Sparse | None = None,
    ) -> list[Hit]: ...
    def count(self, flt: PayloadFilter | None = None, version: str | None = None) -> int: ...
    def scroll(
        self, flt: PayloadFilter | None = None, version: str | None = None, with_vectors: bool = False
    ) -> list[Hit]: ...


class NoServingCollection(LookupError):
    pass


# Named pointers to collection versions. "serving" is what queries read; "previous" is what
# `rollback` returns to; "building" is a rebuild in progress, which live writes also go to.
ROLES = ("serving", "previous", "building")


def alias_name(alias: str, role: str) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown alias role {role!r}")
    return alias if role == "serving" else f"{alias}__{role}"


def version_name(alias: str, model: str) -> str:
    slug = "".join(c if c.isalnum() else "-" for c in model.rsplit("/", 1)[-1].lower()).strip("-")
    return f"{alias}__{slug}__{time.strftime('%Y%m%d%H%M%S')}{int(time.time() * 1000) % 1000:03d}"


def _as_list(vector: Sequence[float]) -> list[float]:
    return np.asarray(vector, dtype=np.float32).tolist()


# --------------------------------------------------------------------------- embedded engine
class EdgeStore:
    """Qdrant Edge shards under `root`, one folder per version, plus an atomic alias file."""

    def __init__(
        self, root: Path, alias: str = "movies", lock_timeout_s: float = 120.0, keep_open: bool = False
    ) -> None:
        self.root = Path(root)
        self.alias = alias
        self.root.mkdir(parents=True, exist_ok=True)
        self.lock_timeout_s = lock_timeout_s
        self._lock = FileLock(str(self.root / ".store.lock"), timeout=lock_timeout_s)
        self._reader = _HeldReader(self) if keep_open else None

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """The store's lock, announced first (a file under `.waiting/`) so a held reader lets go."""
        waiting = self.root / ".waiting"
        waiting.mkdir(exist_ok=True)
        intent = waiting / f"{os.getpid()}-{uuid.uuid4().hex}"
        intent.touch()
        try:
            self._lock.acquire()
        finally:
            intent.unlink(missing_ok=True)
        try:
            yield
        finally:
            self._lock.release()

    # versions and alias
    def _dir(self, name: str) -> Path:
        return self.root / "collections" / name

    def _aliases(self) -> dict[str, str]:
        path = self.root / "aliases.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def pointer(self, role: str) -> str | None:
        return self._aliases().get(alias_name(self.alias, role))

    def serving_version(self) -> str | None:
        return self.pointer("serving")

    def _resolve(self, version: str | None) -> str:
        name = version or self.serving_version()
        if not name:
            raise NoServingCollection(f"no collection is serving alias '{self.alias}' yet: run `movrec ingest`")
        if not (self._dir(name) / "movrec.json").exists():
            raise NoServingCollection(f"collection version '{name}' does not exist")
        return name

    def versions(self) -> list[VersionInfo]:
        infos = []
        for meta in sorted((self.root / "collections").glob("*/movrec.json")):
            info = VersionInfo(**json.loads(meta.read_text()))
            info.points = self.count(version=info.name)
            infos.append(info)
        return infos

    def create_version(self, name: str, dimension: int, model: str) -> VersionInfo:
        from qdrant_edge import (
            Distance,
            EdgeConfig,
            EdgeShard,
            EdgeSparseVectorParams,
            EdgeVectorParams,
            Modifier,
            PayloadSchemaType,
            UpdateOperation,
        )

        schema = {
            "keyword": PayloadSchemaType.Keyword,
            "integer": PayloadSchemaType.Integer,
            "float": PayloadSchemaType.Float,
        }
        info = VersionInfo(name=name, dimension=dimension, model=model)
        with self._exclusive():
            target = self._dir(name)
            if target.exists():
                raise FileExistsError(f"collection version '{name}' already exists")
            staging = target.with_name(f".{name}.creating")
            shutil.rmtree(staging, ignore_errors=True)
            shard = EdgeShard.create(
                str(staging / "shard"),
                EdgeConfig(
                    vectors=EdgeVectorParams(size=dimension, distance=Distance.Cosine),
                    sparse_vectors={SPARSE: EdgeSparseVectorParams(modifier=Modifier.Idf)},
                ),
            )
            for key, kind in INDEXED_FIELDS.items():
                shard.update(UpdateOperation.create_field_index(key, schema[kind]))
            shard.flush()
            shard.close()
            (staging / "movrec.json").write_text(json.dumps(info.__dict__))
            staging.rename(target)
        return info

    def set_pointers(self, changes: dict[str, str | None]) -> None:
        """Move several pointers at once: one file replaced by rename, so readers see all or nothing."""
        with self._exclusive():
            aliases = self._aliases()
            for role, name in changes.items():
                if name is None:
                    aliases.pop(alias_name(self.alias, role), None)
                else:
                    aliases[alias_name(self.alias, role)] = self._resolve(name)
            tmp = self.root / f".aliases.{os.getpid()}.json"
            tmp.write_text(json.dumps(aliases, indent=2))
            tmp.replace(self.root / "aliases.json")

    def switch(self, name: str) -> None:
        self.set_pointers({"serving": name})

    def drop_version(self, name: str) -> None:
        with self._exclusive():
            held = [role for role in ROLES if self.pointer(role) == name]
            if held:
                raise ValueError(f"'{name}' is the {held[0]} version of alias '{self.alias}'; switch first")
            shutil.rmtree(self._dir(name), ignore_errors=True)

    @contextlib.contextmanager
    def _shard(self, version: str | None, exclusive: bool = False) -> Iterator[Any]:
        from qdrant_edge import EdgeShard

        held = getattr(self, "_held", None)
        if held is not None and held[0] == (version or self.serving_version()):
            yield held[1]
            return
        if self._reader is not None and not exclusive:
            with self._reader.shard(version) as shard:
                yield shard
            return
        with self._exclusive():
            shard = EdgeShard.load(str(self._dir(self._resolve(version)) / "shard"))
            try:
                yield shard
            finally:
                shard.close()

    @contextlib.contextmanager
    def session(self, version: str | None = None) -> Iterator[EdgeStore]:
        """Keep one version's shard open (and the store locked) across many operations: for batch work
        such as an evaluation, where opening the shard per query would cost more than the query."""
        name = self._resolve(version)
        with self._shard(name, exclusive=True) as shard:
            self._held = (name, shard)
            try:
                yield self
            finally:
                self._held = None

    # data
    def upsert(self, points: list[VectorPoint], version: str | None = None, batch: int = 512) -> None:
        from qdrant_edge import Point, SparseVector, UpdateOperation

        def vectors(p: VectorPoint) -> dict[str, Any]:
            named: dict[str, Any] = {"": _as_list(p.vector)}
            if p.sparse and p.sparse[0]:
                named[SPARSE] = SparseVector(*p.sparse)
            return named

        with self._shard(version, exclusive=True) as shard:
            for i in range(0, len(points), batch):
                shard.update(
                    UpdateOperation.upsert_points([Point(p.id, vectors(p), p.payload) for p in points[i : i + batch]])
                )
            shard.flush()

    def delete(self, flt: PayloadFilter, version: str | None = None) -> None:
        from qdrant_edge import UpdateOperation

        with self._shard(version, exclusive=True) as shard:
            shard.update(UpdateOperation.delete_points_by_filter(_edge_filter(flt)))
            shard.flush()

    def query(
        self,
        vector: Sequence[float],
        flt: PayloadFilter | None = None,
        limit: int = 10,
        version: str | None = None,
        with_vectors: bool = False,
        sparse: Sparse | None = None,
    ) -> list[Hit]:
        from qdrant_edge import Fusion, Prefetch, Query, QueryRequest, SparseVector

        dense = Query.Nearest(_as_list(vector))
        if sparse and sparse[0]:  # hybrid: dense and BM25 candidates fused by reciprocal rank
            flt_ = _edge_filter(flt)
            request = QueryRequest(
                limit=limit,
                prefetches=[
                    Prefetch(limit=limit * 2, query=dense, filter=flt_),
                    Prefetch(limit=limit * 2, query=Query.Nearest(SparseVector(*sparse), using=SPARSE), filter=flt_),
                ],
                query=Fusion.Rrf(k=RRF_K),
                with_payload=True,
                with_vector=with_vectors,
            )
        else:
            request = QueryRequest(
                limit=limit, query=dense, filter=_edge_filter(flt), with_payload=True, with_vector=with_vectors
            )
        with self._shard(version) as shard:
            found = shard.query(request)
        return [Hit(str(p.id), float(p.score), dict(p.payload or {}), _vec(p.vector)) for p in found]

    def count(self, flt: PayloadFilter | None = None, version: str | None = None) -> int:
        from qdrant_edge import CountRequest

        with self._shard(version) as shard:
            return int(shard.count(CountRequest(exact=True, filter=_edge_filter(flt))))

    def scroll(
        self, flt: PayloadFilter | None = None, version: str | None = None, with_vectors: bool = False
    ) -> list[Hit]:
        from qdrant_edge import ScrollRequest

        hits: list[Hit] = []
        offset = None
        with self._shard(version) as shard:
            while True:
                records, offset = shard.scroll(
                    ScrollRequest(
                        offset=offset, limit=1024, filter=_edge_filter(flt), with_payload=True, with_vector=with_vectors
                    )
                )
                hits += [Hit(str(r.id), 0.0, dict(r.payload or {}), _vec(r.vector)) for r in records]
                if offset is None:
                    return hits


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _HeldReader:
    """One open shard shared by a long-lived reader's threads, with the store's lock held; given back
    as soon as another process (or this one) announces it is waiting, or after a second idle."""

    IDLE_S = 1.0

    def __init__(self, store: EdgeStore) -> None:
        import threading

        self.store = store
        self.mutex = threading.RLock()
        # not thread-local: the watcher thread may release what a request thread acquired
        self.lock = FileLock(str(store.root / ".store.lock"), timeout=store.lock_timeout_s, thread_local=False)
        self.name: str | None = None
        self.handle: Any = None
        self.last_used = 0.0
        threading.Thread(target=self._watch, name="movrec-held-reader", daemon=True).start()

    def _others_waiting(self) -> bool:
        waiting = self.store.root / ".waiting"
        for intent in waiting.iterdir() if waiting.is_dir() else []:
            pid = int(intent.name.split("-", 1)[0]) if intent.name.split("-", 1)[0].isdigit() else 0
            if pid and _alive(pid):
                return True
            intent.unlink(missing_ok=True)  # left by a killed process
        return False

    def _release(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle, self.name = None, None
            self.lock.release()

    def _watch(self) -> None:
        while True:
            time.sleep(0.02)
            with self.mutex:
                idle = time.monotonic() - self.last_used > self.IDLE_S
                if self.handle is not None and (idle or self._others_waiting()):
                    self._release()

    @contextlib.contextmanager
    def shard(self, version: str | None) -> Iterator[Any]:
        from qdrant_edge import EdgeShard

        with self.mutex:
            name = self.store._resolve(version)
            if self.handle is not None and (self.name != name or self._others_waiting()):
                self._release()  # a swap happened, or a writer is waiting
            if self.handle is None:
                deadline = time.monotonic() + self.store.lock_timeout_s
                while self._others_waiting() and time.monotonic() < deadline:
                    time.sleep(0.005)  # writers first
                self.lock.acquire()
                try:
                    name = self.store._resolve(version)  # the alias may have moved while we waited
                    self.handle = EdgeShard.load(str(self.store._dir(name) / "shard"))
                except BaseException:
                    self.lock.release()
                    raise
                self.name = name
            self.last_used = time.monotonic()
            yield self.handle


def _vec(vector: Any) -> list[float] | None:
    if vector is None:
        return None
    if isinstance(vector, dict):  # edge returns {"": [...]} for the unnamed vector
        vector = next(iter(vector.values()), None)
    return list(vector) if vector is not None else None


def _edge_filter(flt: PayloadFilter | None) -> Any:
    if flt is None:
        return None
    from qdrant_edge import FieldCondition, Filter, HasIdCondition, MatchAny, RangeFloat

    def condition(kind: str, key: str, value: Any) -> Any:
        if kind == "any":
            return FieldCondition(key=key, match=MatchAny(value))
        if kind == "range":
            return FieldCondition(key=key, range=RangeFloat(gte=value[0], lte=value[1]))
        return HasIdCondition({uuid.UUID(p) for p in value})

    must, must_not = ([condition(*c) for c in part] for part in flt.clauses())
    return Filter(must=must or None, must_not=must_not or None) if (must or must_not) else None


# --------------------------------------------------------------------------- server / client
class QdrantServerStore:
    """qdrant-client: a server or cluster (`url`), or client local mode (`path`, used in tests)."""

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        path: str | None = None,
        alias: str = "movies",
        timeout_s: int = 30,
        prefer_grpc: bool = False,
        shard_number: int | None = None,
        replication_factor: int | None = None,
        write_consistency_factor: int | None = None,
    ) -> None:
        from qdrant_client import QdrantClient

        self.alias = alias
        # cluster layout of every new version (None: the server's defaults); ignored by local mode
        self.cluster = {
            key: value
            for key, value in {
                "shard_number": shard_number,
                "replication_factor": replication_factor,
                "write_consistency_factor": write_consistency_factor,
            }.items()
            if value is not None
        }
        if url:
            self.client = QdrantClient(url=url, api_key=api_key, timeout=timeout_s, prefer_grpc=prefer_grpc)
        else:
            self.client = QdrantClient(path=path) if path else QdrantClient(location=":memory:")

    @contextlib.contextmanager
    def session(self, version: str | None = None) -> Iterator[QdrantServerStore]:
        """A server keeps its collections open; nothing to hold."""
        yield self

    def pointer(self, role: str) -> str | None:
        wanted = alias_name(self.alias, role)
        for alias in self.client.get_aliases().aliases:
            if alias.alias_name == wanted:
                return alias.collection_name
        return None

    def serving_version(self) -> str | None:
        return self.pointer("serving")

    def _resolve(self, version: str | None) -> str:
        name = version or self.serving_version()
        if not name:
            raise NoServingCollection(f"no collection is serving alias '{self.alias}' yet: run `movrec ingest`")
        return name

    def versions(self) -> list[VersionInfo]:
        out = []
        for c in self.client.get_collections().collections:
            if not c.name.startswith(f"{self.alias}__"):
                continue
            info = self.client.get_collection(c.name)
            meta = info.config.metadata or {}
            out.append(
                VersionInfo(
                    name=c.name,
                    dimension=int(meta.get("dimension", 0)),
                    model=str(meta.get("model", "")),
                    points=self.count(version=c.name),
                    created_at=float(meta.get("created_at", 0)),
                )
            )
        return sorted(out, key=lambda v: v.name)

    def create_version(self, name: str, dimension: int, model: str) -> VersionInfo:
        from qdrant_client import models

        info = VersionInfo(name=name, dimension=dimension, model=model)
        self.client.create_collection(
            name,
            vectors_config=models.VectorParams(size=dimension, distance=models.Distance.COSINE),
            sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
            metadata=info.__dict__,
            **self.cluster,
        )
        schema = {
            "keyword": models.PayloadSchemaType.KEYWORD,
            "integer": models.PayloadSchemaType.INTEGER,
            "float": models.PayloadSchemaType.FLOAT,
        }
        for key, kind in INDEXED_FIELDS.items():
            index: Any = schema[kind]
            if key == "language":
                index = models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, is_tenant=True)
            self.client.create_payload_index(name, key, field_schema=index)
        return info

    def set_pointers(self, changes: dict[str, str | None]) -> None:
        """All pointer moves in one `update_collection_aliases` call, which Qdrant applies atomically."""
        from qdrant_client import models

        actions: list[Any] = []
        for role, name in changes.items():
            alias = alias_name(self.alias, role)
            if self.pointer(role):
                actions.append(models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=alias)))
            if name is not None:
                actions.append(
                    models.CreateAliasOperation(create_alias=models.CreateAlias(collection_name=name, alias_name=alias))
                )
        if actions:
            self.client.update_collection_aliases(change_aliases_operations=actions)

    def switch(self, name: str) -> None:
        self.set_pointers({"serving": name})

    def drop_version(self, name: str) -> None:
        held = [role for role in ROLES if self.pointer(role) == name]
        if held:
            raise ValueError(f"'{name}' is the {held[0]} version of alias '{self.alias}'; switch first")
        self.client.delete_collection(name)

    def upsert(self, points: list[VectorPoint], version: str | None = None, batch: int = 512) -> None:
        from qdrant_client import models

        name = self._resolve(version)
        for i in range(0, len(points), batch):
            self.client.upsert(
                name,
                points=[
                    models.PointStruct(id=p.id, vector=self._vectors(p), payload=p.payload)
                    for p in points[i : i + batch]
                ],
                wait=True,
            )

    @staticmethod
    def _vectors(p: VectorPoint) -> dict[str, Any]:
        from qdrant_client import models

        named: dict[str, Any] = {"": _as_list(p.vector)}
        if p.sparse and p.sparse[0]:
            named[SPARSE] = models.SparseVector(indices=p.sparse[0], values=p.sparse[1])
        return named

    def delete(self, flt: PayloadFilter, version: str | None = None) -> None:
        from qdrant_client import models

        self.client.delete(
            self._resolve(version), points_selector=models.FilterSelector(filter=_client_filter(flt)), wait=True
        )

    def query(
        self,
        vector: Sequence[float],
        flt: PayloadFilter | None = None,
        limit: int = 10,
        version: str | None = None,
        with_vectors: bool = False,
        sparse: Sparse | None = None,
    ) -> list[Hit]:
        from qdrant_client import models

        flt_ = _client_filter(flt)
        if sparse and sparse[0]:  # hybrid: dense and BM25 candidates fused by reciprocal rank
            query: Any = models.RrfQuery(rrf=models.Rrf(k=RRF_K))
            prefetch = [
                models.Prefetch(query=_as_list(vector), filter=flt_, limit=limit * 2),
                models.Prefetch(
                    query=models.SparseVector(indices=sparse[0], values=sparse[1]),
                    using=SPARSE,
                    filter=flt_,
                    limit=limit * 2,
                ),
            ]
        else:
            query, prefetch = _as_list(vector), None
        found = self.client.query_points(
            self._resolve(version),
            query=query,
            prefetch=prefetch,
            query_filter=None if prefetch else flt_,
            limit=limit,
            with_payload=True,
            with_vectors=with_vectors,
        ).points
        return [Hit(str(p.id), float(p.score), dict(p.payload or {}), _vec(p.vector)) for p in found]

    def count(self, flt: PayloadFilter | None = None, version: str | None = None) -> int:
        return int(self.client.count(self._resolve(version), count_filter=_client_filter(flt), exact=True).count)

    def scroll(
        self, flt: PayloadFilter | None = None, version: str | None = None, with_vectors: bool = False
    ) -> list[Hit]:
        hits: list[Hit] = []
        offset = None
        while True:
            records, offset = self.client.scroll(
                self._resolve(version),
                scroll_filter=_client_filter(flt),
                limit=1024,
                offset=offset,
                with_payload=True,
                with_vectors=with_vectors,
            )
            hits += [Hit(str(r.id), 0.0, dict(r.payload or {}), _vec(r.vector)) for r in records]
            if offset is None:
                return hits


def _client_filter(flt: PayloadFilter | None) -> Any:
    if flt is None:
        return None
    from qdrant_client import models

    def condition(kind: str, key: str, value: Any) -> Any:
        if kind == "any":
            return models.FieldCondition(key=key, match=models.MatchAny(any=value))
        if kind == "range":
            return models.FieldCondition(key=key, range=models.Range(gte=value[0], lte=value[1]))
        return models.HasIdCondition(has_id=value)

    must, must_not = ([condition(*c) for c in part] for part in flt.clauses())
    return models.Filter(must=must or None, must_not=must_not or None) if (must or must_not) else None
