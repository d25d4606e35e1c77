import dagster as dg

# Languages are discovered from uploads (sidecar or whisper), so the set grows at run time.
language_partitions = dg.DynamicPartitionsDefinition(name="language")
# User segments (a user's language, given or inferred): discovered from watch events.
user_segments = dg.DynamicPartitionsDefinition(name="user_segment")
