"""Writes to training runs and model versions, shared by the admin and the train worker.

Status changes go through conditional UPDATEs, so two processes racing on one run
cannot both win; ``training_run_claim`` is what keeps a run from executing twice.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from gan_core.checkpoint import file_digest

from .models import ModelVersion, RunStatus, TrainingRun
from .selectors import quality_floor

logger = logging.getLogger(__name__)


class QualityFloorError(Exception):
    """A model version scores below the quality floor and no override was given."""


class RunStateError(Exception):
    """The run is not in a state that allows the requested action."""


def training_run_create(*, run: TrainingRun, user=None) -> TrainingRun:
    """Validate and save a new run, then enqueue it on the train queue once committed."""
    run.created_by = user if user is not None and user.is_authenticated else None
    run.status = RunStatus.QUEUED
    run.full_clean()
    with transaction.atomic():
        run.save()
        transaction.on_commit(lambda: _enqueue_training(run.pk))
    logger.info("training run %s queued", run.pk)
    return run


def _enqueue_training(run_id):
    from worker.tasks import train_run

    train_run.apply_async(args=[run_id], queue="train")


def _transition(run_id, *, from_statuses, to_status, **fields) -> bool:
    return TrainingRun.objects.filter(pk=run_id, status__in=list(from_statuses)).update(status=to_status, **fields) == 1


def training_run_claim(*, run_id) -> TrainingRun | str:
    """Take a run for this worker; return the run, "busy" or "done".

    A queued run is taken at once. A running run is taken over only when its heartbeat
    is older than ``TRAINING["HEARTBEAT_STALE_SECONDS"]``, which means its worker was
    lost. While the heartbeat is fresh, another execution owns the run and the result
    is "busy". Past
    ``TRAINING["MAX_ATTEMPTS"]`` starts the run fails instead. "done" means there is
    nothing to run (the run finished, failed or was canceled).
    """
    now = timezone.now()
    stale_before = now - timedelta(seconds=settings.TRAINING["HEARTBEAT_STALE_SECONDS"])
    max_attempts = settings.TRAINING["MAX_ATTEMPTS"]
    claimable = Q(status=RunStatus.QUEUED) | Q(status=RunStatus.RUNNING, heartbeat_at__lt=stale_before)
    claimed = TrainingRun.objects.filter(claimable, pk=run_id, attempts__lt=max_attempts).update(
        status=RunStatus.RUNNING, attempts=F("attempts") + 1, heartbeat_at=now, attempt_started_at=now,
        attempt_start_step=F("step"),
    )
    if claimed:
        TrainingRun.objects.filter(pk=run_id, started_at__isnull=True).update(started_at=now)
        return TrainingRun.objects.get(pk=run_id)

    run = TrainingRun.objects.get(pk=run_id)
    if run.status == RunStatus.RUNNING and run.heartbeat_at and run.heartbeat_at >= stale_before:
        return "busy"
    if run.status in (RunStatus.QUEUED, RunStatus.RUNNING):
        reason = f"gave up after {run.attempts} attempts: the worker was lost each time (see the worker log)"
        if _transition(run_id, from_statuses=[RunStatus.QUEUED, RunStatus.RUNNING], to_status=RunStatus.FAILED,
                       finished_at=now, error=reason):
            logger.error("training run %s failed: %s", run_id, reason)
    return "done"


def training_run_heartbeat(*, run_id, step: int, total_steps: int) -> str:
    """Record that the run is alive at ``step``; return its current status (the admin may have canceled it)."""
    TrainingRun.objects.filter(pk=run_id, status=RunStatus.RUNNING).update(
        heartbeat_at=timezone.now(), step=step, total_steps=total_steps)
    return TrainingRun.objects.values_list("status", flat=True).get(pk=run_id)


def training_run_record(*, run_id, record: dict):
    """Append one interval's losses to the run's history (only the owning worker writes it)."""
    run = TrainingRun.objects.get(pk=run_id)
    run.history = [entry for entry in run.history if entry["step"] < record["step"]] + [record]
    run.step = record["step"]
    run.save(update_fields=["history", "step"])


def training_run_store_grid(*, run_id, png: bytes):
    run = TrainingRun.objects.get(pk=run_id)
    old_name = run.latest_grid.name
    run.latest_grid.save(f"run-{run_id}.png", ContentFile(png), save=False)
    run.save(update_fields=["latest_grid"])
    if old_name and old_name != run.latest_grid.name:
        run.latest_grid.storage.delete(old_name)


def training_run_finish(*, run_id) -> bool:
    moved = _transition(run_id, from_statuses=[RunStatus.RUNNING], to_status=RunStatus.SUCCEEDED,
                        finished_at=timezone.now())
    if moved:
        logger.info("training run %s succeeded", run_id)
    return moved


def training_run_fail(*, run_id, reason: str) -> bool:
    moved = _transition(run_id, from_statuses=[RunStatus.QUEUED, RunStatus.RUNNING], to_status=RunStatus.FAILED,
                        finished_at=timezone.now(), error=reason[:4000])
    if moved:
        logger.error("training run %s failed: %s", run_id, reason)
    return moved


def training_run_cancel(*, run_id) -> bool:
    """Cancel a queued or running run; a running one stops at its next step and keeps its last checkpoint."""
    moved = _transition(run_id, from_statuses=[RunStatus.QUEUED, RunStatus.RUNNING], to_status=RunStatus.CANCELED,
                        finished_at=timezone.now())
    if moved:
        logger.info("training run %s canceled", run_id)
    return moved


def training_run_resume(*, run_id) -> TrainingRun:
    """Queue a canceled or failed run again; it continues from its last checkpoint."""
    with transaction.atomic():
        if not _transition(run_id, from_statuses=[RunStatus.CANCELED, RunStatus.FAILED], to_status=RunStatus.QUEUED,
                           finished_at=None, error="", attempts=0):
            status = TrainingRun.objects.values_list("status", flat=True).get(pk=run_id)
            raise RunStateError(f"run {run_id} is {status}; only canceled or failed runs can be resumed")
        transaction.on_commit(lambda: _enqueue_training(run_id))
    logger.info("training run %s queued again to resume", run_id)
    return TrainingRun.objects.get(pk=run_id)


def model_version_save(*, run: TrainingRun | None, name: str, step: int, checkpoint_path, grid_png: bytes,
                       metrics: dict) -> ModelVersion:
    """Store a sampling checkpoint as a model version (replacing one of the same name), with grid and metrics."""
    version_string = f"{name}-{file_digest(checkpoint_path)}"
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().filter(name=name).first() or ModelVersion(name=name)
        for field in (version.checkpoint, version.grid):
            if field.name:
                field.storage.delete(field.name)
        version.run, version.step, version.metrics, version.version = run, step, metrics, version_string
        version.dataset = run.dataset if run is not None else version.dataset
        with open(checkpoint_path, "rb") as handle:
            version.checkpoint.save(f"{name}.pt", ContentFile(handle.read()), save=False)
        version.grid.save(f"{name}.png", ContentFile(grid_png), save=False)
        version.save()
    logger.info("model version %s saved (agreement %.4f)", version_string, metrics.get("agreement", float("nan")))
    return version


def model_version_activate(*, version_id, override: bool = False) -> ModelVersion:
    """Make one version the one new generate jobs use.

    Raises :class:`QualityFloorError` when its agreement is below ``TRAINING["QUALITY_FLOOR"]``
    (or it has no score) and ``override`` is False.
    """
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().get(pk=version_id)
        floor = quality_floor(version.dataset)
        agreement = version.metrics.get("agreement")
        if not override and (agreement is None or agreement < floor):
            score = "no score" if agreement is None else f"agreement {agreement:.4f}"
            raise QualityFloorError(
                f"{version.version} has {score}, below the quality floor {floor:.2f}; "
                "use 'Activate, overriding the quality floor' to activate it anyway"
            )
        ModelVersion.objects.filter(is_active=True, dataset=version.dataset).update(is_active=False)
        version.is_active, version.activated_at = True, timezone.now()
        version.save(update_fields=["is_active", "activated_at"])
    logger.info("model version %s activated%s", version.version, " (quality floor overridden)" if override else "")
    return version


def model_version_deactivate(*, version_id) -> ModelVersion:
    """Make new generate jobs of the version's dataset use the default checkpoint again (the shipped weights)."""
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().get(pk=version_id)
        if version.is_active:
            version.is_active = False
            version.save(update_fields=["is_active"])
            logger.info("model version %s deactivated; %s jobs use the default checkpoint", version.version,
                        version.dataset)
    return version
