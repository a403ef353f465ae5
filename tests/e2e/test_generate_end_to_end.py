"""HTTP -> Django -> Redis -> a real Celery worker process -> storage -> HTTP, on the shipped model."""

import io
import time

import numpy as np
import pytest
import requests
import torch
from PIL import Image

from gan_core.classifier import load_classifier
from gan_core.evaluate import DEFAULT_CLASSIFIER
from gan_core.sampling import digit_for_seed

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def submit(live_server, body):
    response = requests.post(f"{live_server.url}/api/generate", json=body, timeout=10)
    assert response.status_code == 202, response.text
    return response.json()["url"]


def wait_for_job(url, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = requests.get(url, timeout=10).json()
        if job["status"] in ("succeeded", "failed", "canceled"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {url} still {job['status']} after {timeout} s")


def fetch_png(url):
    response = requests.get(url, timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/png"
    return response.content


def test_job_over_http_produces_pngs(live_server, celery_worker_process):
    job = wait_for_job(submit(live_server, {"digit": 7, "count": 3, "seed": 123}))

    assert job["status"] == "succeeded", job["error"]
    assert job["error"] == ""
    assert job["model_version"].startswith("mnist-")
    assert job["started_at"] and job["finished_at"]
    assert [image["index"] for image in job["images"]] == [0, 1, 2]
    assert [image["seed"] for image in job["images"]] == [123, 124, 125]
    assert {image["digit"] for image in job["images"]} == {7}

    classifier = load_classifier(DEFAULT_CLASSIFIER)
    pixels = []
    for image in job["images"]:
        assert image["url"].startswith(live_server.url + "/media/jobs/")
        png = Image.open(io.BytesIO(fetch_png(image["url"])))
        assert png.mode == "L"
        assert png.size == (28, 28)
        pixels.append(torch.from_numpy(np.array(png)).float().unsqueeze(0) / 127.5 - 1)
    predictions = classifier(torch.stack(pixels)).argmax(dim=1).tolist()
    assert predictions.count(7) >= 2, predictions


def test_same_seed_gives_same_pixels(live_server, celery_worker_process):
    first = wait_for_job(submit(live_server, {"digit": 3, "count": 2, "seed": 42}))
    second = wait_for_job(submit(live_server, {"digit": 3, "count": 2, "seed": 42}))
    other = wait_for_job(submit(live_server, {"digit": 3, "count": 1, "seed": 43}))

    assert first["model_version"] == second["model_version"]
    first_pngs = [fetch_png(image["url"]) for image in first["images"]]
    assert first_pngs == [fetch_png(image["url"]) for image in second["images"]]
    # seed 43 is the second image of the seed-42 job, so it must match that image and not the first.
    assert fetch_png(other["images"][0]["url"]) == first_pngs[1]
    assert first_pngs[0] != first_pngs[1]


def test_random_digit_follows_seed(live_server, celery_worker_process):
    job = wait_for_job(submit(live_server, {"count": 6, "seed": 1000}))
    assert job["status"] == "succeeded"
    assert job["parameters"] == {"dataset": "mnist", "digit": None, "count": 6, "seed": 1000, "options": {}, "webhook": None, "webhook_events": []}
    assert [image["digit"] for image in job["images"]] == [digit_for_seed(1000 + i) for i in range(6)]


def test_worker_loads_model_once(live_server, celery_worker_process, tmp_path_factory):
    for seed in (1, 2):
        assert wait_for_job(submit(live_server, {"digit": 1, "seed": seed}))["status"] == "succeeded"
    log = (tmp_path_factory.getbasetemp() / "worker.log").read_text()
    # Other tests may have sent Fashion-MNIST jobs, which load that model once as well.
    assert log.count("loaded model mnist-") == 1


def test_concurrent_jobs_all_succeed(live_server, celery_worker_process):
    """Web threads and the worker write the same SQLite file at once; no job may fail with a lock error."""
    from concurrent.futures import ThreadPoolExecutor

    bodies = [{"digit": index % 10, "count": 8, "seed": 500 + 10 * index} for index in range(12)]
    with ThreadPoolExecutor(12) as pool:
        urls = list(pool.map(lambda body: submit(live_server, body), bodies))
    jobs = [wait_for_job(url) for url in urls]

    assert [job["error"] for job in jobs if job["status"] != "succeeded"] == []
    assert all(len(job["images"]) == 8 for job in jobs)
