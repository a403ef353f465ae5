"""Reads of jobs."""

import uuid

from .models import Job


class JobNotFoundError(Exception):
    pass


def job_get(*, job_id) -> Job:
    """Return the job with its images prefetched; raise :class:`JobNotFoundError` for an unknown or malformed id."""
    try:
        job_uuid = uuid.UUID(str(job_id))
    except ValueError as error:
        raise JobNotFoundError(f"job {job_id!r} not found: not a valid job id") from error
    try:
        return Job.objects.prefetch_related("images").get(id=job_uuid)
    except Job.DoesNotExist as error:
        raise JobNotFoundError(f"job {job_id} not found") from error


def job_list(*, status=None, kind=None, created_after=None, created_before=None):
    """Return a queryset of jobs, images prefetched, matching the given filters."""
    jobs = Job.objects.prefetch_related("images")
    if status:
        jobs = jobs.filter(status=status)
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
