"""Reads of jobs."""

import uuid

from django.conf import settings
from django.db.models import Prefetch

from .models import Job, JobImage


def images_in_order():
    """Prefetch of a job's images in index order, without the join that the model's default ordering adds."""
    return Prefetch("images", queryset=JobImage.objects.order_by("index"))


class JobNotFoundError(Exception):
    pass


class JobExpiredError(Exception):
    """The job existed but passed its retention time; its images are deleted."""


def job_get(*, job_id) -> Job:
    """Return the job with its images prefetched; raise :class:`JobNotFoundError` for an unknown or malformed id."""
    try:
        job_uuid = uuid.UUID(str(job_id))
    except ValueError as error:
        raise JobNotFoundError(f"job {job_id!r} not found: not a valid job id") from error
    try:
        job = Job.objects.prefetch_related(images_in_order()).get(id=job_uuid)
    except Job.DoesNotExist as error:
        raise JobNotFoundError(f"job {job_id} not found") from error
    if job.is_expired:
        raise JobExpiredError(
            f"job {job_id} expired at {job.expires_at.isoformat()}; jobs and their images are kept "
            f"for {settings.GAN['RETENTION_HOURS']:g} hours, so generate again with the same seed to get the same images"
        )
    return job


def job_get_if_finished(*, job_id) -> Job | None:
    """Return the job with its images prefetched if it has reached a terminal status, else None."""
    from .models import TERMINAL_STATUSES

    jobs = Job.objects.prefetch_related(images_in_order()).filter(id=job_id, status__in=list(TERMINAL_STATUSES))
    return next(iter(jobs), None)


def job_list(*, status=None, kind=None, created_after=None, created_before=None):
    """Return a queryset of unexpired jobs, images prefetched, matching the given filters."""
    from django.db.models import Q
    from django.utils import timezone

    jobs = Job.objects.prefetch_related(images_in_order()).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
    if status:
        jobs = jobs.filter(status=status)
    if kind:
        jobs = jobs.filter(kind=kind)
    if created_after:
        jobs = jobs.filter(created_at__gte=created_after)
    if created_before:
        jobs = jobs.filter(created_at__lt=created_before)
    return jobs


def job_wait(*, job_id, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for the job to end; return whether it has.

    The wait sleeps on a Redis notification published when the job reaches a terminal
    status, and reads the job's row only before and after each wake-up.
    """
    from .events import wait_for_finished
    from .models import TERMINAL_STATUSES

    def is_finished():
        return Job.objects.filter(id=job_id, status__in=list(TERMINAL_STATUSES)).exists()

    return wait_for_finished(job_id, is_finished, timeout)
