"""A task that raises leaves its job failed with a readable reason; nothing stays queued or running."""

import pytest

from backend.jobs import services
from backend.processes import free_port
from tests.conftest import point_app_at_broker
from backend.jobs.models import Job, JobStatus
from worker.tasks import generate_job

pytestmark = pytest.mark.django_db


def test_missing_model_fails_job_with_reason(settings, tmp_path, caplog):
    settings.GAN = {**settings.GAN, "MODEL_PATH": str(tmp_path / "absent.pt")}
    job = Job.objects.create(digit=1, count=1, seed=0)

    generate_job.apply(args=[str(job.id)])

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "absent.pt not found" in job.error
    assert job.finished_at is not None
    assert str(job.id) in caplog.text


def test_finished_job_is_not_run_again(settings):
    job = Job.objects.create(digit=1, count=1, seed=0, status=JobStatus.SUCCEEDED)
    assert services.job_start(job_id=job.id) is None
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED


def test_terminal_status_never_changes():
    job = Job.objects.create(digit=1, count=1, seed=0, status=JobStatus.FAILED, error="boom")
    assert not services.job_succeed(job_id=job.id, model_version="x")
    assert not services.job_fail(job_id=job.id, reason="again")
    job.refresh_from_db()
    assert (job.status, job.error) == (JobStatus.FAILED, "boom")


def test_redelivered_job_gives_up_after_max_attempts(settings):
    settings.GAN = {**settings.GAN, "MAX_ATTEMPTS": 2}
    job = Job.objects.create(digit=1, count=1, seed=0)
    assert services.job_start(job_id=job.id) is not None
    assert services.job_start(job_id=job.id) is not None  # redelivery after a lost worker
    assert services.job_start(job_id=job.id) is None
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "2 attempts" in job.error


def test_unreachable_redis_returns_503_without_job(client, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    response = client.post("/api/generate", data='{"digit": 2}', content_type="application/json")
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "queue_unavailable"
    assert "queue is unavailable" in error["message"]
    assert response["Retry-After"] == "5"
    assert Job.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_broker_failure_after_save_records_failed_job(client):
    from worker.celery import app

    previous = app.conf.broker_url
    try:
        point_app_at_broker(app, f"redis://127.0.0.1:{free_port()}/0")  # a port nothing listens on
        response = client.post("/api/generate", data='{"digit": 2}', content_type="application/json")
    finally:
        point_app_at_broker(app, previous)
    assert response.status_code == 503
    assert "queue is unavailable" in response.json()["error"]["message"]
    job = Job.objects.get()
    assert job.status == JobStatus.FAILED
    assert "queue is unavailable" in job.error
