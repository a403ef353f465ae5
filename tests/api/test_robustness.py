"""Inputs and outages that once produced a 500 or a non-JSON error."""

import json

import pytest

from backend.jobs.models import Job
from backend.processes import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_down(settings):
    url = f"redis://127.0.0.1:{free_port()}/0"
    settings.REDIS_URL = url
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": url}}


def test_redis_down_keeps_reads_working(client, redis_down):
    job = Job.objects.create(digit=1, count=1, seed=0)
    assert client.get(f"/api/jobs/{job.id}").status_code == 200
    assert client.get("/api/jobs").status_code == 200


def test_redis_down_rejects_new_jobs_with_503(client, redis_down):
    response = client.post("/api/generate", data='{"digit": 1}', content_type="application/json")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "queue_unavailable"


@pytest.mark.parametrize("body", ["[" * 5000, '{"a":' * 5000])
def test_deeply_nested_json_is_400(client, body):
    response = client.post("/api/generate", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


def test_integer_of_5001_digits_is_400(client):
    response = client.post("/api/generate", data='{"seed": ' + "9" * 5001 + "}", content_type="application/json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "parse_error"
    assert "over 4300 digits" in error["message"]
    assert "set_int_max_str_digits" not in error["message"]


def test_oversized_body_is_413(client, settings):
    body = json.dumps({"digit": 1, "padding": "x" * (settings.GAN["MAX_BODY_BYTES"] + 1)})
    response = client.post("/api/generate", data=body, content_type="application/json")
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "too_large"
    assert str(settings.GAN["MAX_BODY_BYTES"]) in error["message"]


def test_django_bad_request_under_api_is_json(rf):
    from django.core.exceptions import SuspiciousOperation

    from backend.jobs.api.errors import json_bad_request

    response = json_bad_request(rf.post("/api/generate"), SuspiciousOperation("Invalid HTTP_HOST header."))
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "Invalid HTTP_HOST" in json.loads(response.content)["error"]["message"]


def test_django_body_limit_under_api_is_413(rf):
    from django.core.exceptions import RequestDataTooBig

    from backend.jobs.api.errors import json_bad_request

    response = json_bad_request(rf.post("/api/generate"), RequestDataTooBig("Request body exceeded the limit."))
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content)["error"]["code"] == "too_large"


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml"])
def test_unsupported_media_type_says_what_to_send(client, content_type):
    response = client.post("/api/generate", data="{}", content_type=content_type)
    assert response.status_code == 415
    assert "application/json" in response.json()["error"]["message"]
    assert content_type in response.json()["error"]["message"]


@pytest.mark.parametrize("query, field, phrase", [
    ("status=bogus", "status", "queued, running, succeeded, failed, canceled"),
    ("kind=video", "kind", "images, grid, interpolation"),
    ("page_size=0", "page_size", "from 1 to 200"),
    ("foo=bar", "foo", "unknown query parameter"),
    ("status=succeeded&status=failed", "status", "once"),
])
def test_list_filter_errors_name_allowed_values(client, query, field, phrase):
    response = client.get(f"/api/jobs?{query}")
    assert response.status_code == 400
    assert phrase in " ".join(response.json()["error"]["fields"][field])


def test_idempotent_replay_of_finished_job_is_200(client, django_capture_on_commit_callbacks):
    headers = {"Idempotency-Key": "replay-1"}
    with django_capture_on_commit_callbacks(execute=False):
        first = client.post("/api/generate", data='{"digit": 1}', content_type="application/json", headers=headers)
    Job.objects.filter(id=first.json()["id"]).update(status="succeeded")
    again = client.post("/api/generate", data='{"digit": 1}', content_type="application/json", headers=headers)
    assert again.status_code == 200
    assert again.json()["status"] == "succeeded"
