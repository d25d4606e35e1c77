"""When the taste model retrains: every night, and as soon as enough new events arrived since the
data the served model saw (RETRAIN_EVENTS, or a tenth of what it was trained on, whichever is less,
so that a small deployment does not wait for 10,000 events)."""

import dagster as dg

from movrec_dagster.core.recsys.artifact import served
from movrec_dagster.core.recsys.training import events_since_training
from movrec_dagster.defs.jobs import learn_taste_job
from movrec_dagster.defs.resources import LibraryResource

RETRAIN_EVENTS = 10_000
RETRAIN_INTERVAL_S = 60


@dg.sensor(
    job=learn_taste_job, minimum_interval_seconds=RETRAIN_INTERVAL_S, default_status=dg.DefaultSensorStatus.RUNNING
)
def retrain_on_new_events(context: dg.SensorEvaluationContext, library: LibraryResource) -> dg.SensorResult:
    """Enough events since the served model's data: one retrain (its run key is the model it replaces
    and the count, so a tick that sees the same state asks for nothing new)."""
    home = library.paths()
    model = served(home)
    trained_on = int(model.info.get("interactions", 0)) if model is not None else 0
    threshold = min(RETRAIN_EVENTS, max(trained_on // 10, 1)) if model is not None else 1
    new = events_since_training(home)
    if new < threshold:
        return dg.SensorResult(skip_reason=f"{new} new event(s) since the model's data; retrain at {threshold}")
    key = f"{model.info.get('version') if model is not None else 'none'}:{new // threshold}"
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=key)])


@dg.schedule(job=learn_taste_job, cron_schedule="30 4 * * *", default_status=dg.DefaultScheduleStatus.RUNNING)
def nightly_retrain(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Every night: a no-op when the data did not change (the model is versioned by its data)."""
    return dg.RunRequest(run_key=f"retrain:{context.scheduled_execution_time:%Y-%m-%d}")


taste_sensors = [retrain_on_new_events]
taste_schedules = [nightly_retrain]
