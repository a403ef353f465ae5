"""The body of a generate job: start it, run the generator in batches, store PNGs, finish it."""

import logging

from django.conf import settings

from backend.jobs import events, services
from backend.jobs.models import JobStatus
from backend.training.selectors import active_model_source
from gan_core.sampling import digit_for_seed, generate, image_seeds, to_png

from .model_cache import get_model

logger = logging.getLogger(__name__)


def run_generate_job(job_id):
    """Run one job. Exceptions propagate to the task, whose failure handler marks the job failed."""
    job = services.job_start(job_id=job_id)
    if job is None:
        logger.info("job %s skipped: not startable (finished, canceled or out of attempts)", job_id)
        return
    logger.info("job %s started (attempt %d, %d images)", job_id, job.attempts, job.count)

    # The version is resolved once, at start: activating another version mid-job does not
    # change the images of a job in flight.
    source = active_model_source()
    model = get_model(source.path, source.version)
    services.job_set_model_version(job_id=job.id, model_version=model.version)
    num_classes = model.generator.config.num_classes
    seeds = image_seeds(job.seed, job.count)
    digits = [job.digit if job.digit is not None else digit_for_seed(seed, num_classes) for seed in seeds]

    batch_size = settings.GAN["BATCH_SIZE"]
    for start in range(0, job.count, batch_size):
        # A canceled job stops between batches, so it ends within one batch's time.
        if services.job_is_canceled(job_id=job.id):
            logger.info("job %s stopped after %d of %d images: canceled", job.id, start, job.count)
            if job.stream:
                events.publish_end(job.id, JobStatus.CANCELED)
            return
        end = min(start + batch_size, job.count)
        tensors = generate(model.generator, digits[start:end], seeds[start:end])
        batch = [
            {"index": index, "digit": digits[index], "seed": seeds[index], "png": to_png(tensor)}
            for index, tensor in zip(range(start, end), tensors)
        ]
        rows = services.job_store_images(job=job, images=batch)
        if job.stream:
            for image, row in zip(batch, rows):
                image["url"] = row.file.url
            events.publish_images(job.id, batch)

    if services.job_succeed(job_id=job.id, model_version=model.version) and job.stream:
        events.publish_end(job.id, JobStatus.SUCCEEDED)
