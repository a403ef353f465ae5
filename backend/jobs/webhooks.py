"""Signed webhook deliveries of job events, retried with exponential backoff.

Each delivery is a POST of ``{"id", "event", "job"}`` with three headers:

- ``Webhook-Id``: the delivery id, the same on every retry, so receivers can drop duplicates;
- ``Webhook-Timestamp``: Unix seconds of this attempt;
- ``Webhook-Signature``: ``v1=<hex HMAC-SHA256 of "{id}.{timestamp}.{body}">`` keyed with
  ``GAN["WEBHOOK_SECRET"]``.
"""

import hashlib
import hmac
import json
import logging
import time

import requests
from django.conf import settings
from django.utils import timezone

from .models import Job, WebhookDelivery

logger = logging.getLogger(__name__)


class DeliveryFailedError(Exception):
    """The receiver returned a non-2xx status or could not be reached; the task retries."""


def sign(delivery_id, timestamp, body: bytes) -> str:
    message = f"{delivery_id}.{timestamp}.".encode() + body
    return "v1=" + hmac.new(settings.GAN["WEBHOOK_SECRET"].encode(), message, hashlib.sha256).hexdigest()


def webhook_notify(*, job_id, event: str):
    """Create and queue the delivery for ``event`` if the job subscribed to it.

    A unique constraint on (job, event) makes this create at most one delivery per event.
    """
    job = Job.objects.filter(id=job_id).only("webhook_url", "webhook_events").first()
    if job is None or not job.webhook_url or event not in job.webhook_events:
        return
    delivery, created = WebhookDelivery.objects.get_or_create(job_id=job_id, event=event)
    if created:
        from worker.tasks import deliver_webhook

        deliver_webhook.apply_async(args=[str(delivery.id)])


def job_payload(job):
    """Return the job as the REST API shows it, with absolute URLs from ``GAN["PUBLIC_BASE_URL"]``."""
    from django.urls import reverse

    base = settings.GAN["PUBLIC_BASE_URL"].rstrip("/")
    return {
        "id": str(job.id), "status": job.status, "url": base + reverse("job-detail", kwargs={"job_id": job.id}),
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "parameters": {"dataset": job.dataset, "digit": job.digit, "count": job.count, "seed": job.seed,
                       "webhook": job.webhook_url or None, "webhook_events": job.webhook_events},
        "model_version": job.model_version, "error": job.error,
        "images": [{"index": image.index, "digit": image.digit, "seed": image.seed, "url": base + image.file.url}
                   for image in job.images.all()],
    }


def webhook_attempt(*, delivery_id) -> bool:
    """Make one attempt; return True when delivered (or nothing is left to do).

    Raises :class:`DeliveryFailedError` on a non-2xx response or a network error.
    """
    delivery = WebhookDelivery.objects.select_related("job").filter(id=delivery_id).first()
    if delivery is None or delivery.status != WebhookDelivery.Status.PENDING:
        return True
    job = Job.objects.prefetch_related("images").get(id=delivery.job_id)
    body = json.dumps({"id": str(delivery.id), "event": delivery.event, "job": job_payload(job)}).encode()
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", "User-Agent": "gan-digits-webhooks/1",
               "Webhook-Id": str(delivery.id), "Webhook-Timestamp": timestamp,
               "Webhook-Signature": sign(delivery.id, timestamp, body)}
    WebhookDelivery.objects.filter(id=delivery.id).update(attempts=delivery.attempts + 1)
    try:
        response = requests.post(job.webhook_url, data=body, headers=headers,
                                 timeout=settings.GAN["WEBHOOK_TIMEOUT_SECONDS"], allow_redirects=False)
    except requests.RequestException as error:
        WebhookDelivery.objects.filter(id=delivery.id).update(last_error=str(error)[:2000], last_status_code=None)
        raise DeliveryFailedError(f"delivery {delivery.id} to {job.webhook_url} failed: {error}") from error
    WebhookDelivery.objects.filter(id=delivery.id).update(last_status_code=response.status_code)
    if not 200 <= response.status_code < 300:
        raise DeliveryFailedError(f"delivery {delivery.id} to {job.webhook_url} got HTTP {response.status_code}")
    WebhookDelivery.objects.filter(id=delivery.id).update(status=WebhookDelivery.Status.DELIVERED,
                                                          delivered_at=timezone.now(), last_error="")
    logger.info("webhook %s (%s of job %s) delivered", delivery.id, delivery.event, job.id)
    return True


def webhook_give_up(*, delivery_id, reason: str):
    WebhookDelivery.objects.filter(id=delivery_id, status=WebhookDelivery.Status.PENDING).update(
        status=WebhookDelivery.Status.FAILED, last_error=reason[:2000])
    logger.error("webhook %s abandoned: %s", delivery_id, reason)

