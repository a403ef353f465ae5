"""Liveness, readiness and Prometheus metrics endpoints for operators."""

import logging
import os

from django.db import DatabaseError, connection
from django.http import HttpResponse, JsonResponse
from kombu.exceptions import OperationalError as BrokerError
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from redis import RedisError

from ..metrics import JobCollector

logger = logging.getLogger(__name__)


def healthz(request):
    """Return 200 while the process serves requests; it checks nothing else."""
    return JsonResponse({"status": "ok"})


def _check_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_redis():
    from ..events import redis_client

    redis_client().ping()


def _check_worker():
    from worker.celery import app

    if not app.control.ping(timeout=1.0):
        raise RuntimeError("no Celery worker replied to a ping within 1 s")


def _check_model():
    from backend.training.selectors import active_model_source

    path = active_model_source().path
    if not os.path.exists(path):
        raise FileNotFoundError(f"model checkpoint {path} not found")


# Exceptions the checks raise when a dependency is down: database, Redis and broker errors,
# a missing file, and the worker check's own RuntimeError.
CHECK_ERRORS = (DatabaseError, RedisError, BrokerError, OSError, RuntimeError)
READINESS_CHECKS = {"database": _check_database, "redis": _check_redis, "worker": _check_worker, "model": _check_model}


def readyz(request):
    """Return 200 when the database, Redis, a worker and the active model are all available, else 503."""
    results, ready = {}, True
    for name, check in READINESS_CHECKS.items():
        try:
            check()
        except CHECK_ERRORS as error:
            logger.warning("readiness check %s failed: %s", name, error)
            results[name], ready = f"failed: {error}", False
        else:
            results[name] = "ok"
    return JsonResponse({"status": "ready" if ready else "not ready", "checks": results}, status=200 if ready else 503)


def metrics(request):
    registry = CollectorRegistry()
    registry.register(JobCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
