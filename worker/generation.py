"""The body of a generate job: start it, run the generator in batches, store PNGs, finish it."""

import io
import logging

from django.conf import settings
from PIL import Image

from backend.jobs import events, services
from backend.jobs.models import JobKind, JobStatus
from backend.training.selectors import active_model_source
from gan_core.sampling import (
    digit_for_seed, generate, grid_png, image_seeds, interpolate, to_png, to_uint8,
)

from .model_cache import get_model

logger = logging.getLogger(__name__)

# Milliseconds per frame of an interpolation's animated GIF.
GIF_FRAME_MS = 80


def plan_images(job, num_classes):
    """Return one dict per output image (index, digit, seed, and row/column or fraction where they apply)."""
    if job.kind == JobKind.GRID:
        per_digit = job.options["seeds_per_digit"]
        seeds = image_seeds(job.seed, per_digit)
        return [{"index": row * per_digit + column, "digit": digit, "seed": seeds[column], "row": row, "column": column}
                for row, digit in enumerate(job.options["digits"]) for column in range(per_digit)]
    if job.kind == JobKind.INTERPOLATION:
        frames = job.options["frames"]
        return [{"index": index, "digit": job.options["start_digit"] if index < frames / 2 else job.options["end_digit"],
                 "seed": job.options["start_seed"], "fraction": index / (frames - 1)} for index in range(frames)]
    seeds = image_seeds(job.seed, job.count)
    return [{"index": index, "digit": job.digit if job.digit is not None else digit_for_seed(seed, num_classes),
             "seed": seed} for index, seed in enumerate(seeds)]


def can_coalesce(job):
    """Return whether the job can share forward passes with others: plain images, not streamed."""
    return job.kind == JobKind.IMAGES and not job.stream


def run_generate_batch(job_ids):
    """Run the jobs that arrived together. Plain image jobs share forward passes and the rest run one by one.

    An exception fails only the jobs it concerns: one in a shared pass fails that pass's
    jobs (one pass per dataset), and one in a job run alone fails that job.
    """
    jobs, leftover_ids = services.jobs_start(job_ids=job_ids)
    for job_id in leftover_ids:
        # Not startable in bulk: finished, canceled, redelivered, or out of attempts; job_start decides.
        run_alone(job_id)
    shared = {}
    for job in jobs:
        if can_coalesce(job):
            shared.setdefault(job.dataset, []).append(job)
    for dataset, group in shared.items():
        try:
            run_coalesced(group, dataset)
        except Exception as error:  # noqa: BLE001 - recorded on every job of the pass, then logged
            for job in group:
                fail_job(job.id, error)
    for job in jobs:
        if not can_coalesce(job):
            run_alone(job.id, job)


def run_alone(job_id, started_job=None):
    """Run one job by itself; an exception fails that job only (and ends its stream)."""
    try:
        if started_job is None:
            run_generate_job(job_id)
        else:
            run_started_job(started_job)
    except Exception as error:  # noqa: BLE001 - recorded on the job, then logged
        fail_job(job_id, error)


def fail_job(job_id, error):
    """Mark the job failed with the exception as its reason, and end its stream if it has one."""
    from backend.jobs.models import Job

    reason = f"{type(error).__name__}: {error}"
    logger.error("job %s failed: %s", job_id, reason, exc_info=error)
    if services.job_fail(job_id=job_id, reason=reason) and Job.objects.filter(id=job_id, stream=True).exists():
        events.publish_end(job_id, JobStatus.FAILED, reason)


