"""The value types every engine speaks: points, hits, filters, versions, and deterministic ids."""

from __future__ import annotations

import math
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

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
    "user_id": "keyword",  # the users collection
    "renown": "float",  # read by the hybrid query's score formula (`Fusion.renown_weight`)
}
RRF_K = 60  # reciprocal rank fusion constant (Qdrant's default)
# the fused candidates the renown formula rescores, x the limit. search() fetches 8 x top_k x
# `Fusion.depth` per list and reads back 2 x top_k hits; rescoring all of the fused list (400 for
# top 10) took 0.6 of the engine's 4.5 ms at 10k movies, while rescoring the best 100 gave every one
# of bench/search_quality.py's 6,834 queries (all sets, the unseen descriptions too) the same top 10
# (4 changed one query's, 3 six, 2 fifty-four). BENCHMARKS.md, "GET /search".
RESCORED = 5


@dataclass(frozen=True)
class Search:
    """One nearest-points query of a batch (`VectorStore.query_batch`); the fields mean what
    `VectorStore.query`'s arguments do."""

    vector: Sequence[float]
    flt: PayloadFilter | None = None
    limit: int = 10
    sparse: tuple[list[int], list[float]] | None = None
    candidates: int | None = None
    with_vectors: bool = False
    # the query by each second model (`second_names`), None where that model is not asked; hybrid only
    seconds: tuple[Sequence[float] | None, ...] = ()
    # the renown formula's weight for this query (`Fusion.renown_for`); None: `Fusion.renown_weight`
    renown_weight: float | None = None
    # payload fields left out of the hits: a transcript chunk's `lines` where no hit quotes them
    # (25 lines a chunk: an evidence query for 160 chunks 1.2 ms without lines, 4.0 ms with, 2.0
    # ms with them left out; a one-off timing on the embedded engine)
    without: tuple[str, ...] = ()


@dataclass(frozen=True)
class Examples:
    """A recommend query (`VectorStore.recommend`): points like the `liked` vectors and unlike the
    `disliked` ones, under `flt`."""

    liked: list[Sequence[float]]
    disliked: list[Sequence[float]]
    flt: PayloadFilter | None = None
    limit: int = 10
    with_vectors: bool = False


