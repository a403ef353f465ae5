"""The gateway against a real worker process and Redis: streams, cancellation, deadlines and both front doors."""

import io
import time

import grpc
import pytest
import requests
from PIL import Image

from backend.jobs import services
from backend.jobs.models import Job, JobStatus
from protos.gan.v1 import generation_pb2 as pb

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def wait_for(predicate, timeout=10.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def finished_job(stub, job_id, timeout=60):
    return wait_for(lambda: (job := stub.GetJob(pb.GetJobRequest(job_id=job_id))).status
                    in (pb.JOB_STATUS_SUCCEEDED, pb.JOB_STATUS_FAILED, pb.JOB_STATUS_CANCELED) and job, timeout)


def test_stream_of_100_images_arrives_in_order(stub, celery_worker_process):
    messages = list(stub.GenerateStream(pb.GenerateRequest(digit=4, count=100, seed=7), timeout=120))

    assert [message.index for message in messages] == list(range(100))
    assert {message.digit for message in messages} == {4}
    assert [message.seed for message in messages] == list(range(7, 107))
    assert len({message.job_id for message in messages}) == 1
    for message in messages[:5]:
        image = Image.open(io.BytesIO(message.png))
        assert (image.mode, image.size) == ("L", (28, 28))
        assert message.url.endswith(f"/media/jobs/{message.job_id[:2]}/{message.job_id}-{message.index:05d}.png")
    job = stub.GetJob(pb.GetJobRequest(job_id=messages[0].job_id))
    assert job.status == pb.JOB_STATUS_SUCCEEDED
    assert len(job.images) == 100


def test_first_image_arrives_before_job_finishes(stub, celery_worker_process):
    stream = stub.GenerateStream(pb.GenerateRequest(digit=1, count=2000, seed=0), timeout=120)
    first = next(stream)
    job = Job.objects.get(id=first.job_id)
    assert first.index == 0
    assert job.progress < job.count
    stream.cancel()


def test_cancel_after_three_messages_stops_worker(stub, celery_worker_process):
    stream = stub.GenerateStream(pb.GenerateRequest(digit=2, count=10_000, seed=1), timeout=120)
    received = [next(stream) for _ in range(3)]
    stream.cancel()
    job_id = received[0].job_id

    wait_for(lambda: Job.objects.get(id=job_id).status == JobStatus.CANCELED, timeout=5)
    time.sleep(1.0)  # the worker may finish the batch it was in
    stopped_at = Job.objects.get(id=job_id).progress
    time.sleep(1.5)
    assert Job.objects.get(id=job_id).progress == stopped_at
    assert stopped_at < 10_000
    # The images stored before the cancel stay listed, as over REST.
    assert len(stub.GetJob(pb.GetJobRequest(job_id=job_id)).images) == stopped_at

    # With one handler thread, the next call only succeeds if the canceled stream's handler has returned.
    started = time.monotonic()
    job = stub.Generate(pb.GenerateRequest(digit=3, count=1, seed=5), timeout=5)
    assert job.status == pb.JOB_STATUS_QUEUED
    assert time.monotonic() - started < 2


def test_deadline_cancels_job(stub, celery_worker_process):
    stream = stub.GenerateStream(pb.GenerateRequest(digit=5, count=10_000, seed=2), timeout=1.0)
    job_ids = set()
    with pytest.raises(grpc.RpcError) as raised:
        for message in stream:
            job_ids.add(message.job_id)
    assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    (job_id,) = job_ids
    wait_for(lambda: Job.objects.get(id=job_id).status == JobStatus.CANCELED, timeout=5)


def test_cancel_job_stops_running_job(stub, celery_worker_process):
    job = services.job_create(digit=6, count=10_000, seed=3, stream=True)
    wait_for(lambda: Job.objects.get(id=job.id).progress > 0, timeout=30)

    canceled = stub.CancelJob(pb.CancelJobRequest(job_id=str(job.id)))
    assert canceled.status == pb.JOB_STATUS_CANCELED
    time.sleep(1.0)
    stopped_at = Job.objects.get(id=job.id).progress
    time.sleep(1.0)
    assert Job.objects.get(id=job.id).progress == stopped_at < 10_000


def test_cancel_queued_job(stub):
    job = Job.objects.create(digit=1, count=1, seed=0)  # never enqueued, so it stays queued
    assert stub.CancelJob(pb.CancelJobRequest(job_id=str(job.id))).status == pb.JOB_STATUS_CANCELED
    again = stub.CancelJob(pb.CancelJobRequest(job_id=str(job.id)))
    assert again.status == pb.JOB_STATUS_CANCELED
    assert services.job_start(job_id=job.id) is None


def test_grpc_job_visible_over_rest(stub, live_server, settings, celery_worker_process):
    settings.GAN = {**settings.GAN, "PUBLIC_BASE_URL": live_server.url}
    created = stub.Generate(pb.GenerateRequest(digit=8, count=2, seed=11))
    job = finished_job(stub, created.id)
    assert job.status == pb.JOB_STATUS_SUCCEEDED

    rest = requests.get(f"{live_server.url}/api/jobs/{created.id}", timeout=10).json()
    assert rest["status"] == "succeeded"
    assert rest["parameters"] == {"dataset": "mnist", "digit": 8, "count": 2, "seed": 11, "options": {}, "webhook": None, "webhook_events": []}
    assert [image["url"] for image in rest["images"]] == [image.url for image in job.images]
    with_png = stub.GetJob(pb.GetJobRequest(job_id=created.id, include_png=True))
    assert with_png.images[0].png == requests.get(job.images[0].url, timeout=10).content


def test_rest_job_visible_over_grpc(stub, live_server, celery_worker_process):
    response = requests.post(f"{live_server.url}/api/generate", json={"digit": 9, "seed": 4}, timeout=10)
    job = finished_job(stub, response.json()["id"])
    assert job.status == pb.JOB_STATUS_SUCCEEDED
    assert (job.digit, job.count, job.seed) == (9, 1, 4)
    assert job.model_version.startswith("mnist-")