def run_coalesced(jobs, dataset="mnist"):
    """Generate every image of ``jobs`` in shared forward passes of up to ``GAN["BATCH_SIZE"]`` images.

    Each image depends only on its digit, seed and model version, never on the other
    rows of its batch (see ``gan_core.sampling.generate``), so the result is the same
    as running each job alone. All jobs are of ``dataset``.
    """
    source = active_model_source(dataset)
    model = get_model(source.path, source.version)
    num_classes = model.generator.config.num_classes
    plan = [(job, item) for job in jobs for item in plan_images(job, num_classes)]
    batch_size = settings.GAN["BATCH_SIZE"]
    for start in range(0, len(plan), batch_size):
        batch = plan[start : start + batch_size]
        images = generate(model.generator, [item["digit"] for _, item in batch], [item["seed"] for _, item in batch])
        for (_, item), image in zip(batch, images):
            item["png"] = to_png(image)
    images_by_job = {}
    for job, item in plan:
        images_by_job.setdefault(job.id, []).append(item)
    services.jobs_finish_coalesced(jobs=jobs, images_by_job=images_by_job, model_version=model.version)
    logger.info("%d jobs (%d images) generated together with model %s", len(jobs), len(plan), model.version)


def run_generate_job(job_id):
    """Start and run one job. Exceptions propagate to the caller, which marks the job failed."""
    job = services.job_start(job_id=job_id)
    if job is None:
        logger.info("job %s skipped: not startable (finished, canceled or out of attempts)", job_id)
        return
    run_started_job(job)


def run_started_job(job):
    """Run one job already marked running, batch by batch, stopping early when it is canceled."""
    job_id = job.id
    logger.info("job %s started (attempt %d, %s, %d images)", job_id, job.attempts, job.kind, job.count)

    # The version is resolved once, at start: activating another version mid-job does not
    # change the images of a job in flight.
    source = active_model_source(job.dataset)
    model = get_model(source.path, source.version)
    services.job_set_model_version(job_id=job.id, model_version=model.version)
    plan = plan_images(job, model.generator.config.num_classes)
    if job.kind == JobKind.INTERPOLATION:
        options = job.options
        tensors = interpolate(model.generator, start_digit=options["start_digit"], end_digit=options["end_digit"],
                              start_seed=options["start_seed"], end_seed=options["end_seed"], frames=options["frames"])
    else:
        tensors = None

    batch_size = settings.GAN["BATCH_SIZE"]
    for start in range(0, len(plan), batch_size):
        # A canceled job stops between batches, so it ends within one batch's time.
        if services.job_is_canceled(job_id=job.id):
            logger.info("job %s stopped after %d of %d images: canceled", job.id, start, job.count)
            if job.stream:
                events.publish_end(job.id, JobStatus.CANCELED)
            return
        batch = plan[start : start + batch_size]
        if tensors is None:
            images = generate(model.generator, [item["digit"] for item in batch], [item["seed"] for item in batch])
        else:
            images = tensors[start : start + batch_size]
        for item, image in zip(batch, images):
            item["png"] = to_png(image)
            item["tensor"] = image
        rows = services.job_store_images(job=job, images=batch)
        if job.stream:
            for item, row in zip(batch, rows):
                item["url"] = row.file.url
            events.publish_images(job.id, batch)

    if job.kind == JobKind.GRID:
        import torch

        sheet = grid_png(torch.stack([item["tensor"] for item in plan]), columns=job.options["seeds_per_digit"])
        services.job_store_artifact(job=job, name="grid.png", content=sheet)
    elif job.kind == JobKind.INTERPOLATION:
        services.job_store_artifact(job=job, name="animation.gif", content=animated_gif(tensors))

    if services.job_succeed(job_id=job.id, model_version=model.version) and job.stream:
        events.publish_end(job.id, JobStatus.SUCCEEDED)


def animated_gif(frames):
    """Encode frames ``(N, 1, 28, 28)`` as a looping grayscale GIF."""
    pictures = [Image.fromarray(to_uint8(frame)) for frame in frames]
    buffer = io.BytesIO()
    pictures[0].save(buffer, format="GIF", save_all=True, append_images=pictures[1:], duration=GIF_FRAME_MS, loop=0)
    return buffer.getvalue()
