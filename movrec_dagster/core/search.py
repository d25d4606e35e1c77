"""Queries people ask: free-text search and similar movies, one hit per movie. No Dagster here.

A query that *is* a title ("The Godfather", "dune 1984", "matrix") finds that movie first: the
title's normal forms are a keyword-indexed payload field (`title_keys`), looked up with an engine
filter, several movies of that title ordered by the year the query names, then popularity. Every
other hit comes from the hybrid search over titles, overviews and transcript lines.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from typing import Any

from .embedding import Embedder
from .entities import normal_title, title_keys
from .lexical import Vector, query_vector, written_in
from .sentences import excerpt, matched_line, matched_sentence
from .vectorstore import Hit, PayloadFilter, Search, VectorStore
from .vectorstore import types as vtypes

# what free text is searched over: a movie's document (its overview pieces headed by its title) and
# its transcript lines; title points serve exact-title lookups and share the document's vector
CONTENT_KINDS = ("transcript", "overview")
EVIDENCE_KINDS = ("transcript", "overview")
_TRAILING_YEAR = re.compile(r"^(?P<title>.*?\S)[\s,]*[(\[]?(?P<year>(?:18|19|20)\d\d)[)\]]?\s*$")


@dataclass
class MovieHit:
    movie_id: str
    title: str
    language: str
    score: float
    year: int | None
    genres: list[str]
    sentiment: float
    matched_kind: str
    matched_text: str
    start: float | None  # when the matched line is said (a chunk's start where no line is known)
    video_id: str | None = None  # the video whose line matched
    video_kind: str | None = None
    picture_video: str | None = None  # the movie's video whose frame pictures it
    relevance: float | None = None  # `score` on 0-1, for people (see `search`)
    matched_sentence: str | None = None  # the overview sentence or transcript line with the query's words
    renown: float = 0.0  # how widely known (0-1, `vtypes.renown`); search adds a weight x it (`Fusion.renown_for`)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def explanation(self) -> str:
        """The evidence for this hit in words: the transcript line (with its time) or overview that
        matched, down to the sentence holding the query's words where one does."""
        text = (self.matched_sentence or excerpt(self.matched_text)).strip()
        if self.matched_kind == "transcript":
            at = f" at {self.start:.0f} s" if self.start is not None else ""
            video = f" ({self.video_kind or 'video'} {self.video_id})" if self.video_id else ""
            return f'its soundtrack{video} says{at}: "{text}"'
        if self.matched_kind == "overview":
            return f'its overview: "{text}"'
        if self.matched_kind == "title":
            return f'its title: "{text}"'
        return f'closest overall (the mean of all its lines); it begins: "{text}"'


class MovieNotFound(LookupError):
    pass


def resolve_ids(store: VectorStore, keys: list[str]) -> dict[str, str]:
    """Canonical movie ids for ids and aliases (ids a movie was served under before); unknown keys
    are left out. One query for the canonical ones, one for the aliases."""
    if not keys:
        return {}
    # every indexed movie has a profile point (a title-only movie's profile is its title)
    found = {h.payload["movie_id"] for h in store.scroll(PayloadFilter(movie_ids=tuple(keys), kinds=("profile",)))}
    out = {k: k for k in keys if k in found}
    rest = tuple(k for k in keys if k not in out)
    if rest:
        for hit in store.scroll(PayloadFilter(aliases=rest, kinds=("profile",))):
            for alias in set(hit.payload.get("aliases") or []) & set(rest):
                out.setdefault(alias, hit.payload["movie_id"])
    return out


def find_movie(store: VectorStore, key: str) -> str:
    """A movie id from an id, an alias, an exact title (case, accents and punctuation ignored; the most
    popular of several) or the closest title (difflib ratio >= 0.6, for typos): what people type when
    they say "like that movie"."""
    resolved = resolve_ids(store, [key])
    if key in resolved:
        return resolved[key]
    exact = title_matches(store, key, PayloadFilter())
    if exact:
        return exact[0].payload["movie_id"]
    titles: dict[str, str] = {}
    for hit in store.scroll(PayloadFilter(kinds=("profile",))):
        titles.setdefault(normal_title(hit.payload.get("title")), hit.payload["movie_id"])
    wanted = normal_title(key)
    close = difflib.get_close_matches(wanted, list(titles), n=1, cutoff=0.6)
    if close:
        return titles[close[0]]
    raise MovieNotFound(f"'{key}' is not in the index (no movie with that id, title or a close title)")


