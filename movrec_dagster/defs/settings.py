"""The configured models, in one place.

The same resource objects configure the runs (definitions.py) and give each model-dependent asset
its `code_version`, so changing a model here makes exactly that stage and everything downstream
show as stale in the UI. (Each stored row also carries the settings it was computed with, so a run
recomputes only what the change affects.)
"""

from movrec_dagster.defs.resources import EmbedderResource, SentimentResource, WhisperResource

WHISPER = WhisperResource()
EMBEDDER = EmbedderResource()
SENTIMENT = SentimentResource()

LANGUAGE_ROUTING_VERSION = (
    f"{WHISPER.settings().fingerprint}:min{WHISPER.min_language_probability}"
    f":short{WHISPER.short_clip_min_language_probability}"
)
TRANSCRIPT_VERSION = WHISPER.settings().fingerprint
SENTIMENT_VERSION = SENTIMENT.settings().fingerprint
EMBEDDING_VERSION = EMBEDDER.settings().vectors_version

# Steps that run whisper share this concurrency pool: a deployment limits it (docker/dagster.yaml:
# one at a time) so that transcriptions queue for the CPU/GPU instead of fighting over it.
WHISPER_POOL = "whisper"
