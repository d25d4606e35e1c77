"""The pipeline's stages as plain functions over Parquet tables; Dagster assets call these.

Every stage has the shape `(inputs, previous) -> (frame, StageReport)` and is incremental: a row
carries the content hash and the settings fingerprint it was computed with, and a row whose inputs
did not change is reused instead of recomputed.
"""

from .audio import MIN_AUDIO_S, extract_all_audio
from .embeddings import embed_partition, text_hash
from .languages import detected_language, route_languages
from .report import StageReport, reusable
from .scan import scan_videos, usable
from .scoring import score_partition
from .transcripts import segments_of, transcribe_partition

__all__ = [
    "MIN_AUDIO_S",
    "StageReport",
    "detected_language",
    "embed_partition",
    "extract_all_audio",
    "reusable",
    "route_languages",
    "scan_videos",
    "score_partition",
    "segments_of",
    "text_hash",
    "transcribe_partition",
    "usable",
]