@dataclass(frozen=True)
class Fusion:
    """How the hybrid query fuses its candidate lists (e5, BM25 and each asked second model; both
    engines read this one setting), then rescores them by renown: each list fetches `depth` x the
    limit; "rrf" is reciprocal-rank fusion weighing the dense lists by `dense_weight` against 1 for
    the lexical one, "dbsf" Qdrant's distribution-based score fusion (each list's scores normalised
    by their mean and spread, then summed; no weights).
    Chosen on the tuning part of bench/search_quality.py (EVALUATION.md): over depth 2 RRF, depth 5
    DBSF found more of the described movies (Recall@10 0.504 -> 0.524) and ranked tags and
    cross-lingual queries' answers higher (MRR@10 0.076 -> 0.082, 0.066 -> 0.074)."""

    depth: int = 5
    dense_weight: float = 1.0
    method: str = "dbsf"
    # the engine's score formula adds `renown_weight` x the point's `renown` (0-1, `renown`) to the
    # fused score: between two movies the lists rank alike, the one more people know. Chosen on the
    # tuning part: the largest weight that costs descriptions of movies drawn uniformly from the
    # catalogue nothing, while tags and cross-lingual queries (about movies people watch) rank their
    # answers higher. 0.5 by the plain simulation (bench/renown_prior.py); 0.8 (of 0.5, 0.8, 1.0,
    # 1.2) by the product's own search since the query terms' IDF, with packaged or adapted models
    # (bench/catalogue_adaptation.py --variants, EVALUATION.md step 11); 0.5 for whole sentences
    # since short queries weigh it by their own `short_renown_weight` (below). 0: the fused score alone.
    renown_weight: float = 0.5
    # the same for queries that do not read as English (`lexical.written_in`); None: `renown_weight`.
    # Measured from 0 to 3 (bench/catalogue_adaptation.py --sets, EVALUATION.md step 12): a heavier
    # prior finds more of the cross-lingual set's well-known films (2.0: held-out 0.57-0.59 -> 0.82) and
    # fewer of the translated descriptions of movies drawn from the whole catalogue (tuning part
    # 0.453 -> 0.391), whose best weight is 0.8 as for English queries; so one weight, by the same rule
    other_renown_weight: float | None = None
    # for queries of fewer than `short_tokens` of the first model's tokens, in any language; None: as
    # any other query. A few words say less about which film is meant than a whole sentence does, so
    # the prior counts for more: by the rule above (the most cross-lingual queries found on the
    # tuning part, no description or translated description lost there), 1.0 under 30 tokens and 0.5
    # over, against 0.8 for all (bench/renown_by_confidence.py, then bench/search_quality.py
    # --variants; EVALUATION.md step 23). 30 tokens is about 20 English words: tag lists and what
    # people type fall under it, a film's described plot over it.
    short_renown_weight: float | None = 1.0
    short_tokens: int = 30

    def renown_for(self, english: bool, tokens: int | None = None) -> float:
        if self.short_renown_weight is not None and tokens is not None and tokens < self.short_tokens:
            return self.short_renown_weight
        return self.renown_weight if english or self.other_renown_weight is None else self.other_renown_weight

    def formula_weight(self, search: Search) -> float:
        """The renown weight of `search`'s score formula (0: no formula)."""
        return self.renown_weight if search.renown_weight is None else search.renown_weight

    def weights(self, search: Search) -> list[float]:
        """RRF weights in the order the engines prefetch: dense, lexical, then each asked second model's."""
        return [self.dense_weight, 1.0] + [self.dense_weight for v in search.seconds if v is not None]

    def prefetch(self, limit: int) -> int:
        return max(limit * self.depth, limit)

    def rescored(self, limit: int) -> int:
        """How many of the fused list the renown formula rescores: its best `RESCORED` x `limit`, not
        all the candidates the lists fetched (`Search.candidates`: 400 for search()'s top 10); a
        movie further down passed none of them in any benchmark query."""
        return min(self.prefetch(limit), max(limit * RESCORED, limit))

    def relevance(self, score: float, lists: int = 2, renown_: float = 0.0, weight: float | None = None) -> float:
        """A fused score as a share of the best one possible, how well the text matched (the
        point's `renown_` bonus, at `weight` or `renown_weight`, taken out): DBSF adds `lists` scores
        each normalised to 0-1; RRF at best ranks first on every side."""
        best = float(lists) if self.method == "dbsf" else (self.dense_weight + lists - 1.0) / (RRF_K + 1)
        return (score - (self.renown_weight if weight is None else weight) * renown_) / best


# How widely known a movie is, on 0-1, from its catalogue popularity (a vote count where the
# catalogue has one, `catalogue.COLUMNS`): log-scaled between a fixed floor and ceiling, so that a
# movie's value never depends on the rest of the catalogue (an added movie rewrites no other point).
RENOWN_FLOOR, RENOWN_CEILING = 100.0, 20_000.0


def renown(popularity: float | None) -> float:
    """0 at or below `RENOWN_FLOOR` votes (and for a movie no catalogue knows), 1 at or above the
    ceiling, log-linear between."""
    if not popularity or popularity <= RENOWN_FLOOR:
        return 0.0
    low, high = math.log1p(RENOWN_FLOOR), math.log1p(RENOWN_CEILING)
    return round(min(1.0, (math.log1p(popularity) - low) / (high - low)), 4)


FUSION = Fusion()


