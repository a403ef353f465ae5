"""Shared fixtures: a private media folder, an embedded Redis, and a real Celery worker process."""

import os
import time
from pathlib import Path

import pytest

from backend.processes import EmbeddedRedis, start_worker, stop_process

REPO_ROOT = Path(__file__).resolve().parent.parent
SHIPPED_MODEL = REPO_ROOT / "gan_core" / "weights" / "mnist.pt"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path_factory):
    """Keep every test's files out of the developer's var/media."""
    root = tmp_path_factory.getbasetemp() / "media"
    root.mkdir(exist_ok=True)
    settings.MEDIA_ROOT = root
    return root


@pytest.fixture(scope="session")
def redis_server():
    """A redis-server of the test session's own, on a free loopback port; stopped at the end."""
    server = EmbeddedRedis().start()
    yield server
    server.stop()


def point_app_at_broker(app, url):
    """Switch the Celery app to another broker.

    Celery builds its connection and producer pools lazily from broker_url, so dropping
    them is enough. They are not closed: kombu shares pools per URL between apps, and a
    closed one would break the next switch back to that URL.
    """
    app.conf.broker_url = url
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture(scope="session")
def celery_app_on_test_redis(redis_server):
    from worker.celery import app

    point_app_at_broker(app, redis_server.url)
    yield app


@pytest.fixture
def broker_without_workers(celery_app_on_test_redis):
    """Point the Celery app at a Redis of its own that no worker listens on."""
    previous = celery_app_on_test_redis.conf.broker_url
    server = EmbeddedRedis().start()
    point_app_at_broker(celery_app_on_test_redis, server.url)
    yield
    point_app_at_broker(celery_app_on_test_redis, previous)
    server.stop()


@pytest.fixture(autouse=True)
def test_redis(settings, redis_server, celery_app_on_test_redis):
    """Point the app's own Redis reads (queue depth, image streams) at the session's server."""
    settings.REDIS_URL = redis_server.url
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": redis_server.url}}
    return redis_server


def database_url(settings_dict):
    """Return a DATABASE_URL for the test database, so a child process opens the same one."""
    engine, name = settings_dict["ENGINE"], settings_dict["NAME"]
    if engine.endswith("sqlite3"):
        return f"sqlite:///{name}"
    if engine.endswith("postgresql"):
        user, password = settings_dict.get("USER", ""), settings_dict.get("PASSWORD", "")
        host, port = settings_dict.get("HOST") or "127.0.0.1", settings_dict.get("PORT") or 5432
        return f"postgres://{user}:{password}@{host}:{port}/{name}"
    raise AssertionError(f"no DATABASE_URL mapping for engine {engine}")


def wait_for_worker(app, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if app.control.ping(timeout=0.5):
            return
    raise TimeoutError(f"the Celery worker did not answer a ping within {timeout} s")


@pytest.fixture(scope="session")
def worker_env(redis_server, django_db_setup, django_db_blocker, tmp_path_factory):
    from django.db import connection

    with django_db_blocker.unblock():
        url = database_url(connection.settings_dict)
    return dict(
        os.environ,
        REDIS_URL=redis_server.url,
        DATABASE_URL=url,
        DJANGO_MEDIA_ROOT=str(tmp_path_factory.getbasetemp() / "media"),
        GAN_MODEL_PATH=str(SHIPPED_MODEL),
        # One thread per worker process, so test workers and the test process share two cores calmly.
        GAN_TORCH_THREADS="1",
        # Webhook retries after 0.2 s, 0.4 s, ... instead of 5 s, 10 s, ...
        GAN_WEBHOOK_RETRY_BASE_SECONDS="0.2",
        PYTHONUNBUFFERED="1",
    )


@pytest.fixture(scope="session")
def celery_worker_process(worker_env, celery_app_on_test_redis, tmp_path_factory):
    """A real ``celery worker`` child process on the generate queue, with the test database and Redis."""
    assert SHIPPED_MODEL.exists(), f"{SHIPPED_MODEL} is missing; train and export it with gan_core.train"
    log_file = tmp_path_factory.getbasetemp() / "worker.log"
    process = start_worker(worker_env, processes=1, log_file=log_file)
    try:
        wait_for_worker(celery_app_on_test_redis)
    except TimeoutError as error:
        stop_process(process)
        raise AssertionError(f"worker did not start; its log:\n{log_file.read_text()}") from error
    yield process
    stop_process(process)
