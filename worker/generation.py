"""The body of a generate job: start it, run the generator in batches, store PNGs, finish it."""

import logging

from django.conf import settings

from backend.jobs import services
from gan_core.sampling import digit_for_seed, generate, image_seeds, to_png

from .model_cache import get_model

logger = logging.getLogger(__name__)


def run_generate_job(job_id):
    """Run one job. Exceptions propagate to the task, whose failure handler marks the job failed."""
    job = services.job_start(job_id=job_id)
    if job is None:
        logger.info("job %s skipped: not startable (finished, canceled or out of attempts)", job_id)
        return
    logger.info("job %s started (attempt %d)", job_id, job.attempts)

    model = get_model()
    services.job_set_model_version(job_id=job.id, model_version=model.version)
    num_classes = model.generator.config.num_classes
    seeds = image_seeds(job.seed, job.count)
    digits = [job.digit if job.digit is not None else digit_for_seed(seed, num_classes) for seed in seeds]

    batch_size = settings.GAN["BATCH_SIZE"]
    for start in range(0, job.count, batch_size):
        images = generate(model.generator, digits[start : start + batch_size], seeds[start : start + batch_size])
        for offset, image in enumerate(images):
            index = start + offset
            services.job_store_image(job=job, index=index, digit=digits[index], seed=seeds[index], png=to_png(image))

    services.job_succeed(job_id=job.id, model_version=model.version)