@dataclass(frozen=True)
class DenseIndex:
    """How new collection versions index their dense vectors: segments of more than `threshold_kb`
    of vectors get an int8 copy (Qdrant's scalar quantization, in RAM) when the store is optimized,
    scanned first; the best `oversampling` x limit candidates are rescored with the original vectors.
    A version built for `graph_points` points or more (`wants_graph`) also gets an HNSW graph over
    all its points, for queries across languages (and a filter keeping under `acorn_selectivity` of
    the points walks it with Qdrant's ACORN, two links ahead, past the points it drops), and a copy
    of each dense vector (`by_language`) whose graph links only points of the same language
    (m 0, `payload_m`: Qdrant's multitenancy layout, per named vector), for queries kept to one
    language (`one_language`).

    Measured (BENCHMARKS.md; bench/quantized_scan.py on the real vectors of the 10k-movie index,
    bench/query.py on clustered synthetic ones): at 30k points the rescored int8 scan takes 0.9 ms
    p50 against 2.8 ms for the exact float scan, the same recall, and a graph cost search quality on
    the 10k index (descriptions Recall@10 0.451 -> 0.426). At 1M points the main graph answers an
    unfiltered query in 2.1 ms against 42.7 ms for the scan (recall 1.000 both), but a query
    filtered to one language takes 22.6 ms walking it with ACORN (recall 0.989; 0.56 without ACORN)
    and 21.3 ms scanning: a walk that may step on a quarter of the points loses its way. The
    per-language graphs answer it in 3.5 ms through `EdgeStore.query` (recall 0.994 at search
    ef 256; 1.9 ms at 100k against 2.8 ms for the scan), but alone they cannot answer a query
    across languages (the engine walks them for it too and found a quarter of the neighbours), and
    with m 16 as well `payload_m` adds no links (the engine skips blocks as large as a language's),
    hence the copy: the vectors twice (the copy's originals memory-mapped, `copies_on_disk`; its
    int8 copy in RAM) and the graphs' build twice as long (453 s at 1M on 2 cores). From 50k
    points the graphs beat the scan (1.37 against 1.49 ms at 50k); on the index's real vectors
    (30k) ef 256 found 0.988 of the exact top 10 under a language filter (0.968 at ef 128).

    A sync asks for optimization only once `defer_points` points were written since the last one
    (`VectorStore.optimize(due_only=True)`): the engine folds the new points into the segment they
    merge with and rebuilds it, 4.5-5 s at 30k points however few were written (0.65 s per small
    partition of the 10k catalogue's first ingest, 42 of them), while until then the new points are
    scanned as written, exactly: 2,000 of them cost a search 0.1-0.5 ms at 10k movies (`search()`
    p50 5.2-5.3 vs 4.8-5.1 ms). More target segments (4 or 8, so a small write merges with a small
    segment) cut that rebuild to 1.1-1.4 s but cost every search 0.3-0.9 ms (5.2/5.8 vs 4.9 ms p50
    at 10k movies), so the engine's default is kept."""

    m: int = 16
    payload_m: int = 16  # links among a language's points (`TENANT_FIELD`), in the per-language copies
    copies_on_disk: bool = True  # the copies' original vectors memory-mapped; their int8 copy stays in RAM
    ef_construct: int = 100
    graph_points: int = 50_000
    threshold_kb: int = 10
    ef: int = 256  # candidates kept while walking a graph
    acorn_selectivity: float = 0.4  # filters keeping less than this share walk the graph with ACORN
    defer_points: int = 2_000  # points written before a sync's optimization is due (above)
    oversampling: float = 2.0
    quantile: float = 0.99  # of the values the int8 range spans (outliers clipped)

    def wants_graph(self, points: int) -> bool:
        """Whether a version of `points` points is built with graphs (else its int8 copy is scanned)."""
        return points >= self.graph_points


DENSE_INDEX = DenseIndex()
# the payload field a language-partitioned query filters on: a tenant of the collection, with its
# own graph links where `DenseIndex.payload_m` asks for them
TENANT_FIELD = "language"
SPARSE = "bm25"  # the sparse (lexical) vector's name; the dense vector is the unnamed one
# The second dense vectors' names: other embedding models' readings of the same text (an English
# one and a multilingual one beside e5), more candidate lists in the hybrid fusion. Versions record
# their models (`VersionInfo.second`); versions without them have no such vectors.
SECOND = "second"


def second_names(count: int) -> list[str]:
    """The names of a version's `count` second dense vectors, in its models' order: the first is
    `SECOND` (the one name versions with a single second model have), then "second_2", ..."""
    return [SECOND if i == 0 else f"{SECOND}_{i + 1}" for i in range(count)]


