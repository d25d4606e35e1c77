"""Schedules, visible and switchable in the UI (Automation tab)."""

import dagster as dg

from movrec_dagster.defs.jobs import index_language_job
from movrec_dagster.defs.partitions import language_partitions


@dg.schedule(job=index_language_job, cron_schedule="0 3 * * *", default_status=dg.DefaultScheduleStatus.STOPPED)
def nightly_language_refresh(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest] | dg.SkipReason:
    """Every night, re-run each language partition: cheap when nothing changed (every stage is cached),
    and it picks up partitions whose last run failed."""
    languages = sorted(context.instance.get_dynamic_partitions(language_partitions.name))
    if not languages:
        return dg.SkipReason("no language partitions yet")
    day = context.scheduled_execution_time.strftime("%Y-%m-%d")
    return [dg.RunRequest(run_key=f"refresh:{day}:{lang}", partition_key=lang) for lang in languages]


schedules = [nightly_language_refresh]
