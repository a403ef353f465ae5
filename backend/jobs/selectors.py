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