def split_seconds(vector: Sequence[float], dimensions: Sequence[int]) -> list[list[float]]:
    """The second models' vectors, stored end to end (`VectorPoint.second`), one per model, each
    of unit length (a profile's is the mean of its texts' concatenations)."""
    out, start = [], 0
    flat = np.asarray(vector, dtype=np.float32)
    for size in dimensions:
        part = flat[start : start + size]
        out.append((part / (np.linalg.norm(part) or 1.0)).tolist())
        start += size
    if start != len(flat):
        raise ValueError(f"a second vector of {len(flat)} values for models of {list(dimensions)} dimensions")
    return out


def by_language(name: str) -> str:
    """The name of dense vector `name`'s copy in a version with graphs (`VersionInfo.language_graphs`):
    the same vector, linked only among points of the same language (`DenseIndex.payload_m`)."""
    return f"{name}_by_language" if name else "by_language"


def one_language(flt: PayloadFilter | None) -> bool:
    """Whether `flt` keeps a single language's points: what a per-language graph can answer. Other
    filters walk the version's main graph; a walk of the per-language graphs would stay in the
    language it started in."""
    return flt is not None and len(flt.languages) == 1


def vector_for(name: str, flt: PayloadFilter | None, copies: bool) -> str | None:
    """The vector a query of dense vector `name` under `flt` reads, in a version with per-language
    copies (`copies`) or without; None: the unnamed one."""
    return by_language(name) if copies and one_language(flt) else (name or None)


# The format of the points this release writes, recorded by each version (`VersionInfo.lexical`);
# an older one is rebuilt blue/green, its vectors reused. 1: a hand-written hashed BM25; 2: Qdrant's
# Bm25, per-language analyzers; 3: the same sparse vectors, and the payload's `renown`, which the
# hybrid query's score formula reads; 4: the same points, and each language's term counts
# (`TermCounts`), which weigh a query's terms.
LEXICAL_VERSION = 4
Sparse = tuple[list[int], list[float]]


@dataclass(frozen=True)
class TermCounts:
    """How many of a version's points hold each BM25 term (`counts`, by term id) among the points
    with a BM25 vector (`documents`): one language's, or (`merged`) the version's.

    The engine multiplies a term's IDF into the score once (`Modifier.IDF`, query terms weighing 1);
    weighting each query term by its IDF as well, as TF-IDF's cosine does, found more descriptions
    (bench/document_signals.py: the fused lists' Recall@10 0.586 -> 0.603 on the tuning part). The
    engine keeps these counts but does not return them, so movrec writes them beside the points."""

    documents: int = 0
    counts: dict[int, int] = field(default_factory=dict)

    def idf(self, term: int) -> float:
        """Qdrant's IDF of `term` (its `Modifier.IDF`): ln(1 + (N - n + 0.5) / (n + 0.5))."""
        n = self.counts.get(term, 0)
        return math.log(1.0 + (self.documents - n + 0.5) / (n + 0.5))

    @staticmethod
    def merged(parts: Iterable[TermCounts]) -> TermCounts:
        documents, counts = 0, Counter[int]()
        for part in parts:
            documents += part.documents
            counts.update(part.counts)
        return TermCounts(documents, dict(counts))

    def to_json(self) -> dict[str, Any]:
        return {"documents": self.documents, "counts": {str(t): n for t, n in self.counts.items()}}

    @staticmethod
    def from_json(data: dict[str, Any]) -> TermCounts:
        return TermCounts(int(data["documents"]), {int(t): int(n) for t, n in data["counts"].items()})


def point_id(movie_id: str, kind: str, index: int) -> str:
    """Deterministic id: the same chunk of the same movie always lands on the same point."""
    return str(uuid.uuid5(POINT_NAMESPACE, f"{movie_id}\x1f{kind}\x1f{index}"))


@dataclass
class VectorPoint:
    """A point to write. Its vectors are lists or float32 arrays (`indexing.build_points` hands
    arrays: compare points by `indexing.point_digest`, not `==`, which compares arrays elementwise)."""

    id: str
    vector: Sequence[float] | np.ndarray
    payload: dict[str, Any]
    sparse: Sparse | None = None
    # the second models' vectors end to end, in the version's order (`split_seconds`)
    second: Sequence[float] | np.ndarray | None = None


