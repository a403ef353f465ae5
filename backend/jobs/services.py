"""Writes to jobs. Views, the gRPC gateway, the admin and the worker all go through here.

Status changes happen only in :func:`_transition`, a conditional UPDATE, so two
processes racing on one job cannot both win and a terminal status never changes.
"""

import hashlib
import json
import logging
import os
import secrets
import time
import uuid
from datetime import timedelta

import redis
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from backend.training.selectors import active_model_source
from gan_core.data import DATASETS
from gan_core.sampling import MAX_SEED

from . import events
from .models import TERMINAL_STATUSES, IdempotencyKey, Job, JobImage, JobKind, JobStatus, WebhookEvent
from .webhooks import webhook_notify

logger = logging.getLogger(__name__)

MAX_DIGIT = 9
# Images per job returned in one response (REST and unary gRPC): 64 PNGs stay far below 1 MB.
MAX_COUNT = 64
# Images per GenerateStream job.
MAX_STREAM_COUNT = 10_000
GENERATE_QUEUE = "generate"


class InvalidParameterError(ValueError):
    """A request parameter is out of range; ``field`` names it and the message gives the allowed range."""

    def __init__(self, field, message):
        self.field = field
        super().__init__(message)


class IdempotencyConflictError(Exception):
    """An ``Idempotency-Key`` was reused with different request parameters."""


class QueueUnavailableError(Exception):
    """The broker (Redis) could not be reached."""


class QueueFullError(Exception):
    """The generate queue contains ``GAN["MAX_QUEUE_DEPTH"]`` tasks or more; the caller should retry later."""


class ModelUnavailableError(Exception):
    """No model checkpoint is available to generate with."""


def validate_generate_parameters(*, digit, count, seed, max_count=MAX_COUNT, stream_hint=False):
    """Raise :class:`InvalidParameterError` for the first out-of-range parameter."""
    if digit is not None and not 0 <= digit <= MAX_DIGIT:
        raise InvalidParameterError("digit", f"digit must be an integer from 0 to {MAX_DIGIT}, or unset for a random digit; got {digit}")
    if not 1 <= count <= max_count:
        hint = " (use GenerateStream for up to 10,000 images)" if stream_hint and count > max_count else ""
        raise InvalidParameterError("count", f"count must be an integer from 1 to {max_count}{hint}; got {count}")
    if seed is not None and not 0 <= seed <= MAX_SEED:
        raise InvalidParameterError("seed", f"seed must be an integer from 0 to {MAX_SEED} (2^63 - 1), or unset for a random seed; got {seed}")


def queue_depth() -> int:
    """Return the number of tasks waiting on the generate queue (the length of Celery's Redis list)."""
    try:
        return events.redis_client().llen(GENERATE_QUEUE)
    except redis.RedisError as error:
        raise QueueUnavailableError(f"the job queue is unavailable: {error}") from error


# Seconds a web process reuses a successful check that a dataset's checkpoint exists. The
# worker resolves the model itself for every batch, so the cache only delays the 503 for a
# model just removed, by up to this long.
MODEL_CHECK_SECONDS = 1.0
_model_checked_at = {}


def check_model_available(dataset="mnist"):
    """Raise :class:`ModelUnavailableError` unless the dataset's active (or default) checkpoint exists."""
    key = (dataset, settings.GAN["MODEL_PATH"], settings.GAN["FASHION_MODEL_PATH"])
    checked_at = _model_checked_at.get(key)
    if checked_at is not None and time.monotonic() - checked_at < MODEL_CHECK_SECONDS:
        return
    model_path = active_model_source(dataset).path
    if not os.path.exists(model_path):
        variable = "GAN_FASHION_MODEL_PATH" if dataset == "fashion-mnist" else "GAN_MODEL_PATH"
        raise ModelUnavailableError(
            f"no {dataset} model is available: checkpoint {model_path} not found; set {variable} or activate a "
            f"{dataset} model version"
        )
    _model_checked_at[key] = time.monotonic()


def check_can_enqueue(dataset="mnist"):
    """Raise unless a new job could be generated: the dataset has a model and the queue has room."""
    check_model_available(dataset)
    depth, limit = queue_depth(), settings.GAN["MAX_QUEUE_DEPTH"]
    if depth >= limit:
        raise QueueFullError(f"the generate queue is full ({depth} jobs waiting, limit {limit}); retry later")


# Limits of the grid and interpolation kinds.
MAX_SEEDS_PER_DIGIT = 16
MIN_FRAMES, MAX_FRAMES = 2, 64


