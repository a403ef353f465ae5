import logging

from celery import Task
from celery.signals import worker_init, worker_process_init

from .celery import app

logger = logging.getLogger(__name__)

# Number of pool processes, read in the parent before it forks, so each child can size its torch threads.
_pool_size = {"processes": 1}


@worker_init.connect
def remember_pool_size(sender=None, **kwargs):
    _pool_size["processes"] = getattr(sender, "concurrency", None) or 1


@worker_process_init.connect
def configure_pool_process(**kwargs):
    from .model_cache import set_thread_count

    threads = set_thread_count(_pool_size["processes"])
    logger.info("pool process ready with %d torch threads", threads)


class JobTask(Task):
    """A task whose first argument is a job id; any exception marks that job failed."""

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        from backend.jobs import events
        from backend.jobs.models import Job, JobStatus
        from backend.jobs.services import job_fail

        job_id = args[0] if args else kwargs.get("job_id")
        reason = f"{type(exc).__name__}: {exc}"
        logger.error("job %s: task %s raised %s", job_id, task_id, reason)
        if job_fail(job_id=job_id, reason=reason) and Job.objects.filter(id=job_id, stream=True).exists():
            events.publish_end(job_id, JobStatus.FAILED, reason)


@app.task(name="gan.generate", base=JobTask, acks_late=True)
def generate_job(job_id):
    from .generation import run_generate_job

    run_generate_job(job_id)


class TrainTask(Task):
    """A task whose first argument is a training run id; an unexpected exception fails that run."""

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        from backend.training.services import training_run_fail

        run_id = args[0] if args else kwargs.get("run_id")
        reason = f"{type(exc).__name__}: {exc}"
        logger.error("training run %s: task %s raised %s", run_id, task_id, reason)
        training_run_fail(run_id=run_id, reason=reason)


@app.task(name="gan.train", base=TrainTask, bind=True, acks_late=True, max_retries=None)
def train_run(self, run_id):
    from django.conf import settings

    from .training_run import RunBusyError, run_training

    try:
        run_training(run_id)
    except RunBusyError as error:
        # Another execution is alive; look again once its heartbeat could have gone stale.
        countdown = settings.TRAINING["HEARTBEAT_STALE_SECONDS"]
        logger.warning("training run %s: %s; retrying in %d s", run_id, error, countdown)
        raise self.retry(countdown=countdown) from error


@app.task(name="gan.purge_expired", ignore_result=True)
def purge_expired():
    """Delete expired jobs' images and long-expired jobs; Celery beat runs it periodically."""
    from backend.jobs.services import jobs_purge_expired

    return jobs_purge_expired()


@app.task(name="gan.deliver_webhook", bind=True, ignore_result=True, max_retries=None)
def deliver_webhook(self, delivery_id):
    """POST one webhook event; on failure retry after base * 2^attempt seconds, up to the configured attempts."""
    from django.conf import settings

    from backend.jobs.webhooks import DeliveryFailedError, webhook_attempt, webhook_give_up

    try:
        webhook_attempt(delivery_id=delivery_id)
    except DeliveryFailedError as error:
        attempt = self.request.retries + 1
        if attempt >= settings.GAN["WEBHOOK_MAX_ATTEMPTS"]:
            webhook_give_up(delivery_id=delivery_id, reason=f"{error} (gave up after {attempt} attempts)")
            return
        countdown = settings.GAN["WEBHOOK_RETRY_BASE_SECONDS"] * 2 ** (attempt - 1)
        logger.warning("webhook %s: %s; retry %d in %.1f s", delivery_id, error, attempt, countdown)
        raise self.retry(countdown=countdown) from error
