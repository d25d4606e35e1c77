import dagster as dg

# Languages are discovered from uploads (sidecar or whisper), so the set grows at run time.
language_partitions = dg.DynamicPartitionsDefinition(name="language")