def resolve_kind(*, kind, digit, count, seed, options):
    """Validate a grid or interpolation request and fill its defaults; return ``(digit, count, seed, options)``.

    A grid is ``digits`` x ``seeds_per_digit`` cells; column c uses seed + c in every row,
    so each column shows one latent across digits. An interpolation moves from
    (start_digit, start_seed) to (end_digit, end_seed) in ``frames`` frames.
    """
    options = dict(options or {})
    if kind == JobKind.GRID:
        digits = options.get("digits", list(range(MAX_DIGIT + 1)))
        if not digits or len(set(digits)) != len(digits) or not all(0 <= d <= MAX_DIGIT for d in digits):
            raise InvalidParameterError("digits", f"digits must be 1 to 10 different integers from 0 to {MAX_DIGIT}; got {digits}")
        per_digit = options.get("seeds_per_digit", 8)
        if not 1 <= per_digit <= MAX_SEEDS_PER_DIGIT:
            raise InvalidParameterError("seeds_per_digit", f"seeds_per_digit must be an integer from 1 to {MAX_SEEDS_PER_DIGIT}; got {per_digit}")
        return None, len(digits) * per_digit, seed, {"digits": list(digits), "seeds_per_digit": per_digit}
    if kind == JobKind.INTERPOLATION:
        start_digit = options.get("start_digit", 0)
        end_digit = options.get("end_digit", start_digit)
        for field, value in (("start_digit", start_digit), ("end_digit", end_digit)):
            if not 0 <= value <= MAX_DIGIT:
                raise InvalidParameterError(field, f"{field} must be an integer from 0 to {MAX_DIGIT}; got {value}")
        start_seed = options.get("start_seed")
        start_seed = secrets.randbelow(MAX_SEED + 1) if start_seed is None else start_seed
        end_seed = options.get("end_seed")
        end_seed = (start_seed + 1) % (MAX_SEED + 1) if end_seed is None else end_seed
        for field, value in (("start_seed", start_seed), ("end_seed", end_seed)):
            if not 0 <= value <= MAX_SEED:
                raise InvalidParameterError(field, f"{field} must be an integer from 0 to {MAX_SEED}; got {value}")
        frames = options.get("frames", 16)
        if not MIN_FRAMES <= frames <= MAX_FRAMES:
            raise InvalidParameterError("frames", f"frames must be an integer from {MIN_FRAMES} to {MAX_FRAMES}; got {frames}")
        return start_digit, frames, start_seed, {"start_digit": start_digit, "end_digit": end_digit,
                                                 "start_seed": start_seed, "end_seed": end_seed, "frames": frames}
    return digit, count, seed, {}


def job_create(*, digit: int | None = None, count: int = 1, seed: int | None = None, stream: bool = False,
               webhook: str | None = None, webhook_events: list[str] | None = None, kind: str = "images",
               options: dict | None = None, dataset: str = "mnist", job_id: uuid.UUID | None = None) -> Job:
    """Create a queued job and enqueue it on the generate queue once the row is committed.

    ``job_id`` lets a caller choose the new job's id, for example to wait for its end
    before it exists (``events.JobWaiter``); by default a random one is drawn.

    Raises :class:`ModelUnavailableError` or :class:`QueueFullError` before creating
    anything. Raises :class:`QueueUnavailableError` when Redis cannot be reached. If the
    job was already saved by then, it stays in the database as ``failed`` with the
    reason, so nothing is silently lost.
    """
    if kind not in JobKind.values:
        raise InvalidParameterError("kind", f"kind must be one of {', '.join(JobKind.values)}; got {kind!r}")
    if dataset not in DATASETS:
        raise InvalidParameterError("dataset", f"dataset must be one of {', '.join(DATASETS)}; got {dataset!r}")
    digit, count, seed, options = resolve_kind(kind=kind, digit=digit, count=count, seed=seed, options=options)
    if kind == JobKind.IMAGES:
        validate_generate_parameters(digit=digit, count=count, seed=seed,
                                     max_count=MAX_STREAM_COUNT if stream else MAX_COUNT)
    check_can_enqueue(dataset)
    if seed is None:
        seed = secrets.randbelow(MAX_SEED + 1)
    expires_at = timezone.now() + timedelta(hours=settings.GAN["RETENTION_HOURS"])
    job = Job(id=job_id or uuid.uuid4(), kind=kind, dataset=dataset, options=options, digit=digit, count=count,
              seed=seed, stream=stream, expires_at=expires_at,
              webhook_url=webhook or "",
              webhook_events=sorted(webhook_events or []) if webhook else [])
    # No uniqueness check: the only unique field is the new random id, and checking it
    # would cost a query per job.
    job.full_clean(validate_unique=False)
    try:
        job.save()
        # Runs now in autocommit mode, or when a caller's transaction commits.
        transaction.on_commit(lambda: _enqueue_generation(job.id))
    except BrokerError as error:
        reason = f"the job queue is unavailable: {error}"
        logger.error("job %s not enqueued: %s", job.id, error)
        job_fail(job_id=job.id, reason=reason)
        raise QueueUnavailableError(reason) from error
    logger.info("job %s queued: dataset=%s kind=%s digit=%s count=%d seed=%d", job.id, dataset, kind, digit, count, seed)
    return job


