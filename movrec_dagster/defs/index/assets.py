"""The serving Qdrant collection: versioned, behind an alias, one language partition at a time."""

import dagster as dg

from movrec_dagster.core.embedding import Embedder
from movrec_dagster.core.home import read_table
from movrec_dagster.core.stages import build_points, sync_partition
from movrec_dagster.core.vectorstore import PayloadFilter, VectorStore, version_name
from movrec_dagster.defs.library.assets import videos
from movrec_dagster.defs.ml.assets import embeddings, sentiment
from movrec_dagster.defs.partitions import language_partitions
from movrec_dagster.defs.resources import EmbedderResource, LibraryResource, QdrantResource


class ModelMismatch(RuntimeError):
    pass


def serving_version_for(store: VectorStore, embedder: Embedder) -> str:
    """The version behind the alias, created on first use; refuses to mix embedding models in one collection."""
    model = embedder.settings.fingerprint
    name = store.serving_version()
    if name is None:
        name = store.create_version(version_name(store.alias, embedder.settings.model), embedder.dimension, model).name
        store.switch(name)
        return name
    info = next(v for v in store.versions() if v.name == name)
    if info.model != model:
        raise ModelMismatch(
            f"collection '{name}' holds vectors of {info.model}, but the embedder is configured as {model}; "
            "rebuild the collection instead of mixing models"
        )
    return name


@dg.asset(
    group_name="index", partitions_def=language_partitions, deps=[embeddings, sentiment, videos], kinds={"qdrant"}
)
def qdrant_collection(
    context: dg.AssetExecutionContext, library: LibraryResource, qdrant: QdrantResource, embedder: EmbedderResource
) -> dg.MaterializeResult:
    """The language's points in the serving collection: deterministic uuid5 ids, payload, and payload indexes."""
    home = library.paths()
    language = context.partition_key
    store = qdrant.store(home)
    version = serving_version_for(store, embedder.embedder())
    points = build_points(
        language,
        read_table(home.table("embeddings", language)),
        read_table(home.table("videos")),
        read_table(home.table("sentiment", language)),
        embedder.settings().fingerprint,
    )
    sync_partition(store, language, points, version=version)
    movies = {p.payload["movie_id"] for p in points}
    stored = store.count(PayloadFilter(languages=(language,)), version=version)
    return dg.MaterializeResult(
        metadata={
            "collection": version,
            "alias": store.alias,
            "points": dg.MetadataValue.int(stored),
            "movies": dg.MetadataValue.int(len(movies)),
            "total_points": dg.MetadataValue.int(store.count(version=version)),
        }
    )
