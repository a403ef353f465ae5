"""A task that raises leaves its job failed with a readable reason; nothing stays queued or running."""

import pytest

from backend.jobs import services
from backend.processes import free_port
from backend.jobs.models import Job, JobStatus
from worker.tasks import generate_job

pytestmark = pytest.mark.django_db


def point_app_at_broker(app, url):
    """Switch the Celery app to another broker, dropping its pooled connections to the old one."""
    app.conf.broker_url = url
    if app._pool is not None:
        app._pool.force_close_all()
    # Celery rebuilds both pools lazily from broker_url on next use.
    app._pool = None
    app.amqp._producer_pool = None


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


@pytest.mark.django_db(transaction=True)
def test_unreachable_redis_fails_job_and_returns_503(client):
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
