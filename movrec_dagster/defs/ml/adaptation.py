"""Adapting the embedding models to the catalogue (core/adaptation.py), as a Dagster asset.

Why an asset: the training takes minutes to half an hour on a CPU and belongs to one catalogue, so
it is launched on purpose (the `adapt_models` job, from the UI or `movrec adapt`; no automation
condition), and its materialization records what was trained, how long it took and the settings
that put it to use. It does not switch the deployment over: MOVREC_MODEL / MOVREC_SECOND_MODEL stay
the one source of which models a deployment searches with, and once they name the adapted models
`outdated_collection_sensor` (or `movrec ingest`) rebuilds the collection blue/green. The models go
where every process looks for them, `$MOVREC_HOME/models` (`models.adapted_models`).
"""

import dagster as dg
from pydantic import Field

from movrec_dagster.core.adaptation import AdaptSettings, adapt, bases_to_adapt, settings_after
from movrec_dagster.core.home import read_table
from movrec_dagster.defs.library.assets import movies
from movrec_dagster.defs.metadata import frame_markdown
from movrec_dagster.defs.resources import EmbedderResource, LibraryResource


class AdaptConfig(dg.Config):
    models: list[str] = Field(
        default_factory=list,
        description="models to adapt; empty: the configured ones adaptation was measured on "
        "(multilingual-e5-small, all-MiniLM-L6-v2)",
    )
    steps: int = Field(default=AdaptSettings.steps, ge=1, description="at most this many steps of 32 pairs")
    passes: int = Field(
        default=AdaptSettings.passes,
        ge=1,
        description="passes over the overviews, each asking another sentence (steps still caps them)",
    )
    seed: int = Field(default=AdaptSettings.seed, description="which sentence of each overview, in which order")


@dg.asset(group_name="ml", deps=[movies], kinds={"pytorch"})
def adapted_models(
    context: dg.AssetExecutionContext, config: AdaptConfig, library: LibraryResource, embedder: EmbedderResource
) -> dg.MaterializeResult:
    """The configured embedding models fine-tuned on this catalogue's overviews (inverse cloze), saved
    in the home, and the MOVREC_MODEL / MOVREC_SECOND_MODEL values that search with them."""
    import polars as pl

    catalogue = read_table(library.paths().table("movies"))
    if catalogue is None or catalogue.is_empty():
        raise dg.Failure("no movies yet: ingest a catalogue (`movrec ingest --catalogue FILE`) first")
    settings = embedder.settings()
    try:
        bases = bases_to_adapt(config.models, [settings.model, *settings.second_models])
    except ValueError as exc:
        raise dg.Failure(str(exc)) from exc
    overviews = list(catalogue.select("title", "overview").iter_rows())
    trained, adapted = [], {}
    for base in bases:
        context.log.info(f"adapting {base} to {catalogue.height} movies' overviews")
        try:
            done = adapt(
                overviews, AdaptSettings(base=base, steps=config.steps, passes=config.passes, seed=config.seed)
            )
        except ValueError as exc:
            raise dg.Failure(str(exc)) from exc
        adapted[base] = done.name
        trained.append(
            {
                "model": done.name,
                "path": str(done.path),
                "pairs": done.pairs,
                "steps": done.steps,
                "seconds": round(done.seconds, 1),
                "loss": round(done.loss, 4),
                "reused": done.reused,
            }
        )
    first, seconds = settings_after(settings.model, list(settings.second_models), adapted)
    second = ",".join(seconds) or "none"
    return dg.MaterializeResult(
        metadata={
            "models": dg.MetadataValue.md(frame_markdown(pl.DataFrame(trained).drop("path"), len(trained))),
            "trained": dg.MetadataValue.json(trained),
            "MOVREC_MODEL": dg.MetadataValue.text(first),
            "MOVREC_SECOND_MODEL": dg.MetadataValue.text(second),
            "next": dg.MetadataValue.md(
                f"Set `MOVREC_MODEL={first}` and `MOVREC_SECOND_MODEL={second}` for every movrec process "
                "(Dagster, API, CLI); the collection is then rebuilt blue/green by `outdated_collection_sensor` "
                "(or the `rebuild_collection` job, `movrec rebuild`)."
            ),
        }
    )
