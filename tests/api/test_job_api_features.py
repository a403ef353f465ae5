"""Waiting for a job, idempotent retries, and listing jobs."""

import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from backend.jobs.models import Job

pytestmark = pytest.mark.django_db


def post(client, body, **headers):
    return client.post("/api/generate", data=json.dumps(body), content_type="application/json", headers=headers)


@pytest.mark.django_db(transaction=True)
def test_prefer_wait_returns_finished_job(client, celery_worker_process):
    response = post(client, {"digit": 5, "count": 2, "seed": 9}, Prefer="wait=30")
    assert response.status_code == 200
    assert response["Preference-Applied"] == "wait=30"
    body = response.json()
    assert body["status"] == "succeeded"
    assert len(body["images"]) == 2
    assert response["Location"] == body["url"]


@pytest.mark.django_db(transaction=True)
def test_prefer_wait_reads_row_once(client, celery_worker_process, django_assert_num_queries):
    post(client, {"digit": 1}, Prefer="wait=30")  # the worker loads its model on its first job
    # The row is written once and read once, with its images, after the worker's wake-up.
    with django_assert_num_queries(3):
        response = post(client, {"digit": 5, "seed": 11}, Prefer="wait=30")
    assert response.status_code == 200
    assert response.json()["status"] == "succeeded"


@pytest.mark.django_db(transaction=True)
def test_prefer_wait_with_idempotency_key(client, celery_worker_process):
    first = post(client, {"digit": 4, "seed": 12}, Prefer="wait=30", **{"Idempotency-Key": "wait-and-retry"})
    again = post(client, {"digit": 4, "seed": 12}, Prefer="wait=30", **{"Idempotency-Key": "wait-and-retry"})
    assert first.status_code == again.status_code == 200
    assert first.json()["status"] == "succeeded"
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["images"] == first.json()["images"]


@pytest.mark.django_db(transaction=True)
def test_prefer_wait_times_out_without_polling(client, django_assert_max_num_queries, broker_without_workers):
    started = time.monotonic()
    # Creating and reading the job takes about ten queries; a polling loop would take hundreds.
    with django_assert_max_num_queries(15):
        response = post(client, {"digit": 5}, Prefer="respond-async, wait=1")
    assert 1.0 <= time.monotonic() - started < 3
    assert response.status_code == 202
    assert response.json()["status"] == "queued"
    assert response["Location"].endswith(response.json()["id"])


@pytest.mark.parametrize("prefer", ["wait=abc", "wait=", "return=minimal"])
def test_unusable_prefer_is_ignored(client, prefer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        response = post(client, {"digit": 1}, Prefer=prefer)
    assert response.status_code == 202
    assert "Preference-Applied" not in response


def test_prefer_wait_is_capped_at_60(client, django_capture_on_commit_callbacks, monkeypatch):
    from backend.jobs.events import JobWaiter

    waited = {}
    monkeypatch.setattr(JobWaiter, "wait", lambda self, read, timeout, **kwargs: waited.setdefault("timeout", timeout)
                        and None)
    with django_capture_on_commit_callbacks(execute=False):
        response = post(client, {"digit": 1}, Prefer="wait=600")
    assert waited["timeout"] == 60
    assert response["Preference-Applied"] == "wait=60"


def test_idempotency_key_returns_same_job(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        first = post(client, {"digit": 2, "count": 3}, **{"Idempotency-Key": "order-17"})
        second = post(client, {"digit": 2, "count": 3}, **{"Idempotency-Key": "order-17"})
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    assert Job.objects.count() == 1


def test_idempotency_key_with_other_body_is_409(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        post(client, {"digit": 2}, **{"Idempotency-Key": "order-18"})
        response = post(client, {"digit": 3}, **{"Idempotency-Key": "order-18"})
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "conflict"
    assert "order-18" in error["message"]
    assert Job.objects.count() == 1


@pytest.mark.parametrize("key", ["has space", "", "x" * 256, "tab\tkey"])
def test_invalid_idempotency_key_is_400(client, key):
    response = post(client, {"digit": 2}, **{"Idempotency-Key": key})
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["error"]["fields"]


def make_jobs():
    now = timezone.now()
    jobs = []
    for index, status in enumerate(["queued", "succeeded", "failed", "succeeded", "canceled"]):
        job = Job.objects.create(digit=index, count=1, seed=index, status=status)
        Job.objects.filter(id=job.id).update(created_at=now - timedelta(hours=index))
        jobs.append(job)
    return jobs


def test_list_jobs_newest_first_with_cursor(client):
    jobs = make_jobs()
    first = client.get("/api/jobs?page_size=2").json()
    assert [job["id"] for job in first["results"]] == [str(jobs[0].id), str(jobs[1].id)]
    second = client.get(first["next"]).json()
    assert [job["id"] for job in second["results"]] == [str(jobs[2].id), str(jobs[3].id)]
    third = client.get(second["next"]).json()
    assert [job["id"] for job in third["results"]] == [str(jobs[4].id)]
    assert third["next"] is None


def test_list_jobs_filters(client):
    jobs = make_jobs()
    succeeded = client.get("/api/jobs?status=succeeded").json()["results"]
    assert {job["id"] for job in succeeded} == {str(jobs[1].id), str(jobs[3].id)}
    since = (timezone.now() - timedelta(hours=1, minutes=30)).isoformat()
    recent = client.get("/api/jobs", {"created_after": since}).json()["results"]
    assert {job["id"] for job in recent} == {str(jobs[0].id), str(jobs[1].id)}
    before = client.get("/api/jobs", {"created_before": since}).json()["results"]
    assert len(before) == 3


@pytest.mark.parametrize("query, field", [("status=done", "status"), ("created_after=yesterday", "created_after"),
                                          ("page_size=0", "page_size"), ("kind=video", "kind")])
def test_list_jobs_rejects_bad_filter(client, query, field):
    response = client.get(f"/api/jobs?{query}")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_list_jobs_rejects_bad_cursor(client):
    response = client.get("/api/jobs?cursor=0")
    assert response.status_code == 400
    assert "cursor" in response.json()["error"]["fields"]


def test_list_jobs_filters_by_kind(client):
    grid = Job.objects.create(kind="grid", count=2, seed=0, options={"digits": [1], "seeds_per_digit": 2})
    Job.objects.create(digit=1, count=1, seed=0)
    results = client.get("/api/jobs?kind=grid").json()["results"]
    assert [job["id"] for job in results] == [str(grid.id)]
