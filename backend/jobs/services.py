"""Writes to jobs. Views, the gRPC gateway, the admin and the worker all go through here.

Status changes happen only in :func:`_transition`, a conditional UPDATE, so two
processes racing on one job cannot both win and a terminal status never changes.
"""

import logging
import secrets

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from gan_core.sampling import MAX_SEED

from .models import Job, JobImage, JobStatus

logger = logging.getLogger(__name__)

MAX_DIGIT = 9
MAX_COUNT = 64


class QueueUnavailableError(Exception):
    """The broker (Redis) could not take the job; the job was marked failed."""


def job_create(*, digit: int | None, count: int = 1, seed: int | None = None) -> Job:
    """Create a queued job and enqueue it on the generate queue once the row is committed.

    Raises :class:`QueueUnavailableError` when Redis cannot be reached; the job then
    stays in the database as ``failed`` with the reason, so nothing is silently lost.
    """
    if seed is None:
        seed = secrets.randbelow(MAX_SEED + 1)
    job = Job(digit=digit, count=count, seed=seed)
    job.full_clean()
    try:
        with transaction.atomic():
            job.save()
            transaction.on_commit(lambda: _enqueue_generation(job.id))
    except BrokerError as error:
        reason = f"the job queue is unavailable: {error}"
        logger.error("job %s not enqueued: %s", job.id, error)
        job_fail(job_id=job.id, reason=reason)
        raise QueueUnavailableError(reason) from error
    logger.info("job %s queued: digit=%s count=%d seed=%d", job.id, digit, count, seed)
    return job


def _enqueue_generation(job_id):
    from worker.tasks import generate_job  # imported late: the web process never needs torch for this

    generate_job.apply_async(args=[str(job_id)], queue="generate")


def _transition(job_id, *, from_statuses, to_status, **fields) -> bool:
    """Move a job to ``to_status`` only if it is in one of ``from_statuses``; return whether it moved."""
    updated = Job.objects.filter(id=job_id, status__in=list(from_statuses)).update(status=to_status, **fields)
    return updated == 1


def job_start(*, job_id) -> Job | None:
    """Mark a job running for a worker; return it, or None when it must not run.

    A job already ``running`` is started again only when Celery redelivered it after a
    lost worker, and at most ``GAN["MAX_ATTEMPTS"]`` times in all; past that it fails.
    """
    max_attempts = settings.GAN["MAX_ATTEMPTS"]
    started = Job.objects.filter(
        id=job_id, status__in=[JobStatus.QUEUED, JobStatus.RUNNING], attempts__lt=max_attempts
    ).update(status=JobStatus.RUNNING, started_at=timezone.now(), attempts=F("attempts") + 1)
    if started:
        return Job.objects.get(id=job_id)
    if _transition(job_id, from_statuses=[JobStatus.RUNNING], to_status=JobStatus.FAILED,
                   finished_at=timezone.now(), error=f"gave up after {max_attempts} attempts (worker lost each time)"):
        logger.error("job %s failed: attempts exhausted", job_id)
    return None


def job_store_image(*, job: Job, index: int, digit: int, seed: int, png: bytes) -> JobImage:
    """Write one PNG through Django's storage and record it; a redelivered job overwrites its own rows."""
    from django.core.files.base import ContentFile

    JobImage.objects.filter(job=job, index=index).delete()
    image = JobImage(job=job, index=index, digit=digit, seed=seed)
    image.file.save(f"{index:05d}.png", ContentFile(png), save=False)
    image.save()
    return image


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
