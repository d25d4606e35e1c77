"""Users from what they watch: event files taken in, and one user segment's taste vectors at a time."""

import dagster as dg

from movrec_dagster.core.pending import clear_pending, pending_partitions
from movrec_dagster.core.users.events import read_events
from movrec_dagster.core.users.inbox import mark_changed_segments, take_in
from movrec_dagster.core.users.segments import sync_segment
from movrec_dagster.core.users.service import USERS_ALIAS
from movrec_dagster.defs.library.assets import movies
from movrec_dagster.defs.metadata import bar_chart, failures_markdown
from movrec_dagster.defs.partitions import user_segments
from movrec_dagster.defs.resources import EmbedderResource, LibraryResource, QdrantResource


@dg.asset(group_name="users", deps=[movies], kinds={"parquet"})
def user_events(context: dg.AssetExecutionContext, library: LibraryResource) -> dg.MaterializeResult:
    """Watch events: files from MOVREC_HOME/events taken in as batches (the API writes its own), and the
    user segments whose users have new events marked for re-embedding."""
    home = library.paths()
    stored, failures = take_in(home)
    for name, cause in sorted(failures.items()):
        context.log.error(f"skipped {name}: {cause}")
    changed = mark_changed_segments(home)
    known = set(context.instance.get_dynamic_partitions(user_segments.name))
    new = sorted(set(pending_partitions(home, kind="users")) - known)
    if new:
        context.instance.add_dynamic_partitions(user_segments.name, new)
    events = read_events(home)
    return dg.MaterializeResult(
        metadata={
            "events": dg.MetadataValue.int(len(events)),
            "users": dg.MetadataValue.int(events["user_id"].n_unique()),
            "files_taken_in": dg.MetadataValue.int(len(stored)),
            "failed_files": dg.MetadataValue.md(failures_markdown(failures)),
            "changed_segments": dg.MetadataValue.json(changed),
        }
    )


@dg.asset(group_name="users", partitions_def=user_segments, deps=[user_events], kinds={"qdrant"})
def user_profiles(
    context: dg.AssetExecutionContext, library: LibraryResource, qdrant: QdrantResource, embedder: EmbedderResource
) -> dg.MaterializeResult:
    """One segment's users re-embedded into the `users` collection (other segments untouched): a
    weighted Rocchio vector of the movies they watched (see core/users/profiles.py). Only the users
    with new events since the segment's last run, unless it is the first or the model changed."""
    home = library.paths()
    segment = context.partition_key
    users = qdrant.model_copy(update={"alias": USERS_ALIAS}).store(home)
    counts = sync_segment(home, users, segment, embedder.settings().fingerprint)
    clear_pending(home, segment, kind="users")  # only now: a run killed before this leaves it to redo
    return dg.MaterializeResult(
        metadata={
            "mode": dg.MetadataValue.text(counts["mode"]),
            "users": dg.MetadataValue.int(counts["users"]),
            "users_with_vector": dg.MetadataValue.int(counts["with_vector"]),
            "events": dg.MetadataValue.int(counts["events"]),
            "per_segment": dg.MetadataValue.md(bar_chart(counts["per_segment"])),
        }
    )
