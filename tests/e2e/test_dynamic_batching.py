"""Dynamic batching: concurrent jobs share forward passes and still get the images they would get alone."""

import re
import threading

import pytest
import torch

from backend.jobs import services
from backend.jobs.models import Job, JobStatus
from backend.jobs.selectors import job_wait
from backend.processes import EmbeddedRedis, start_worker, stop_process
from gan_core.checkpoint import load_generator
from gan_core.sampling import generate, to_png
from tests.conftest import SHIPPED_MODEL, point_app_at_broker, wait_for_worker
from worker.generation import run_generate_batch

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def images_alone(jobs):
    """PNG bytes of each job's images, generated one image per forward pass on one thread."""
    generator, _ = load_generator(SHIPPED_MODEL)
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return {job.id: [to_png(generate(generator, [job.digit], [job.seed + index])[0]) for index in range(job.count)]
                for job in jobs}
    finally:
        torch.set_num_threads(previous)


def stored_images(job):
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    return [image.file.read() for image in job.images.order_by("index")]


def test_coalesced_jobs_match_jobs_run_alone(settings):
    settings.GAN = {**settings.GAN, "MODEL_PATH": str(SHIPPED_MODEL), "BATCH_SIZE": 8}
    # Counts 1-3 and odd seeds: the shared passes hold 13 images, split 8 + 5.
    jobs = [Job.objects.create(digit=digit, count=1 + digit % 3, seed=1000 + 7 * digit) for digit in range(7)]

    run_generate_batch([str(job.id) for job in jobs])

    expected = images_alone(jobs)
    for job in jobs:
        assert stored_images(job) == expected[job.id]


def test_worker_coalesces_concurrent_jobs(worker_env, tmp_path, settings):
    """A real worker with a long maximum wait takes jobs queued together as one batch."""
    server = EmbeddedRedis().start()
    from worker.celery import app

    previous_broker = app.conf.broker_url
    log_file = tmp_path / "worker.log"
    env = dict(worker_env, REDIS_URL=server.url, GAN_BATCH_MAX_JOBS="6", GAN_BATCH_MAX_WAIT_MS="1500")
    process = start_worker(env, processes=1, log_file=log_file)
    try:
        point_app_at_broker(app, server.url)
        settings.REDIS_URL = server.url
        wait_for_worker(app)
        created = []
        threads = [threading.Thread(target=lambda digit=digit: created.append(
            services.job_create(digit=digit, count=1, seed=200 + digit))) for digit in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for job in created:
            assert job_wait(job_id=job.id, timeout=60), f"job {job.id} did not finish"
        expected = images_alone(created)
        for job in created:
            assert stored_images(job) == expected[job.id]
        batches = [int(count) for count in re.findall(r"(\d+) jobs \(\d+ images\) generated together", log_file.read_text())]
        assert sum(batches) == 6
        assert max(batches) > 1, f"no jobs were coalesced: batches of {batches}"
    finally:
        stop_process(process)
        point_app_at_broker(app, previous_broker)
        server.stop()


@pytest.fixture(scope="module")
def tiny_fashion_model(tmp_path_factory):
    """A Fashion-MNIST checkpoint from two training steps of a tiny model: enough to route jobs to it."""
    from gan_core.config import ModelConfig, TrainConfig
    from gan_core.training import export_release, train

    folder = tmp_path_factory.mktemp("fashion")
    result = train(ModelConfig(latent_dim=16, generator_width=8, critic_width=8),
                   TrainConfig(dataset="fashion-mnist", max_steps=2, batch_size=16, log_every=1, checkpoint_every=2),
                   folder, progress=False)
    release = folder / "fashion_tiny.pt"
    export_release(result.checkpoint_path, release)
    return release


def test_mixed_datasets_use_own_models(settings, tiny_fashion_model):
    settings.GAN = {**settings.GAN, "MODEL_PATH": str(SHIPPED_MODEL), "FASHION_MODEL_PATH": str(tiny_fashion_model)}
    digits = Job.objects.create(digit=4, count=2, seed=10)
    clothes = Job.objects.create(digit=4, count=2, seed=10, dataset="fashion-mnist")

    run_generate_batch([str(digits.id), str(clothes.id)])

    digits.refresh_from_db()
    clothes.refresh_from_db()
    assert digits.model_version.startswith("mnist-")
    assert clothes.model_version.startswith("fashion_tiny-")
    assert stored_images(digits) == images_alone([digits])[digits.id]
    assert stored_images(clothes) != stored_images(digits)
