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


def run_generate_job(job_id):
    """Run one job. Exceptions propagate to the task, whose failure handler marks the job failed."""
    job = services.job_start(job_id=job_id)
    if job is None:
        logger.info("job %s skipped: not startable (finished, canceled or out of attempts)", job_id)
        return
    logger.info("job %s started (attempt %d, %s, %d images)", job_id, job.attempts, job.kind, job.count)

    # The version is resolved once, at start: activating another version mid-job does not
    # change the images of a job in flight.
    source = active_model_source()
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