def job_create_idempotent(*, key: str, **parameters) -> tuple[Job, bool]:
    """Create a job once per ``key``; return ``(job, created)``.

    A repeat with the same key and parameters returns the first job (``created`` False).
    Raises :class:`IdempotencyConflictError` when the parameters differ.
    """
    request_hash = hashlib.sha256(json.dumps(parameters, sort_keys=True).encode()).hexdigest()
    existing = IdempotencyKey.objects.select_related("job").filter(key=key).first()
    if existing is None:
        job = job_create(**parameters)
        try:
            IdempotencyKey.objects.create(key=key, request_hash=request_hash, job=job)
            return job, True
        except IntegrityError:
            # A concurrent request with the same key won the race; this job is a duplicate.
            job_cancel(job_id=job.id)
            existing = IdempotencyKey.objects.select_related("job").get(key=key)
    if existing.request_hash != request_hash:
        raise IdempotencyConflictError(
            f"Idempotency-Key {key!r} was already used for a request with other parameters (job {existing.job_id}); "
            "use a new key for a new request"
        )
    return existing.job, False


def _enqueue_generation(job_id):
    # Imported when first used, so importing the services does not load the Celery app.
    from worker.tasks import generate_job

    generate_job.apply_async(args=[str(job_id)], queue=GENERATE_QUEUE)


def _transition(job_id, *, from_statuses, to_status, **fields) -> bool:
    """Move a job to ``to_status`` only if it is in one of ``from_statuses``; return whether it moved.

    Reaching a terminal status wakes the requests waiting on the job.
    """
    updated = Job.objects.filter(id=job_id, status__in=list(from_statuses)).update(status=to_status, **fields)
    if updated and to_status in TERMINAL_STATUSES:
        events.publish_job_finished(job_id, to_status)
        _notify_webhook(job_id, WebhookEvent.COMPLETED)
    return updated == 1


def _notify_webhook(job_id, event):
    try:
        webhook_notify(job_id=job_id, event=event)
    except BrokerError as error:
        # NOTE: the delivery row stays pending and is not retried automatically in this case.
        logger.error("job %s: %s webhook not queued: %s", job_id, event, error)


def job_start(*, job_id) -> Job | None:
    """Mark a job running for a worker and return it, or return None when it must not run.

    A job already ``running`` is started again only when Celery redelivered it after a
    lost worker. Past ``GAN["MAX_ATTEMPTS"]`` starts in all, the job fails instead.
    """
    max_attempts = settings.GAN["MAX_ATTEMPTS"]
    started = Job.objects.filter(
        id=job_id, status__in=[JobStatus.QUEUED, JobStatus.RUNNING], attempts__lt=max_attempts
    ).update(status=JobStatus.RUNNING, started_at=timezone.now(), attempts=F("attempts") + 1)
    if started:
        _notify_webhook(job_id, WebhookEvent.START)
        return Job.objects.get(id=job_id)
    if _transition(job_id, from_statuses=[JobStatus.RUNNING], to_status=JobStatus.FAILED,
                   finished_at=timezone.now(), error=f"gave up after {max_attempts} attempts (worker lost each time)"):
        logger.error("job %s failed: attempts exhausted", job_id)
    return None


def jobs_start(*, job_ids) -> tuple[list[Job], list]:
    """Mark many queued jobs running in one UPDATE; return ``(started jobs, ids left over)``.

    The rows this call started are the ones carrying its ``started_at``. The ids left
    over were not startable in bulk: finished, canceled, redelivered while running, or out of
    attempts. Callers pass those to :func:`job_start`, which decides each one.
    """
    now = timezone.now()
    Job.objects.filter(id__in=job_ids, status=JobStatus.QUEUED, attempts__lt=settings.GAN["MAX_ATTEMPTS"]).update(
        status=JobStatus.RUNNING, started_at=now, attempts=F("attempts") + 1)
    started = list(Job.objects.filter(id__in=job_ids, status=JobStatus.RUNNING, started_at=now))
    started_ids = {job.id for job in started}
    for job in started:
        if job.webhook_url:
            _notify_webhook(job.id, WebhookEvent.START)
    return started, [job_id for job_id in job_ids if _as_uuid(job_id) not in started_ids]


