"""Blue/green: a full rebuild beside the live collection, gated by blocking checks, then an atomic swap."""

import dagster as dg

from movrec_dagster.core.bluegreen import abandon, load, promote, start_rebuild, verify
from movrec_dagster.core.home import read_table, write_table
from movrec_dagster.core.stages import build_points, embed_partition
from movrec_dagster.defs.library.assets import movies, partition_movies
from movrec_dagster.defs.ml.assets import embeddings, sentiment
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
    """A complete new collection version built beside the live one (re-embedding only if the model changed)."""
    home, store, model = library.paths(), qdrant.store(library.paths()), embedder.embedder()
    fingerprint = model.settings.fingerprint
    version = start_rebuild(store, model.dimension, fingerprint, model.settings.model)
    loaded, reembedded, canary_text = {}, 0, None
    for language in sorted(context.instance.get_dynamic_partitions(language_partitions.name)):
        members = partition_movies(home, language)
        if members.is_empty():
            continue
        table = home.table("embeddings", language)
        frame, report = embed_partition(
            read_table(home.table("transcripts", language)), members, read_table(table), model
        )
        write_table(frame, table)
        reembedded += report.processed
        points = build_points(language, frame, members, read_table(home.table("sentiment", language)), fingerprint)
        loaded[language] = load(store, version, points)
        overviews = frame.filter(frame["kind"] == "overview").sort("movie_id")
        if canary_text is None and len(overviews):
            canary_text = (overviews["movie_id"][0], overviews["text"][0])
    expected = _expected_points(home)
    canary = (canary_text[0], model.encode([canary_text[1]], kind="query")[0]) if canary_text else None
    checks = verify(
        store, version, expected_points=expected, dimension=model.dimension, model=fingerprint, canary=canary
    )
    if not all(c.passed for c in checks):
        abandon(store, version)
    return dg.MaterializeResult(
        metadata={
            "version": version,
            "points_by_language": dg.MetadataValue.json(loaded),
            "reembedded_movies": dg.MetadataValue.int(reembedded),
            "model": fingerprint,
        },
        check_results=[
            dg.AssetCheckResult(check_name=c.name, passed=c.passed, metadata={"detail": c.detail}) for c in checks
        ],
    )


def _expected_points(home) -> int:  # noqa: ANN001
    """Every embedding row the stage tables say should be indexed, read now (they may have grown)."""
    return sum(len(read_table(path)) for path in (home.data / "embeddings").glob("*.parquet"))


@dg.asset(group_name="index", deps=[collection_candidate], kinds={"qdrant"})
def serving_collection(
    context: dg.AssetExecutionContext, library: LibraryResource, qdrant: QdrantResource
) -> dg.MaterializeResult:
    """The serving alias, swapped atomically to the verified candidate; the old version is kept for rollback."""
    store = qdrant.store(library.paths())
    event = context.instance.get_latest_materialization_event(CANDIDATE)
    version = event.asset_materialization.metadata["version"].value
    before = store.pointer("serving")
    dropped = promote(store, version, keep=qdrant.keep_versions)
    return dg.MaterializeResult(
        metadata={"serving": version, "previous": str(before), "garbage_collected": dg.MetadataValue.json(dropped)}
    )


rebuild_assets = [collection_candidate, serving_collection]
