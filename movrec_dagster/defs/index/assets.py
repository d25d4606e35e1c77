"""The serving Qdrant collection: versioned, behind an alias, one language partition at a time."""

import dagster as dg

from movrec_dagster.core.bluegreen import write_targets
from movrec_dagster.core.home import read_table
from movrec_dagster.core.indexing import build_points, fit_points, sync_partition
from movrec_dagster.core.pending import clear_pending
from movrec_dagster.core.vectorstore import PayloadFilter
from movrec_dagster.defs.library.assets import movies, partition_movies, video_kinds
from movrec_dagster.defs.ml.assets import embeddings, sentiment
from movrec_dagster.defs.partitions import language_partitions
from movrec_dagster.defs.resources import EmbedderResource, LibraryResource, QdrantResource


@dg.asset(
    group_name="index", partitions_def=language_partitions, deps=[embeddings, sentiment, movies], kinds={"qdrant"}
)
def qdrant_collection(
    context: dg.AssetExecutionContext, library: LibraryResource, qdrant: QdrantResource, embedder: EmbedderResource
) -> dg.MaterializeResult:
    """The language's points in the serving collection (and a rebuild in progress): uuid5 ids, payload, indexes."""
    home = library.paths()
    language = context.partition_key
    store = qdrant.store(home)
    model = embedder.embedder()
    # resolve the targets before reading the tables: a rebuild that starts later reads newer tables
    targets = write_targets(store, model.settings.fingerprint, model.layout, model.settings.model)
    points = build_points(
        language,
        read_table(home.table("embeddings", language)),
        partition_movies(home, language),
        read_table(home.table("sentiment", language)),
        embedder.settings().fingerprint,
        read_table(home.table("aliases")),
        video_kinds(home),
    )
    seconds = {v.name: v.second for v in store.versions(counts=False)}
    for version in targets:
        fitted = fit_points(points, seconds.get(version), model.settings.second_fingerprint)
        # one open shard per version for the whole sync (an embedded shard costs ~30 ms to open)
        with store.session(version):
            written = sync_partition(store, language, fitted, version=version)
            if version == targets[0]:  # the serving version's counts go in the metadata
                changed = written
                stored = store.count(PayloadFilter(languages=(language,)), version=version)
                total = store.count(version=version)
    clear_pending(home, language)  # only now: a run killed before this leaves the partition to redo
    return dg.MaterializeResult(
        metadata={
            "collection": targets[0],
            "written_to": dg.MetadataValue.json(targets),
            "alias": store.alias,
            "points": dg.MetadataValue.int(stored),
            "points_written": dg.MetadataValue.int(changed),  # the rest were stored already, unchanged
            "movies": dg.MetadataValue.int(len({p.payload["movie_id"] for p in points})),
            "total_points": dg.MetadataValue.int(total),
        }
    )
