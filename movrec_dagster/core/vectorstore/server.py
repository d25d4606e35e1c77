"""A Qdrant server or cluster through qdrant-client (or its local mode, in tests): versions are
collections, the pointers are Qdrant aliases moved with one `update_collection_aliases` call, which
Qdrant applies atomically."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from typing import Any

from . import types
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

TERMS_KEY = "terms:"  # + language: a collection metadata key holding its `types.TermCounts`
TERMS_TTL_S = 30.0


class QdrantServerStore(VersionedStore):
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
        self._terms: tuple[str, float, types.TermCounts] | None = None  # (version, read at), counts
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

    # the primitives of VersionedStore
    def _pointers(self) -> dict[str, str]:
        return {a.alias_name: a.collection_name for a in self.client.get_aliases().aliases}

    def _move_pointers(self, current: dict[str, str], changes: dict[str, str | None]) -> None:
        from qdrant_client import models

        actions: list[Any] = []
        for alias, name in changes.items():
            if alias in current:
                actions.append(models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=alias)))
            if name is not None:
                actions.append(
                    models.CreateAliasOperation(create_alias=models.CreateAlias(collection_name=name, alias_name=alias))
                )
        if actions:
            self.client.update_collection_aliases(change_aliases_operations=actions)

    def _exists(self, name: str) -> bool:
        return True  # not asked on every query: the server answers for a missing collection itself

    def _delete_version(self, name: str) -> None:
        self.client.delete_collection(name)

    @contextlib.contextmanager
    def session(self, version: str | None = None) -> Iterator[QdrantServerStore]:
        """A server keeps its collections open; nothing to hold."""
        yield self

    def versions(self, counts: bool = True) -> list[VersionInfo]:
        out = []
        for c in self.client.get_collections().collections:
            if not c.name.startswith(f"{self.alias}__"):
                continue
            info = self._info(c.name)
            info.points = self.count(version=c.name) if counts else None
            out.append(info)
        return sorted(out, key=lambda v: v.name)

    def _info(self, name: str) -> VersionInfo:
        meta = self.client.get_collection(name).config.metadata or {}
        return VersionInfo(
            name=name,
            dimension=int(meta.get("dimension", 0)),
            model=str(meta.get("model", "")),
            created_at=float(meta.get("created_at", 0)),
            lexical=int(meta.get("lexical", 1)),
            second=meta.get("second"),
            second_dimension=meta.get("second_dimension"),
            second_dimensions=meta.get("second_dimensions"),
            graph=bool(meta.get("graph", False)),
            language_graphs=bool(meta.get("language_graphs", False)),
        )

    def create_version(
        self, name: str, dimension: int, model: str, second: types.SecondLayout | None = None, graph: bool = False
    ) -> VersionInfo:
        from qdrant_client import models

        # a server always builds its main graphs; the per-language copies only for a large version, as
        # the embedded engine does (types.DenseIndex)
        info = types.new_version(name, dimension, model, second, graph=True)
        info.language_graphs = graph
        index = types.DENSE_INDEX
        # "" is the unnamed vector's own name in Qdrant's named-vector map
        sizes = info.dense_sizes()
        cosine = models.Distance.COSINE
        dense = {name_: models.VectorParams(size=size, distance=cosine) for name_, size in sizes.items()}
        if graph:
            per_language = models.HnswConfigDiff(m=0, payload_m=index.payload_m, ef_construct=index.ef_construct)
            for name_, size in sizes.items():
                dense[types.by_language(name_)] = models.VectorParams(
                    size=size, distance=cosine, hnsw_config=per_language, on_disk=index.copies_on_disk
                )
        self.client.create_collection(
            name,
            vectors_config=dense,
            sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
            # the int8 copy and the graph, as the embedded engine builds them for a large version
            # (types.DenseIndex); a server builds its graph in the background at any size, and keeps
            # its own payload links (`payload_m`: its default, unmeasured here)
            hnsw_config=models.HnswConfigDiff(m=index.m, ef_construct=index.ef_construct),
            quantization_config=models.ScalarQuantization(
                scalar=models.ScalarQuantizationConfig(
                    type=models.ScalarType.INT8, quantile=index.quantile, always_ram=True
                )
            ),
            metadata=info.__dict__,
            **self.cluster,
        )
        for key, kind in INDEXED_FIELDS.items():
            self.client.create_payload_index(name, key, field_schema=_field_index(key, kind))
        return info

    def upsert(self, points: list[VectorPoint], version: str | None = None, batch: int = 512) -> None:
        from qdrant_client import models

        name = self._resolve(version)
        info = self.version_info(name)
        for i in range(0, len(points), batch):
            self.client.upsert(
                name,
                points=[
                    models.PointStruct(id=p.id, vector=self._vectors(p, info), payload=p.payload)
                    for p in points[i : i + batch]
                ],
                wait=True,
            )

    @staticmethod
    def _vectors(p: VectorPoint, info: VersionInfo) -> dict[str, Any]:
        from qdrant_client import models

        named: dict[str, Any] = types.dense_vectors(p, info.language_graphs, info.seconds)
        if p.sparse and p.sparse[0]:
            named[SPARSE] = models.SparseVector(indices=p.sparse[0], values=p.sparse[1])
        return named

    def optimize(self, version: str | None = None, due_only: bool = False) -> bool:
        return False  # the server's optimizer builds the index in the background

    def size(self, version: str | None = None) -> int:
        return self.count(version=version)

    def delete(self, flt: PayloadFilter, version: str | None = None) -> None:
        from qdrant_client import models

        self.client.delete(
            self._resolve(version), points_selector=models.FilterSelector(filter=client_filter(flt)), wait=True
        )

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
        if not searches:
            return []
        name = self._resolve(version)
        copies = self.version_info(name).language_graphs
        found = self.client.query_batch_points(name, [self._request(s, copies) for s in searches])
        return [[hit_of(p) for p in response.points] for response in found]

    @staticmethod
    def _request(search: types.Search, copies: bool = False) -> Any:
        """`copies`: as `EdgeStore._request`'s."""
        from qdrant_client import models

        def named(name: str) -> str | None:
            return types.vector_for(name, search.flt, copies)

        flt_, sparse = client_filter(search.flt), search.sparse
        params = _search_params()
        payload = models.PayloadSelectorExclude(exclude=list(search.without)) if search.without else True
        common = {"limit": search.limit, "with_payload": payload, "with_vector": search.with_vectors}
        # hybrid: dense (e5 and the asked second models) and BM25 candidates, fused (types.Fusion)
        if sparse and sparse[0]:
            fusion = types.FUSION
            depth = search.candidates or fusion.prefetch(search.limit)
            prefetch = [
                models.Prefetch(query=as_list(search.vector), using=named(""), filter=flt_, limit=depth, params=params),
                models.Prefetch(
                    query=models.SparseVector(indices=sparse[0], values=sparse[1]),
                    using=SPARSE,
                    filter=flt_,
                    limit=depth,
                ),
            ]
            for name_, vector in zip(types.second_names(len(search.seconds)), search.seconds):
                if vector is not None:
                    prefetch.append(
                        models.Prefetch(
                            query=as_list(vector), using=named(name_), filter=flt_, limit=depth, params=params
                        )
                    )
            fused: Any = (
                models.FusionQuery(fusion=models.Fusion.DBSF)
                if fusion.method == "dbsf"
                else models.RrfQuery(rrf=models.Rrf(k=RRF_K, weights=fusion.weights(search)))
            )
            renown_weight = fusion.formula_weight(search)
            if renown_weight:  # as `EdgeStore._request`: the fused list rescored by the formula
                prefetch = [models.Prefetch(prefetch=prefetch, query=fused, limit=fusion.rescored(search.limit))]
                bonus = models.MultExpression(mult=[renown_weight, "renown"])
                formula = models.SumExpression(sum=["$score", bonus])
                fused = models.FormulaQuery(formula=formula, defaults={"renown": 0.0})
            return models.QueryRequest(query=fused, prefetch=prefetch, **common)
        return models.QueryRequest(query=as_list(search.vector), using=named(""), filter=flt_, params=params, **common)

    def recommend(self, examples: types.Examples, version: str | None = None) -> list[Hit]:
        from qdrant_client import models

        query = models.RecommendInput(
            positive=[as_list(v) for v in examples.liked],
            negative=[as_list(v) for v in examples.disliked],
            strategy=models.RecommendStrategy.BEST_SCORE,
        )
        name = self._resolve(version)
        found = self.client.query_points(
            name,
            query=models.RecommendQuery(recommend=query),
            using=types.vector_for("", examples.flt, self.version_info(name).language_graphs),
            query_filter=client_filter(examples.flt),
            search_params=_search_params(),
            limit=examples.limit,
            with_payload=True,
            with_vectors=examples.with_vectors,
        ).points
        return [hit_of(p) for p in found]

    def count(self, flt: PayloadFilter | None = None, version: str | None = None) -> int:
        return int(self.client.count(self._resolve(version), count_filter=client_filter(flt), exact=True).count)

    def write_terms(self, language: str, counts: types.TermCounts, version: str | None = None) -> None:
        # in the collection's metadata, one key per language (the server merges keys on update)
        name = self._resolve(version)
        self.client.update_collection(name, metadata={f"{TERMS_KEY}{language}": counts.to_json()})
        self._terms = None

    def terms(self, version: str | None = None) -> types.TermCounts:
        # read again after TERMS_TTL_S: the metadata has no cheap change marker, and counts written by
        # another process only reweigh query terms a little (the engine's own IDF is always current)
        name = self._resolve(version)
        if self._terms is None or self._terms[0] != name or time.monotonic() - self._terms[1] > TERMS_TTL_S:
            meta = self.client.get_collection(name).config.metadata or {}
            parts = (types.TermCounts.from_json(v) for k, v in sorted(meta.items()) if k.startswith(TERMS_KEY))
            self._terms = (name, time.monotonic(), types.TermCounts.merged(parts))
        return self._terms[2]

    def languages(self, version: str | None = None) -> list[str]:
        found = self.client.facet(self._resolve(version), key="language", limit=1000, exact=False)
        return sorted(str(hit.value) for hit in found.hits)

    def scroll(
        self,
        flt: PayloadFilter | None = None,
        version: str | None = None,
        with_vectors: bool = False,
        fields: list[str] | None = None,
    ) -> list[Hit]:
        hits: list[Hit] = []
        offset = None
        while True:
            records, offset = self.client.scroll(
                self._resolve(version),
                scroll_filter=client_filter(flt),
                limit=1024,
                offset=offset,
                with_payload=fields or True,
                with_vectors=with_vectors,
            )
            hits += [hit_of(r) for r in records]
            if offset is None:
                return hits


