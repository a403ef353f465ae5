"""Grid and interpolation jobs over REST and GenerateStream, with a real worker."""

import io
import time

import numpy as np
import pytest
import requests
from PIL import Image

from protos.gan.v1 import generation_pb2 as pb
from tests.e2e.test_generate_end_to_end import fetch_png, submit, wait_for_job

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def pixels(png):
    return np.array(Image.open(io.BytesIO(png)), dtype=np.int16)


def test_grid_job_has_cells_and_sheet(live_server, celery_worker_process):
    job = wait_for_job(submit(live_server, {"kind": "grid", "digits": [1, 7], "seeds_per_digit": 3, "seed": 100}))
    assert job["status"] == "succeeded", job["error"]
    assert job["kind"] == "grid"
    assert job["parameters"]["options"] == {"digits": [1, 7], "seeds_per_digit": 3}
    cells = [(image["row"], image["column"], image["digit"], image["seed"]) for image in job["images"]]
    assert cells == [(0, 0, 1, 100), (0, 1, 1, 101), (0, 2, 1, 102), (1, 0, 7, 100), (1, 1, 7, 101), (1, 2, 7, 102)]

    sheet = Image.open(io.BytesIO(fetch_png(job["artifact_url"])))
    assert (sheet.mode, sheet.size) == ("L", (3 * 30 + 2, 2 * 30 + 2))
    # The cell at row 1, column 2 is the same image as a plain job for digit 7, seed 102.
    plain = wait_for_job(submit(live_server, {"digit": 7, "seed": 102}))
    expected = pixels(fetch_png(plain["images"][0]["url"]))
    top, left = 2 + 1 * 30, 2 + 2 * 30
    assert np.array_equal(np.array(sheet)[top : top + 28, left : left + 28], expected)


def test_interpolation_job_has_frames_and_gif(live_server, celery_worker_process):
    body = {"kind": "interpolation", "start_digit": 1, "end_digit": 7, "start_seed": 5, "end_seed": 6, "frames": 5}
    job = wait_for_job(submit(live_server, body))
    assert job["status"] == "succeeded", job["error"]
    assert [image["fraction"] for image in job["images"]] == [0.0, 0.25, 0.5, 0.75, 1.0]

    gif = Image.open(io.BytesIO(requests.get(job["artifact_url"], timeout=10).content))
    assert gif.format == "GIF"
    assert gif.n_frames == 5
    # The path starts at the plain image for (digit 1, seed 5), up to float rounding.
    plain = wait_for_job(submit(live_server, {"digit": 1, "seed": 5}))
    first = pixels(fetch_png(job["images"][0]["url"]))
    assert np.abs(first - pixels(fetch_png(plain["images"][0]["url"]))).max() <= 1


def test_grid_over_generate_stream(stub, celery_worker_process):
    request = pb.GenerateRequest(seed=40, grid=pb.GridSpec(digits=[3], seeds_per_digit=4))
    messages = list(stub.GenerateStream(request, timeout=60))
    assert [(message.row, message.column, message.seed) for message in messages] == [
        (0, 0, 40), (0, 1, 41), (0, 2, 42), (0, 3, 43)]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        job = stub.GetJob(pb.GetJobRequest(job_id=messages[0].job_id))
        if job.artifact_url:
            break
        time.sleep(0.1)
    assert job.kind == "grid"
    assert job.artifact_url.endswith("grid.png")