def dense_vectors(point: VectorPoint, copies: bool, seconds: Sequence[int] = ()) -> dict[str, list[float]]:
    """A point's dense vectors by name, with their per-language copies when the version has them;
    `seconds`: the dimensions of the version's second models."""
    named = {"": as_list(point.vector)}
    if point.second is not None and seconds:
        named |= dict(zip(second_names(len(seconds)), split_seconds(point.second, seconds)))
    return named | ({by_language(name): vector for name, vector in named.items()} if copies else {})


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
    user_ids: tuple[str, ...] = ()  # the users collection
    exclude_movie_ids: tuple[str, ...] = ()
    exclude_point_ids: tuple[str, ...] = ()
    point_ids: tuple[str, ...] = ()  # any of

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
                ("user_id", self.user_ids),
            )
            if values
        ]
        if self.point_ids:
            must.append(("ids", "", list(self.point_ids)))
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
    points: int | None = None  # None: not counted (`versions(counts=False)`)
    created_at: float = field(default_factory=time.time)
    lexical: int = 1  # versions written before formats were recorded hold format 1
    # the second dense vectors' models (`EmbedderSettings.second_fingerprint`); None: no such vectors
    second: str | None = None
    second_dimension: int | None = None  # all of them together
    # each one's, in order; None: one model (records from before several), `second_dimension`
    second_dimensions: list[int] | None = None
    graph: bool = False  # built with HNSW graphs (`DenseIndex.wants_graph`); else its int8 copy is scanned
    # each dense vector also copied under `by_language(name)`, with a graph per language: what a
    # query filtered to one language walks (`DenseIndex`); versions from before have none
    language_graphs: bool = False

    @property
    def seconds(self) -> list[int]:
        """The second dense vectors' dimensions, in order (`second_names`)."""
        if not self.second or not self.second_dimension:
            return []
        return list(self.second_dimensions or [self.second_dimension])

    def dense_sizes(self) -> dict[str, int]:
        """Every dense vector's name and size (not the per-language copies)."""
        return {"": self.dimension} | dict(zip(second_names(len(self.seconds)), self.seconds))


SecondLayout = tuple[str, Sequence[int]]  # (fingerprint, dimensions) of a version's second models


def new_version(name: str, dimension: int, model: str, second: SecondLayout | None, graph: bool = False) -> VersionInfo:
    """What a version records of itself when created: its vectors' models and sizes, this release's
    lexical format, whether it has graphs. `second`: the second models' (fingerprint, dimensions)."""
    sizes = list(second[1]) if second else []
    return VersionInfo(
        name=name,
        dimension=dimension,
        model=model,
        lexical=LEXICAL_VERSION,
        second=second[0] if second else None,
        second_dimension=sum(sizes) if second else None,
        second_dimensions=sizes if second else None,
        graph=graph,
        language_graphs=graph,
    )


def translate(flt: PayloadFilter | None, condition: Any, combine: Any) -> Any:
    """An engine's filter from `flt`: `condition(kind, key, value)` per clause, `combine(must, must_not)`."""
    if flt is None:
        return None
    must, must_not = ([condition(*c) for c in part] for part in flt.clauses())
    return combine(must or None, must_not or None) if (must or must_not) else None


class NoServingCollection(LookupError):
    pass


def as_list(vector: Sequence[float]) -> list[float]:
    return np.asarray(vector, dtype=np.float32).tolist()


def vector_of(vector: Any) -> list[float] | None:
    """A point's dense vector as a list, from either engine's shape of it."""
    if vector is None:
        return None
    if isinstance(vector, dict):  # {"": [...], SECOND: [...]}: the unnamed one is movrec's vector
        vector = vector.get("")
    return list(vector) if vector is not None else None


def hit_of(point: Any) -> Hit:
    """A scored point (a query's) or a record (a scroll's: no score) of either engine, as a `Hit`."""
    score = float(getattr(point, "score", 0.0) or 0.0)
    return Hit(str(point.id), score, dict(point.payload or {}), vector_of(point.vector))
