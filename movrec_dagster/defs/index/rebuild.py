"""Blue/green: a full rebuild beside the live collection, gated by blocking checks, then an atomic swap."""

import json

import dagster as dg

from movrec_dagster.core.bluegreen import abandon, load, promote, start_rebuild, verify
from movrec_dagster.core.home import MovrecHome, read_table, write_table, write_text_atomic
from movrec_dagster.core.indexing import build_points
from movrec_dagster.core.stages import embed_partition
from movrec_dagster.defs.library.assets import movies, partition_movies, video_kinds
from movrec_dagster.defs.ml.assets import embeddings, sentiment, stored_vectors
from movrec_dagster.defs.partitions import language_partitions
from movrec_dagster.defs.resources import EmbedderResource, LibraryResource, QdrantResource

CHECKS = ("point_count", "model_and_size", "payload_complete", "canary_query")
CANDIDATE = dg.AssetKey("collection_candidate")


@dg.asset(
    group_name="index",
    deps=[embeddings, sentiment, movies],
    kinds={"qdrant"},
    check_specs=[dg.AssetCheckSpec(name, asset=CANDIDATE, blocking=True) for name in CHECKS],
)
def collection_candidate(
    context: dg.AssetExecutionContext, library: LibraryResource, qdrant: QdrantResource, embedder: EmbedderResource
) -> dg.MaterializeResult:
    """A complete new collection version built beside the live one (re-embedding only if the model changed).

    Its vectors go to its own tables (`candidate_embeddings`), never behind the `embeddings` asset's
    back; the embeddings stage later reuses them by text. The version is handed to
    `serving_collection` as data (`data/collection_candidate.json`).
    """
    home, store, model = library.paths(), qdrant.store(library.paths()), embedder.embedder()
    fingerprint = model.settings.fingerprint
    dimension, second = model.layout()
    version = start_rebuild(store, dimension, fingerprint, model.settings.model, second)
    loaded, reembedded, canary_text = {}, 0, None
    known, aliases, kinds = stored_vectors(home), read_table(home.table("aliases")), video_kinds(home)
    for language in sorted(context.instance.get_dynamic_partitions(language_partitions.name)):
        members = partition_movies(home, language)
        if members.is_empty():
            continue
        table = home.table("candidate_embeddings", language)
        previous = read_table(home.table("embeddings", language))
        frame, report = embed_partition(
            members, read_table(home.table("transcripts", language)), previous, model, known
        )
        write_table(frame, table)
        reembedded += int(report.notes.get("encoded_texts", 0))
        sentiment_table = read_table(home.table("sentiment", language))
        points = build_points(language, frame, members, sentiment_table, fingerprint, aliases, kinds)
        loaded[language] = load(store, version, points)
        overviews = frame.filter((frame["kind"] == "overview") & (frame["text"] != "")).sort("movie_id")
        if canary_text is None and len(overviews):
            canary_text = (overviews["movie_id"][0], overviews["text"][0])
    expected = _expected_points(home)
    canary = (canary_text[0], model.encode([canary_text[1]], kind="query")[0]) if canary_text else None
    checks = verify(
        store,
        version,
        expected_points=expected,
        dimension=dimension,
        model=fingerprint,
        canary=canary,
        second=model.settings.second_fingerprint,
    )
    passed = all(c.passed for c in checks)
    if not passed:
        abandon(store, version)
    write_text_atomic(_candidate_file(home), json.dumps({"version": version, "passed": passed}))
    return dg.MaterializeResult(
        metadata={
            "version": version,
            "points_by_language": dg.MetadataValue.json(loaded),
            "encoded_texts": dg.MetadataValue.int(reembedded),
            "model": fingerprint,
        },
        check_results=[
            dg.AssetCheckResult(check_name=c.name, passed=c.passed, metadata={"detail": c.detail}) for c in checks
        ],
    )


def _candidate_file(home: MovrecHome):  # noqa: ANN202 - Path
    return home.data / "collection_candidate.json"


def _expected_points(home: MovrecHome) -> int:
    """Every row the candidate's tables say should be indexed, read now."""
    return sum(len(read_table(path)) for path in (home.data / "candidate_embeddings").glob("*.parquet"))


@dg.asset(group_name="index", deps=[collection_candidate], kinds={"qdrant"})
def serving_collection(
    context: dg.AssetExecutionContext, library: LibraryResource, qdrant: QdrantResource
) -> dg.MaterializeResult:
    """The serving alias, swapped atomically to the verified candidate; the old version is kept for rollback."""
    home = library.paths()
    store = qdrant.store(home)
    version = json.loads(_candidate_file(home).read_text())["version"]
    before = store.pointer("serving")
    dropped = promote(store, version, keep=qdrant.keep_versions)
    return dg.MaterializeResult(
        metadata={"serving": version, "previous": str(before), "garbage_collected": dg.MetadataValue.json(dropped)}
    )


rebuild_assets = [collection_candidate, serving_collection]