def movie_hit(hit: Hit, query: Vector | None = None) -> MovieHit:
    """The hit as a person reads it; with the `query`'s lexical vector, the sentence of its matched
    text holding the query's words (`sentences.matched_sentence`)."""
    p = hit.payload
    kind, text = p.get("kind", ""), p.get("text", "")
    if kind == "overview" and not text:  # a movie without an overview: its document is its title
        kind, text = "title", p.get("title") or ""
    sentence, start = None, p.get("start")
    if query is not None and kind in EVIDENCE_KINDS:
        language = written_language(p)
        if p.get("lines"):  # a transcript chunk: its line with the query's words, and when it is said
            start, sentence = matched_line(p["lines"], query, language) or (start, None)
        else:  # an overview, or a chunk written before its lines were kept
            sentence = matched_sentence(text, query, language)
    return MovieHit(
        movie_id=p["movie_id"],
        title=p.get("title") or p["movie_id"],
        language=p.get("language", ""),
        score=round(hit.score, 4),
        year=p.get("year"),
        genres=list(p.get("genres") or []),
        sentiment=float(p.get("sentiment") or 0.0),
        matched_kind=kind,
        matched_text=text,
        start=start,
        video_id=p.get("video_id"),
        video_kind=p.get("video_kind"),
        picture_video=p.get("picture_video"),
        renown=float(p.get("renown") or 0.0),
        matched_sentence=sentence,
    )


def written_language(payload: dict[str, Any]) -> str:
    """The language a point's text is written in (an overview's, read at indexing; a transcript's is
    its partition's). A version written before `text_language`: the partition's reads most of it."""
    return payload.get("text_language") or payload.get("language") or ""


def title_matches(store: VectorStore, text: str, flt: PayloadFilter) -> list[Hit]:
    """Movies whose title (or original title) is the query, as title points: the year the query
    names first ("Dune 1984"), then the more popular. Empty when the query is no title."""
    keys = set(title_keys(text))
    named = _TRAILING_YEAR.match(text.strip())
    year = int(named["year"]) if named else None
    stripped = set(title_keys(named["title"])) if named else set()
    wanted = tuple(sorted(keys | stripped))
    if not wanted:
        return []
    hits = store.scroll(replace(flt, kinds=("title",), title_keys=wanted))

    exact = {normal_title(text), normal_title(named["title"]) if named else ""} - {""}

    def rank(hit: Hit) -> tuple:
        p = hit.payload
        movie_keys = set(p.get("title_keys") or [])
        year_named = bool(stripped & movie_keys) and p.get("year") == year
        whole = bool(keys & movie_keys)
        # "The Ring" is the movie of that very title before "Ring" (a key without the article)
        verbatim = bool(exact & {normal_title(p.get("title")), normal_title(p.get("original_title"))})
        return (not year_named, not whole, not verbatim, -(p.get("popularity") or 0.0), p["movie_id"])

    hits = [h for h in hits if (keys | stripped) & set(h.payload.get("title_keys") or [])]
    return sorted(hits, key=rank)


def _depth(top_k: int) -> tuple[int, int]:
    """(hits to read back first, candidates per side of the fusion) for `top_k` movies.

    The fused candidate lists keep the depth the fusion was tuned with (for 8 x top_k hits), but only
    2 x top_k hits come back first: most movies have one document point, and reading and converting
    the payloads of 80 hits took 3-4 ms of a 20 ms search (bench/search_latency.py)."""
    return top_k * 2, vtypes.FUSION.prefetch(max(top_k * 8, 32))


def best_per_movie(store: VectorStore, search_: Search, top_k: int, first: list[Hit] | None = None) -> list[MovieHit]:
    """Top chunks of `search_` (its first round; `_depth`), grouped to one (best) hit per movie;
    widens the search until `top_k` movies are found. `first`: the first round's hits, when a batch
    fetched them already."""
    while True:
        hits = first if first is not None else store.query_batch([search_])[0]
        first = None
        movies: dict[str, Hit] = {}
        for hit in hits:  # hits come best first, so the first per movie is its best
            movies.setdefault(hit.payload["movie_id"], hit)
        if len(movies) >= top_k or len(hits) < search_.limit:
            return [movie_hit(hit, search_.sparse) for hit in list(movies.values())[:top_k]]
        wider = search_.limit * 4
        search_ = replace(search_, limit=wider, candidates=max(search_.candidates or 0, wider))


def search(
    store: VectorStore,
    embedder: Embedder,
    text: str,
    top_k: int = 10,
    flt: PayloadFilter | None = None,
    hybrid: bool = True,
) -> list[MovieHit]:
    """Search over transcripts and overviews: dense (cross-lingual) fused with BM25 (names, rare words).

    With `hybrid`, scores are the engine's fusion scores (`types.Fusion`) plus the renown bonus, not
    cosines; `relevance` puts how well the text matched on 0-1 for people (1: at the top of every
    list; an exact title is 1), the bonus taken out.
    """
    return search_many(store, embedder, [text], top_k, flt, hybrid)[0]