def _as_uuid(value):
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def jobs_finish_coalesced(*, jobs: list[Job], images_by_job: dict, model_version: str):
    """Store the images of jobs generated together and mark them succeeded, in one transaction.

    A job canceled meanwhile keeps its status and gets no images. Waiting requests are
    woken in one Redis round trip; webhooks go out for the jobs that asked for them.
    """
    rows = []
    for job in jobs:
        for image in images_by_job[job.id]:
            row = JobImage(job=job, index=image["index"], digit=image["digit"], seed=image["seed"])
            row.file.save(f"{image['index']:05d}.png", ContentFile(image["png"]), save=False)
            rows.append(row)
    now = timezone.now()
    with transaction.atomic():
        running = set(Job.objects.filter(id__in=[job.id for job in jobs], status=JobStatus.RUNNING)
                      .values_list("id", flat=True))
        # A redelivered job (attempt 2 or later) may have stored some images already.
        retried = [job.id for job in jobs if job.id in running and job.attempts > 1]
        if retried:
            JobImage.objects.filter(job_id__in=retried).delete()
        JobImage.objects.bulk_create([row for row in rows if row.job_id in running])
        Job.objects.filter(id__in=running, status=JobStatus.RUNNING).update(
            status=JobStatus.SUCCEEDED, finished_at=now, model_version=model_version, progress=F("count"))
    events.publish_jobs_finished(running, JobStatus.SUCCEEDED)
    for job in jobs:
        if job.id in running and job.webhook_url:
            _notify_webhook(job.id, WebhookEvent.COMPLETED)
    for row in rows:
        if row.job_id not in running:
            row.file.storage.delete(row.file.name)
    return running


def job_store_images(*, job: Job, images: list[dict]) -> list[JobImage]:
    """Write a batch of PNGs through Django's storage, record them, and advance ``job.progress``.

    ``images`` are dicts with index, digit, seed and png. A redelivered job replaces
    its own earlier rows for the same indices.
    """
    rows = []
    for image in images:
        row = JobImage(job=job, index=image["index"], digit=image["digit"], seed=image["seed"],
                       row=image.get("row"), column=image.get("column"), fraction=image.get("fraction"))
        row.file.save(f"{image['index']:05d}.png", ContentFile(image["png"]), save=False)
        rows.append(row)
    with transaction.atomic():
        JobImage.objects.filter(job=job, index__in=[row.index for row in rows]).delete()
        JobImage.objects.bulk_create(rows)
        Job.objects.filter(id=job.id).update(progress=max(row.index for row in rows) + 1)
    return rows


def job_is_canceled(*, job_id) -> bool:
    return Job.objects.filter(id=job_id, status=JobStatus.CANCELED).exists()


def job_cancel(*, job_id) -> bool:
    """Cancel a queued or running job; return whether it was canceled by this call.

    The worker of a running job reads the status between batches and stops.
    """
    moved = _transition(job_id, from_statuses=[JobStatus.QUEUED, JobStatus.RUNNING], to_status=JobStatus.CANCELED,
                        finished_at=timezone.now())
    if moved:
        logger.info("job %s canceled", job_id)
    return moved


def job_succeed(*, job_id, model_version: str) -> bool:
    moved = _transition(job_id, from_statuses=[JobStatus.RUNNING], to_status=JobStatus.SUCCEEDED,
                        finished_at=timezone.now(), model_version=model_version)
    if moved:
        logger.info("job %s succeeded with model %s", job_id, model_version)
    return moved


def job_fail(*, job_id, reason: str) -> bool:
    moved = _transition(job_id, from_statuses=[JobStatus.QUEUED, JobStatus.RUNNING], to_status=JobStatus.FAILED,
                        finished_at=timezone.now(), error=reason[:2000])
    if moved:
        logger.warning("job %s failed: %s", job_id, reason)
    return moved


def job_set_model_version(*, job_id, model_version: str):
    Job.objects.filter(id=job_id).update(model_version=model_version)


def jobs_purge_expired() -> dict:
    """Delete the images (files and rows) of expired jobs, and the rows of long-expired ones.

    An expired job's row stays for ``GAN["TOMBSTONE_DAYS"]`` so it can still return 410.
    After that the row is deleted too, with its idempotency key. Returns counts for the log.
    """
    now = timezone.now()
    images = JobImage.objects.filter(job__expires_at__lte=now)
    files_deleted = 0
    for image in images.iterator():
        image.file.storage.delete(image.file.name)
        files_deleted += 1
    images_deleted, _ = images.delete()
    tombstone_cutoff = now - timedelta(days=settings.GAN["TOMBSTONE_DAYS"])
    jobs_deleted, _ = Job.objects.filter(expires_at__lte=tombstone_cutoff).delete()
    logger.info("retention sweep: %d image files and %d rows deleted, %d old jobs removed",
                files_deleted, images_deleted, jobs_deleted)
    return {"files": files_deleted, "rows": images_deleted, "jobs": jobs_deleted}


def job_store_artifact(*, job: Job, name: str, content: bytes):
    """Store the job's sprite sheet or animation as ``jobs/<job id>/<name>``."""
    job.artifact.save(f"{job.id}/{name}", ContentFile(content), save=False)
    Job.objects.filter(id=job.id).update(artifact=job.artifact.name)
