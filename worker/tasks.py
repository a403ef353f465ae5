import logging

from celery import Task
from celery_batches import Batches, SimpleRequest
from celery_batches.trace import apply_batches_task
from django.conf import settings
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


def job_id_of(request):
    return request.args[0] if request.args else request.kwargs["job_id"]


class GenerateBatches(Batches):
    """Buffers ``gan.generate`` messages and runs them together (celery-batches), adaptively.

    When no batch is running, a message is flushed at once, so a lone request never
    waits. While a batch runs, messages collect and go as one batch when it returns,
    when ``GAN["BATCH_MAX_JOBS"]`` are buffered, or after ``GAN["BATCH_MAX_WAIT_MS"]``,
    whichever comes first. The worker must prefetch at least ``BATCH_MAX_JOBS``
    messages; the settings' prefetch multiplier does this.
    """

    flush_every = settings.GAN["BATCH_MAX_JOBS"]
    flush_interval = settings.GAN["BATCH_MAX_WAIT_MS"] / 1000
    batches_in_flight = 0

    def Strategy(self, task, app, consumer):
        buffer_message = super().Strategy(task, app, consumer)

        def on_message(*args, **kwargs):
            buffer_message(*args, **kwargs)
            if self.batches_in_flight == 0 and not self._buffer.empty():
                self._do_flush()

        return on_message

    def flush(self, requests):
        # Like Batches.flush, plus a count of batches in the pool and a flush when one returns.
        early = [request for request in requests if not request.task.acks_late]
        late = [request for request in requests if request.task.acks_late]
        self.batches_in_flight += 1

        def on_accepted(pid, time_accepted):
            for request in early:
                request.acknowledge()

        def on_done(result):
            for request in late:
                request.acknowledge()
            self.batches_in_flight -= 1
            if not self._buffer.empty():
                self._do_flush()

        def on_error(error):
            # The pool process died (for example, killed): the late messages stay unacknowledged
            # and are delivered again, as with any Celery task.
            logger.error("batch of %d generate messages lost its pool process: %r", len(requests), error)
            self.batches_in_flight -= 1

        return self._pool.apply_async(
            apply_batches_task, (self, ([SimpleRequest.from_request(request) for request in requests],), 0, None),
            accept_callback=on_accepted, callback=on_done, error_callback=on_error,
        )


@app.task(name="gan.generate", base=GenerateBatches, acks_late=True)
def generate_job(requests):
    """Generate the jobs of a batch of messages together; each message carries one job id."""
    from .generation import fail_job, run_generate_batch

    job_ids = [job_id_of(request) for request in requests]
    try:
        run_generate_batch(job_ids)
    except Exception as error:  # noqa: BLE001 - celery-batches would only log it; record it on the jobs
        for job_id in job_ids:
            fail_job(job_id, error)


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