def client_filter(flt: PayloadFilter | None) -> Any:
    from qdrant_client import models

    def condition(kind: str, key: str, value: Any) -> Any:
        if kind == "any":
            return models.FieldCondition(key=key, match=models.MatchAny(any=value))
        if kind == "range":
            return models.FieldCondition(key=key, range=models.Range(gte=value[0], lte=value[1]))
        return models.HasIdCondition(has_id=value)

    return translate(flt, condition, lambda must, must_not: models.Filter(must=must, must_not=must_not))


def _field_index(key: str, kind: str) -> Any:
    """A payload index, as the embedded engine's (`edge._field_index`): the language is the tenant."""
    from qdrant_client import models

    if key == types.TENANT_FIELD:
        return models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, is_tenant=True, enable_hnsw=True)
    if kind == "keyword":
        return models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, enable_hnsw=False)
    if kind == "integer":
        return models.IntegerIndexParams(
            type=models.IntegerIndexType.INTEGER, lookup=True, range=True, enable_hnsw=False
        )
    return models.FloatIndexParams(type=models.FloatIndexType.FLOAT, enable_hnsw=False)


def _search_params() -> Any:
    from qdrant_client import models

    index = types.DENSE_INDEX
    rescored = models.QuantizationSearchParams(rescore=True, oversampling=index.oversampling)
    acorn = models.AcornSearchParams(enable=True, max_selectivity=index.acorn_selectivity)
    return models.SearchParams(hnsw_ef=index.ef, quantization=rescored, acorn=acorn)
