import json
import uuid

import pytest

from backend.jobs.models import Job, JobImage

pytestmark = pytest.mark.django_db


def test_generate_returns_202_with_job_url(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post("/api/generate", data=json.dumps({"digit": 4, "count": 3, "seed": 10}),
                               content_type="application/json")
    assert response.status_code == 202
    body = response.json()
    job = Job.objects.get(id=body["id"])
    assert body["status"] == "queued"
    assert body["url"] == f"http://testserver/api/jobs/{job.id}"
    assert response["Location"] == body["url"]
    assert (job.digit, job.count, job.seed) == (4, 3, 10)
    assert len(callbacks) == 1  # the enqueue waits for the commit


def test_generate_defaults(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post("/api/generate", data="{}", content_type="application/json")
    job = Job.objects.get(id=response.json()["id"])
    assert job.digit is None
    assert job.count == 1
    assert 0 <= job.seed < 2**63


def test_generate_accepts_empty_body(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        response = client.generic("POST", "/api/generate", data=b"", content_type="")
    assert response.status_code == 202


def test_generate_accepts_largest_seed_and_null_digit(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post("/api/generate", data=json.dumps({"digit": None, "count": 64, "seed": 2**63 - 1}),
                               content_type="application/json")
    assert response.status_code == 202
    assert Job.objects.get(id=response.json()["id"]).seed == 2**63 - 1


def test_job_detail_shape(client):
    job = Job.objects.create(digit=2, count=1, seed=5, status="succeeded", model_version="mnist-abc")
    image = JobImage(job=job, index=0, digit=2, seed=5)
    image.file.name = f"jobs/{job.id}/00000.png"
    image.save()
    response = client.get(f"/api/jobs/{job.id}")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "succeeded"
    assert body["parameters"] == {"dataset": "mnist", "digit": 2, "count": 1, "seed": 5, "options": {}, "webhook": None,
                                  "webhook_events": []}
    assert body["model_version"] == "mnist-abc"
    assert body["images"] == [{"index": 0, "digit": 2, "seed": 5, "row": None, "column": None, "fraction": None,
                               "url": f"http://testserver/media/jobs/{job.id}/00000.png"}]
    assert body["kind"] == "images"
    assert body["artifact_url"] is None
    assert set(body) >= {"created_at", "started_at", "finished_at", "error"}


def test_job_detail_uses_two_queries(client, django_assert_num_queries):
    job = Job.objects.create(digit=2, count=1, seed=5)
    with django_assert_num_queries(2):
        assert client.get(f"/api/jobs/{job.id}").status_code == 200


@pytest.mark.parametrize("job_id", [str(uuid.uuid4()), "not-a-uuid", "123", "%20"])
def test_unknown_or_malformed_job_is_404(client, job_id):
    response = client.get(f"/api/jobs/{job_id}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_unknown_api_path_is_json_404(client):
    response = client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["status"] == 404


def test_full_queue_returns_503_with_retry_after(client, settings):
    settings.GAN = {**settings.GAN, "MAX_QUEUE_DEPTH": 0}
    response = client.post("/api/generate", data='{"digit": 1}', content_type="application/json")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    error = response.json()["error"]
    assert error["code"] == "queue_full"
    assert "full" in error["message"]
    assert Job.objects.count() == 0


def test_missing_model_returns_503(client, settings, tmp_path):
    settings.GAN = {**settings.GAN, "MODEL_PATH": str(tmp_path / "absent.pt")}
    response = client.post("/api/generate", data='{"digit": 1}', content_type="application/json")
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "model_unavailable"
    assert "absent.pt" in error["message"]


def test_cancel_queued_job(client):
    job = Job.objects.create(digit=1, count=1, seed=0)
    response = client.post(f"/api/jobs/{job.id}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "canceled"
    assert response.json()["finished_at"] is not None


def test_cancel_finished_job_changes_nothing(client):
    job = Job.objects.create(digit=1, count=1, seed=0, status="succeeded")
    response = client.post(f"/api/jobs/{job.id}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "succeeded"


def test_cancel_unknown_job_is_404(client):
    assert client.post(f"/api/jobs/{uuid.uuid4()}/cancel").status_code == 404


def test_cancel_rejects_get_with_a_hint(client):
    response = client.get(f"/api/jobs/{uuid.uuid4()}/cancel")
    assert response.status_code == 405
    assert response.json()["error"]["message"].startswith("Method GET is not allowed on /api/jobs/<id>/cancel: send POST")