def search_many(
    store: VectorStore,
    embedder: Embedder,
    texts: list[str],
    top_k: int = 10,
    flt: PayloadFilter | None = None,
    hybrid: bool = True,
) -> list[list[MovieHit]]:
    """`search` for each of `texts`, the queries encoded in one batch and sent to the engine in one
    batch query (an evaluation's hundreds of queries); the same results as one at a time."""
    empty = [i for i, text in enumerate(texts) if not text.strip()]
    if empty:
        raise ValueError(f"search text is empty (query {empty[0]})")
    flt = flt or PayloadFilter()
    # the encoders run on their own threads (ONNX Runtime lets go of the GIL, each text on one core)
    # while this one reads the query for the lexical side and the title lookup. e5 starts first: it
    # is a search's longest step, and which second models to ask (reading the query's language,
    # 0.7 ms) is decided while it runs
    with ThreadPoolExecutor(2) as pool:
        encoded = pool.submit(embedder.encode, list(texts), "query")
        seconds_asked = _seconds_asked(store, embedder, texts) if hybrid else []
        later = pool.submit(_second_queries, seconds_asked, texts) if seconds_asked else None
        # each query read by each searched language's analyzer (its stop words and stems)
        languages = (flt.languages or store.languages()) if hybrid else ()
        counts = store.terms() if hybrid else None  # each query term weighs its IDF (`TermCounts`)
        sparses = [query_vector(text, languages, counts) if hybrid else None for text in texts]
        titled = [title_matches(store, text, flt)[:top_k] for text in texts]
        vectors = encoded.result()
        seconds = later.result() if later is not None else [()] * len(texts)
    content = replace(flt, kinds=CONTENT_KINDS)
    wanted = [top_k + len(named) for named in titled]
    searches = []
    fusion = vtypes.FUSION
    for text, vector, want, sparse, other in zip(texts, vectors, wanted, sparses, seconds):
        limit, candidates = _depth(want)
        # reading the language costs 0.2 ms: only when the weight depends on it
        english = fusion.other_renown_weight is None or written_in(text, ("en",))
        # the first model's tokens: 0.03 ms, only when the weight depends on them
        tokens = embedder.count_tokens(text) if fusion.short_renown_weight is not None else None
        renown = fusion.renown_for(english, tokens)
        searches.append(Search(vector, content, limit, sparse, candidates, seconds=other, renown_weight=renown))
    firsts = store.query_batch(searches)
    out = []
    for search_, named, want, first in zip(searches, titled, wanted, firsts):
        hits = best_per_movie(store, search_, want, first)
        out.append(_titles_first(hits, named, top_k, _lists(search_), search_.renown_weight))
    return out


def _seconds_asked(store: VectorStore, embedder: Embedder, texts: list[str]) -> list[tuple[Embedder, list[str]]]:
    """Each second model with the queries to ask it (`Embedder.asked`), in the version's order;
    none where the serving version does not hold these models' vectors."""
    wanted = embedder.settings.second_fingerprint
    second = embedder.second if wanted is not None and store.serving_info().second == wanted else None
    return [(model, [text for text in texts if model.asked(text)]) for model in second.models] if second else []


def _second_queries(asked: list[tuple[Embedder, list[str]]], texts: list[str]) -> list[tuple[Any, ...]]:
    """Each query's vector by each second model, None where that model is not asked."""
    by_model = [dict(zip(some, model.encode(some, kind="query"))) if some else {} for model, some in asked]
    return [tuple(vectors.get(text) for vectors in by_model) for text in texts]


def _lists(search_: Search) -> int:
    """How many candidate lists the engine fused for `search_` (1: dense only)."""
    if not (search_.sparse and search_.sparse[0]):
        return 1
    return 2 + sum(v is not None for v in search_.seconds)


def _titles_first(
    hits: list[MovieHit], titled: list[Hit], top_k: int, lists: int, renown_weight: float | None
) -> list[MovieHit]:
    """Each hit's 0-1 relevance (its renown bonus, at `renown_weight`, taken out), and the exact
    titles first, scored just above the best hybrid hit so the order reads as ranked."""
    fusion = vtypes.FUSION

    def readable(hit: MovieHit) -> float:
        return fusion.relevance(hit.score, lists, hit.renown, renown_weight) if lists > 1 else hit.score

    hits = [replace(h, relevance=round(min(max(readable(h), 0.0), 1.0), 3)) for h in hits]
    if not titled:
        return hits[:top_k]
    top = hits[0].score if hits else 0.0
    first = [
        replace(movie_hit(h), score=round(top + 1 / (60 + rank), 4), relevance=1.0) for rank, h in enumerate(titled)
    ]
    named = {h.movie_id for h in first}
    return (first + [h for h in hits if h.movie_id not in named])[:top_k]


