"""Webhook deliveries from a real worker to a real HTTP receiver on loopback."""

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from django.conf import settings

from backend.jobs.models import WebhookDelivery

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


class Receiver:
    """An HTTP server on a free loopback port that records POSTs and fails the first ``failures`` of them."""

    def __init__(self, failures=0):
        self.requests, self.failures = [], failures
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                failing = len(receiver.requests) <= receiver.failures
                self.send_response(503 if failing else 204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count, timeout=30):
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.requests

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    started = []

    def start(failures=0):
        started.append(Receiver(failures))
        return started[-1]

    yield start
    for server in started:
        server.stop()


def submit(live_server, **body):
    response = requests.post(f"{live_server.url}/api/generate", json={"digit": 4, "seed": 1, **body}, timeout=10)
    assert response.status_code == 202, response.text
    return response.json()


def expected_signature(headers, body):
    message = f"{headers['Webhook-Id']}.{headers['Webhook-Timestamp']}.".encode() + body
    return "v1=" + hmac.new(settings.GAN["WEBHOOK_SECRET"].encode(), message, hashlib.sha256).hexdigest()


def test_completed_webhook_is_signed(live_server, celery_worker_process, receiver):
    hook = receiver()
    job = submit(live_server, webhook=hook.url)
    (delivery,) = hook.wait_for(1)
    time.sleep(0.5)  # no start event was asked for, so nothing else arrives
    assert len(hook.requests) == 1

    payload = json.loads(delivery["body"])
    assert payload["event"] == "completed"
    assert payload["job"]["id"] == job["id"]
    assert payload["job"]["status"] == "succeeded"
    assert len(payload["job"]["images"]) == 1
    assert delivery["headers"]["Webhook-Id"] == payload["id"]
    assert delivery["headers"]["Webhook-Signature"] == expected_signature(delivery["headers"], delivery["body"])


def test_start_and_completed_events(live_server, celery_worker_process, receiver):
    hook = receiver()
    submit(live_server, webhook=hook.url, webhook_events=["start", "completed"])
    events = [json.loads(request["body"])["event"] for request in hook.wait_for(2)]
    assert sorted(events) == ["completed", "start"]


def test_failed_delivery_is_retried_with_same_id(live_server, celery_worker_process, receiver):
    hook = receiver(failures=2)
    job = submit(live_server, webhook=hook.url)
    attempts = hook.wait_for(3)
    assert len(attempts) == 3
    assert len({request["headers"]["Webhook-Id"] for request in attempts}) == 1
    for request in attempts:
        assert request["headers"]["Webhook-Signature"] == expected_signature(request["headers"], request["body"])

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        delivery = WebhookDelivery.objects.get(job_id=job["id"])
        if delivery.status == "delivered":
            break
        time.sleep(0.1)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 3, 204)
