"""Liveness, readiness and metrics endpoints."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from backend.jobs.models import Job
from backend.processes import free_port

pytestmark = pytest.mark.django_db


def test_healthz_is_ok(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_without_worker_is_503(client, broker_without_workers):
    response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"] == "ok"
    assert checks["redis"] == "ok"
    assert checks["model"] == "ok"
    assert checks["worker"].startswith("failed: no Celery worker replied")


@pytest.mark.django_db(transaction=True)
def test_readyz_with_worker_is_ready(client, celery_worker_process):
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "ready"


def test_readyz_reports_redis_and_model_down(client, settings, tmp_path):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    settings.GAN = {**settings.GAN, "MODEL_PATH": str(tmp_path / "absent.pt")}
    checks = client.get("/readyz").json()["checks"]
    assert checks["redis"].startswith("failed")
    assert checks["model"].startswith("failed")
    assert "absent.pt" in checks["model"]


def test_metrics_count_jobs_and_latency(client):
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    Job.objects.create(digit=1, count=2, seed=0, status="succeeded", progress=2,
                       started_at=now - timedelta(seconds=0.2), finished_at=now)
    Job.objects.create(digit=1, count=1, seed=0, status="queued")

    response = client.get("/metrics")
    assert response.status_code == 200
    families = {family.name: family for family in text_string_to_metric_families(response.content.decode())}
    jobs = {(sample.labels["status"], sample.labels["kind"]): sample.value for sample in families["gan_jobs"].samples}
    assert jobs[("succeeded", "images")] == 1
    assert jobs[("queued", "images")] == 1
    assert jobs[("failed", "images")] == 0
    assert jobs[("succeeded", "grid")] == 0
    assert families["gan_images_generated"].samples[0].value == 2
    assert families["gan_queue_depth"].samples[0].value >= 0
    buckets = {sample.labels.get("le"): sample.value for sample in families["gan_generation_latency_seconds"].samples
               if sample.name.endswith("_bucket")}
    assert buckets["0.1"] == 0
    assert buckets["0.25"] == 1
    assert buckets["+Inf"] == 1