def similar(store: VectorStore, movie_id: str, top_k: int = 10, flt: PayloadFilter | None = None) -> list[MovieHit]:
    """Movies whose profile (mean of all their chunk vectors) is closest to this movie's, itself excluded."""
    profile = store.scroll(PayloadFilter(movie_ids=(movie_id,), kinds=("profile",)), with_vectors=True)
    if not profile or profile[0].vector is None:
        raise MovieNotFound(f"movie '{movie_id}' is not in the index")
    base = flt or PayloadFilter()
    query = replace(base, kinds=("profile",), exclude_movie_ids=(*base.exclude_movie_ids, movie_id))
    limit, candidates = _depth(top_k)
    hits = best_per_movie(store, Search(profile[0].vector, query, limit, candidates=candidates), top_k)
    return with_evidence(store, profile[0].vector, hits, {h.movie_id: movie_id for h in hits})


def with_evidence(
    store: VectorStore, vector: Any, hits: list[MovieHit], seeds: Mapping[str, str | None] | None = None
) -> list[MovieHit]:
    """Each hit found by its profile (a mean) explained by its own transcript line or overview closest
    to `vector`: the evidence a person can read. With `seeds` (a hit's movie id -> the movie it was
    found for: the one it is similar to, the liked one behind it), the sentence or line of that
    evidence sharing the most of the seed's own words (`own_words`) is quoted. One query for all
    the hits; with seeds, a scroll or two for their words and one for the chosen chunks' lines."""
    if not hits:
        return hits
    ids = tuple(h.movie_id for h in hits)
    flt = PayloadFilter(movie_ids=ids, kinds=EVIDENCE_KINDS)
    chunks = store.query_batch([Search(vector, flt, limit=len(ids) * 16, without=("lines",))])[0]
    best: dict[str, Hit] = {}
    for chunk in chunks:  # best first
        best.setdefault(chunk.payload["movie_id"], chunk)
    words = own_words(store, sorted({s for s in (seeds or {}).values() if s}))
    if words:  # only the chosen chunks' lines: reading every candidate's doubled the query (2 -> 4 ms)
        chosen = tuple(c.id for c in best.values() if c.payload.get("kind") == "transcript")
        lined = store.scroll(PayloadFilter(point_ids=chosen), fields=["lines"]) if chosen else []
        lines = {h.id: h.payload.get("lines") for h in lined}
        best = {m: replace(c, payload=c.payload | {"lines": lines.get(c.id)}) for m, c in best.items()}
    out = []
    for h in hits:
        chunk = best.get(h.movie_id)
        if chunk is None:
            out.append(h)
            continue
        seed = (seeds or {}).get(h.movie_id)
        e = movie_hit(chunk, words.get(seed) if seed else None)
        out.append(
            replace(
                h,
                matched_kind=e.matched_kind,
                matched_text=e.matched_text,
                matched_sentence=e.matched_sentence,
                start=e.start,
                video_id=e.video_id,
                video_kind=e.video_kind,
            )
        )
    return out


WORDS_CHUNKS = 8  # a film heard and not catalogued: its words from this many chunks, spread over it


def own_words(store: VectorStore, movie_ids: Sequence[str]) -> dict[str, Vector]:
    """Each movie's own words read as a query would be (`lexical.query_vector`: its language's stems,
    each term's IDF, names more): what a movie found for it should share, to quote. The words are its
    overview's, or, for a movie only heard (videos without a catalogue entry), those of
    WORDS_CHUNKS of its transcript chunks spread over its videos: a whole film's would take the
    analyzer about 20 ms, and a few minutes of dialogue name its people and places."""
    if not movie_ids:
        return {}
    fields = ["movie_id", "text", "text_language", "language", "video_id", "start"]
    texts: dict[str, list[str]] = {}
    language: dict[str, str] = {}
    for kind in ("overview", "transcript"):
        wanted = tuple(m for m in movie_ids if m not in texts)
        found = store.scroll(PayloadFilter(movie_ids=wanted, kinds=(kind,)), fields=fields) if wanted else []
        by_movie: dict[str, list[dict[str, Any]]] = {}
        for hit in found:
            if hit.payload.get("text"):
                by_movie.setdefault(hit.payload["movie_id"], []).append(hit.payload)
        for movie, parts in by_movie.items():
            parts.sort(key=lambda p: (p.get("video_id") or "", p.get("start") or 0.0))
            step = max(1, len(parts) // WORDS_CHUNKS)
            texts[movie] = [p["text"] for p in parts[::step][:WORDS_CHUNKS]]
            language[movie] = written_language(parts[0])
    counts = store.terms()
    return {movie: query_vector(" ".join(parts), [language[movie]], counts) for movie, parts in texts.items()}
