"""The embedded engine: Qdrant's own Rust engine in-process (qdrant-edge), one shard folder per
collection version under MOVREC_HOME, and the pointers in `aliases.json`, replaced atomically
(write + rename). Opening a shard costs ~70 ms, so a long-lived reader (`keep_open=True`, the API)
keeps the serving shard open across queries (see `edge_lock.py`)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from . import types
from .edge_lock import exclusive, held_reader, store_lock
from .types import (
    INDEXED_FIELDS,
    RRF_K,
    SPARSE,
    Hit,
    PayloadFilter,
    Sparse,
    VectorPoint,
    VersionInfo,
    as_list,
    hit_of,
    translate,
)
from .versions import VersionedStore


class EdgeStore(VersionedStore):
    """Qdrant Edge shards under `root`, one folder per version, plus an atomic alias file."""

    def __init__(
        self, root: Path, alias: str = "movies", lock_timeout_s: float = 120.0, keep_open: bool = False
    ) -> None:
        self.root = Path(root)
        self.alias = alias
        self.root.mkdir(parents=True, exist_ok=True)
        self.lock_timeout_s = lock_timeout_s
        self._lock = store_lock(self.root, lock_timeout_s)
        self._held: tuple[str, Any] | None = None
        self._reader = held_reader(self.root, lock_timeout_s) if keep_open else None
        self._terms: tuple[tuple[str, int], types.TermCounts] | None = None  # (folder, its mtime), counts

    # the primitives of VersionedStore
    def _dir(self, name: str) -> Path:
        return self.root / "collections" / name

    def _pointers(self) -> dict[str, str]:
        path = self.root / "aliases.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def _move_pointers(self, current: dict[str, str], changes: dict[str, str | None]) -> None:
        aliases = dict(current)
        for alias, name in changes.items():
            if name is None:
                aliases.pop(alias, None)
            else:
                aliases[alias] = name
        tmp = self.root / f".aliases.{os.getpid()}.json"
        tmp.write_text(json.dumps(aliases, indent=2))
        tmp.replace(self.root / "aliases.json")

    def _exists(self, name: str) -> bool:
        return (self._dir(name) / "movrec.json").exists()

    def _delete_version(self, name: str) -> None:
        shutil.rmtree(self._dir(name), ignore_errors=True)

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        with exclusive(self.root, self._lock):
            yield

    # versions
    def versions(self, counts: bool = True) -> list[VersionInfo]:
        infos = []  # this alias's versions only: one root can hold several collections (movies, users)
        for meta in sorted((self.root / "collections").glob(f"{self.alias}__*/movrec.json")):
            info = self._info(meta.parent.name)
            info.points = self.count(version=info.name) if counts else None
            infos.append(info)
        return infos

    def _info(self, name: str) -> VersionInfo:
        return VersionInfo(**json.loads((self._dir(name) / "movrec.json").read_text()))

    def create_version(
        self, name: str, dimension: int, model: str, second: types.SecondLayout | None = None, graph: bool = False
    ) -> VersionInfo:
        from qdrant_edge import (
            Distance,
            EdgeConfig,
            EdgeOptimizersConfig,
            EdgeShard,
            EdgeSparseVectorParams,
            EdgeVectorParams,
            HnswIndexConfig,
            Modifier,
            ScalarQuantizationConfig,
            ScalarType,
            UpdateOperation,
        )

        info = types.new_version(name, dimension, model, second, graph)
        index = types.DENSE_INDEX
        sizes = info.dense_sizes()
        dense = {name_: EdgeVectorParams(size=size, distance=Distance.Cosine) for name_, size in sizes.items()}
        if info.language_graphs:  # the copies a query filtered to one language walks (types.DenseIndex)
            per_language = HnswIndexConfig(
                m=0,
                payload_m=index.payload_m,
                ef_construct=index.ef_construct,
                full_scan_threshold=index.threshold_kb,
            )
            for name_, size in sizes.items():
                dense[types.by_language(name_)] = EdgeVectorParams(
                    size=size, distance=Distance.Cosine, hnsw_config=per_language, on_disk=index.copies_on_disk
                )
        with self._guard():
            target = self._dir(name)
            if target.exists():
                raise FileExistsError(f"collection version '{name}' already exists")
            staging = target.with_name(f".{name}.creating")
            shutil.rmtree(staging, ignore_errors=True)
            shard = EdgeShard.create(
                str(staging / "shard"),
                EdgeConfig(
                    vectors=dense,
                    sparse_vectors={SPARSE: EdgeSparseVectorParams(modifier=Modifier.Idf)},
                    hnsw_config=HnswIndexConfig(  # m 0: no graph, the int8 copy is scanned
                        m=index.m if graph else 0,
                        ef_construct=index.ef_construct,
                        full_scan_threshold=index.threshold_kb,
                        payload_m=0,  # links per language are the copies' (above)
                    ),
                    quantization_config=ScalarQuantizationConfig(
                        ScalarType.Int8, quantile=index.quantile, always_ram=True
                    ),
                    optimizers=EdgeOptimizersConfig(indexing_threshold=index.threshold_kb),
                ),
            )
            for key, kind in INDEXED_FIELDS.items():
                shard.update(UpdateOperation.create_field_index(key, _field_index(key, kind)))
            shard.flush()
            shard.close()
            (staging / "movrec.json").write_text(json.dumps(info.__dict__))
            staging.rename(target)
        return info

    # shards
    def _load(self, name: str) -> Any:
        from qdrant_edge import EdgeShard

        return EdgeShard.load(str(self._dir(name) / "shard"))

    @contextlib.contextmanager
    def _shard(self, version: str | None, exclusive_: bool = False) -> Iterator[Any]:
        held = self._held
        if held is not None and held[0] == (version or self.serving_version()):
            yield held[1]
            return
        if self._reader is not None and not exclusive_:
            with self._reader.shard(version, self._resolve, self._load) as shard:
                yield shard
            return
        with self._guard():
            shard = self._load(self._resolve(version))
            try:
                yield shard
            finally:
                shard.close()

    def _writable(self, version: str | None) -> Any:
        # A long-lived reader writes through the shard it holds: it holds the store's lock already,
        # and closing and reopening a large shard around a small write costs far more than the write
        # (measured: 0.2 s per open at 94k user points, three opens per real-time update).
        if self._reader is not None and self._held is None:
            return self._reader.shard(version, self._resolve, self._load)
        return self._shard(version, exclusive_=True)

    @contextlib.contextmanager
    def session(self, version: str | None = None) -> Iterator[EdgeStore]:
        """Keep one version's shard open (and the store locked) across many operations: for batch work
        such as an evaluation, where opening the shard per query would cost more than the query."""
        name = self._resolve(version)
        with self._shard(name, exclusive_=True) as shard:
            self._held = (name, shard)
            try:
                yield self
            finally:
                self._held = None

    # data
    def upsert(self, points: list[VectorPoint], version: str | None = None, batch: int = 512) -> None:
        from qdrant_edge import Point, SparseVector, UpdateOperation

        info = self.version_info(version)

        def vectors(p: VectorPoint) -> dict[str, Any]:
            named: dict[str, Any] = types.dense_vectors(p, info.language_graphs, info.seconds)
            if p.sparse and p.sparse[0]:
                named[SPARSE] = SparseVector(*p.sparse)
            return named

        with self._writable(version) as shard:
            for i in range(0, len(points), batch):
                shard.update(
                    UpdateOperation.upsert_points([Point(p.id, vectors(p), p.payload) for p in points[i : i + batch]])
                )
            shard.flush()
            self._write_record(version, written=self._record(version).get("written", 0) + len(points))

    def optimize(self, version: str | None = None, due_only: bool = False) -> bool:
        # qdrant-edge never optimizes by itself (no background optimizer in-process): without this
        # call every query scans every point (measured: 11 ms at 100k, bench/query.py)
        if due_only and self._record(version).get("written", 0) < types.DENSE_INDEX.defer_points:
            return False
        with self._writable(version) as shard:
            changed = bool(shard.optimize())
            self._write_record(version, points=int(shard.info().points_count), written=0)
        return changed

    def _record(self, version: str | None) -> dict[str, int]:
        """The version's `size.json`: its points as of the last optimize() ("points") and the points
        written since ("written")."""
        sidecar = self._dir(self._resolve(version)) / "size.json"
        return json.loads(sidecar.read_text()) if sidecar.exists() else {}

    def _write_record(self, version: str | None, **changes: int) -> None:
        # called with the shard held for writing: no other process updates the record meanwhile
        sidecar = self._dir(self._resolve(version)) / "size.json"
        partial = sidecar.with_name(f".size.{os.getpid()}.json")
        partial.write_text(json.dumps(self._record(version) | changes))
        partial.replace(sidecar)

    def size(self, version: str | None = None) -> int:
        # recorded by the last optimize(): counting would open the shard, and take it from the API
        # process that holds it, on every tick of the sensor that asks (a version from before this
        # record is counted)
        points = self._record(version).get("points")
        return int(points) if points is not None else self.count(version=version)

    def indexed_vectors(self, version: str | None = None) -> int:
        """How many vectors are in optimized segments (with their int8 copy; the rest are scanned as written)."""
        with self._shard(version) as shard:
            return int(shard.info().indexed_vectors_count)

    def delete(self, flt: PayloadFilter, version: str | None = None) -> None:
        from qdrant_edge import UpdateOperation

        with self._writable(version) as shard:
            shard.update(UpdateOperation.delete_points_by_filter(edge_filter(flt)))
            shard.flush()

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
        return self.query_batch([types.Search(vector, flt, limit, sparse, candidates, with_vectors)], version)[0]

    def query_batch(self, searches: list[types.Search], version: str | None = None) -> list[list[Hit]]:
        from qdrant_edge import QueryBatchRequest

        if not searches:
            return []
        name = self._resolve(version)  # once: the pointers are a file read
        copies = self.version_info(name).language_graphs
        requests = [self._request(search, copies) for search in searches]
        with self._shard(name) as shard:
            found = [shard.query(requests[0])] if len(requests) == 1 else shard.query_batch(QueryBatchRequest(requests))
        return [[hit_of(p) for p in hits] for hits in found]

    @staticmethod
    def _request(search: types.Search, copies: bool = False) -> Any:
        """`copies`: the version has per-language copies of its dense vectors, which a query filtered
        to one language walks instead (`types.by_language`)."""
        from qdrant_edge import Fusion, Prefetch, Query, QueryRequest, SparseVector

        def named(name: str) -> str | None:
            return types.vector_for(name, search.flt, copies)

        dense = Query.Nearest(as_list(search.vector), using=named(""))
        params = _search_params()
        flt_, sparse = edge_filter(search.flt), search.sparse
        # hybrid: dense (e5 and the asked second models) and BM25 candidates, fused (types.Fusion)
        if sparse and sparse[0]:
            fusion = types.FUSION
            depth = search.candidates or fusion.prefetch(search.limit)
            prefetches = [
                Prefetch(limit=depth, query=dense, filter=flt_, params=params),
                Prefetch(limit=depth, query=Query.Nearest(SparseVector(*sparse), using=SPARSE), filter=flt_),
            ]
            for name_, vector in zip(types.second_names(len(search.seconds)), search.seconds):
                if vector is not None:
                    second = Query.Nearest(as_list(vector), using=named(name_))
                    prefetches.append(Prefetch(limit=depth, query=second, filter=flt_, params=params))
            fused = Fusion.Dbsf() if fusion.method == "dbsf" else Fusion.Rrf(k=RRF_K, weights=fusion.weights(search))
            renown_weight = fusion.formula_weight(search)
            if renown_weight:  # the fused list rescored by the engine's formula (`Fusion.renown_weight`)
                prefetches = [Prefetch(limit=fusion.rescored(search.limit), prefetches=prefetches, query=fused)]
                fused = _renown_formula(renown_weight)
            return QueryRequest(
                limit=search.limit,
                prefetches=prefetches,
                query=fused,
                with_payload=_payload(search),
                with_vector=search.with_vectors,
            )
        return QueryRequest(
            limit=search.limit,
            query=dense,
            filter=flt_,
            params=params,
            with_payload=_payload(search),
            with_vector=search.with_vectors,
        )

    def recommend(self, examples: types.Examples, version: str | None = None) -> list[Hit]:
        from qdrant_edge import Query, QueryRequest, RecommendQuery

        name = self._resolve(version)
        using = types.vector_for("", examples.flt, self.version_info(name).language_graphs)
        query = RecommendQuery([as_list(v) for v in examples.liked], [as_list(v) for v in examples.disliked])
        request = QueryRequest(
            limit=examples.limit,
            query=Query.RecommendBestScore(query, using=using),
            filter=edge_filter(examples.flt),
            params=_search_params(),
            with_payload=True,
            with_vector=examples.with_vectors,
        )
        with self._shard(name) as shard:
            found = shard.query(request)
        return [hit_of(p) for p in found]

    def count(self, flt: PayloadFilter | None = None, version: str | None = None) -> int:
        from qdrant_edge import CountRequest

        with self._shard(version) as shard:
            return int(shard.count(CountRequest(exact=True, filter=edge_filter(flt))))

    def write_terms(self, language: str, counts: types.TermCounts, version: str | None = None) -> None:
        # a file per language beside the shard, replaced whole: a reader sees the old counts or the new
        folder = self._dir(self._resolve(version)) / "terms"
        folder.mkdir(exist_ok=True)
        target = folder / f"{re.sub(r'[^A-Za-z0-9_-]', '_', language)}.json"
        partial = folder / f".{target.stem}.{os.getpid()}.json"
        partial.write_text(json.dumps(counts.to_json()))
        partial.replace(target)

    def terms(self, version: str | None = None) -> types.TermCounts:
        folder = self._dir(self._resolve(version)) / "terms"
        if not folder.is_dir():
            return types.TermCounts()
        # read again only when a language's file was replaced (the folder's mtime moves): a search
        # asks for them every time
        key = (str(folder), folder.stat().st_mtime_ns)
        if self._terms is None or self._terms[0] != key:
            parts = (types.TermCounts.from_json(json.loads(f.read_text())) for f in sorted(folder.glob("[!.]*.json")))
            self._terms = (key, types.TermCounts.merged(parts))
        return self._terms[1]

    def languages(self, version: str | None = None) -> list[str]:
        from qdrant_edge import FacetRequest

        with self._shard(version) as shard:
            found = shard.facet(FacetRequest("language", limit=1000, exact=False))
        return sorted(str(hit.value) for hit in found.hits)

    def scroll(
        self,
        flt: PayloadFilter | None = None,
        version: str | None = None,
        with_vectors: bool = False,
        fields: list[str] | None = None,
    ) -> list[Hit]:
        from qdrant_edge import ScrollRequest

        hits: list[Hit] = []
        offset = None
        with self._shard(version) as shard:
            while True:
                records, offset = shard.scroll(
                    ScrollRequest(
                        offset=offset,
                        limit=1024,
                        filter=edge_filter(flt),
                        with_payload=fields or True,
                        with_vector=with_vectors,
                    )
                )
                hits += [hit_of(r) for r in records]
                if offset is None:
                    return hits


def _payload(search: types.Search) -> Any:
    from qdrant_edge import PayloadSelector

    return PayloadSelector.Exclude(list(search.without)) if search.without else True


def edge_filter(flt: PayloadFilter | None) -> Any:
    from qdrant_edge import FieldCondition, Filter, HasIdCondition, MatchAny, RangeFloat

    def condition(kind: str, key: str, value: Any) -> Any:
        if kind == "any":
            return FieldCondition(key=key, match=MatchAny(value))
        if kind == "range":
            return FieldCondition(key=key, range=RangeFloat(gte=value[0], lte=value[1]))
        return HasIdCondition({uuid.UUID(p) for p in value})

    return translate(flt, condition, lambda must, must_not: Filter(must=must, must_not=must_not))


def _field_index(key: str, kind: str) -> Any:
    """A payload index. The language (`types.TENANT_FIELD`) is the tenant, stored by value, and the
    only field that may get graph links of its own (`DenseIndex.payload_m`); links per genre, kind or
    movie would multiply the build for filters no query leans on."""
    from qdrant_edge import FloatIndexParams, IntegerIndexParams, KeywordIndexParams

    if key == types.TENANT_FIELD:
        return KeywordIndexParams(is_tenant=True, enable_hnsw=True)
    if kind == "keyword":
        return KeywordIndexParams(enable_hnsw=False)
    if kind == "integer":
        return IntegerIndexParams(lookup=True, range=True, enable_hnsw=False)
    return FloatIndexParams(enable_hnsw=False)


def _search_params() -> Any:
    """Dense search: the int8 copy scanned (or a version's graph walked), the best candidates
    rescored by the original vectors (`types.DenseIndex`); a filtered walk of a graph looks two links
    ahead (Qdrant's ACORN) where the filter keeps few points. A version built before quantization was
    configured has no copy and is scanned as it is."""
    from qdrant_edge import AcornSearchParams, QuantizationSearchParams, SearchParams

    index = types.DENSE_INDEX
    rescored = QuantizationSearchParams(rescore=True, oversampling=index.oversampling)
    acorn = AcornSearchParams(enable=True, max_selectivity=index.acorn_selectivity)
    return SearchParams(hnsw_ef=index.ef, quantization=rescored, acorn=acorn)


def _renown_formula(weight: float) -> Any:
    """`$score + weight x renown`: the prefetched (fused) score and the point's renown (0 where a
    version's points predate it)."""
    from qdrant_edge import Expression, Formula

    bonus = Expression.Mult([Expression.Constant(weight), Expression.Variable("renown")])
    return Formula(Expression.Sum([Expression.Variable("$score"), bonus]), defaults={"renown": 0.0})
