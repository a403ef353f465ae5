"""Jobs expire: 410 Gone, gone from listings, and the sweep deletes their files and, later, their rows."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.utils import timezone

from backend.jobs.models import Job, JobImage
from backend.jobs.services import jobs_purge_expired
from worker.celery import app

pytestmark = pytest.mark.django_db


def job_with_image(expires_at):
    job = Job.objects.create(digit=1, count=1, seed=0, status="succeeded", expires_at=expires_at)
    image = JobImage(job=job, index=0, digit=1, seed=0)
    image.file.save("00000.png", ContentFile(b"png"), save=True)
    return job, Path(image.file.path)


def test_new_job_expires_after_retention(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post("/api/generate", data="{}", content_type="application/json")
    job = Job.objects.get(id=response.json()["id"])
    expected = job.created_at + timedelta(hours=settings.GAN["RETENTION_HOURS"])
    assert abs((job.expires_at - expected).total_seconds()) < 5


def test_expired_job_is_410(client):
    job, _ = job_with_image(timezone.now() - timedelta(minutes=1))
    response = client.get(f"/api/jobs/{job.id}")
    assert response.status_code == 410
    error = response.json()["error"]
    assert error["code"] == "expired"
    assert "same seed" in error["message"]
    assert client.post(f"/api/jobs/{job.id}/cancel").status_code == 410


def test_expired_job_not_listed(client):
    expired, _ = job_with_image(timezone.now() - timedelta(minutes=1))
    live, _ = job_with_image(timezone.now() + timedelta(hours=1))
    ids = [job["id"] for job in client.get("/api/jobs").json()["results"]]
    assert ids == [str(live.id)]


def test_sweep_deletes_files_then_rows(client):
    expired, expired_file = job_with_image(timezone.now() - timedelta(minutes=1))
    old, old_file = job_with_image(timezone.now() - timedelta(days=settings.GAN["TOMBSTONE_DAYS"] + 1))
    live, live_file = job_with_image(timezone.now() + timedelta(hours=1))

    counts = jobs_purge_expired()

    assert counts == {"files": 2, "rows": 2, "jobs": 1}
    assert not expired_file.exists()
    assert not old_file.exists()
    assert live_file.exists()
    assert client.get(f"/api/jobs/{expired.id}").status_code == 410  # the row stays a while
    assert client.get(f"/api/jobs/{old.id}").status_code == 404
    assert JobImage.objects.filter(job=live).count() == 1


def test_beat_schedules_the_sweep():
    entry = settings.CELERY_BEAT_SCHEDULE["purge-expired-jobs"]
    assert entry["task"] in app.tasks
    assert entry["schedule"] > 0
