"""Per-job Redis streams that carry each stored image from the worker to the gRPC gateway.

The worker appends one ``image`` entry per image and one ``end`` entry when the job
stops. The gateway reads them in order with a blocking XREAD. Streams expire an hour
after their last write, so abandoned ones do not accumulate.
"""

import logging
import threading
import time

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

STREAM_TTL_SECONDS = 3600
_clients = {}
_clients_lock = threading.Lock()


def redis_client():
    """Return a shared client for ``settings.REDIS_URL`` (one connection pool per URL and process)."""
    url = settings.REDIS_URL
    with _clients_lock:
        if url not in _clients:
            _clients[url] = redis.Redis.from_url(url, socket_connect_timeout=2, health_check_interval=30)
        return _clients[url]


def stream_key(job_id):
    return f"gan:job:{job_id}:images"


def publish_images(job_id, images):
    """Append ``images`` (dicts with index, digit, seed, url, png) to the job's stream in one round trip."""
    key = stream_key(job_id)
    pipeline = redis_client().pipeline(transaction=False)
    for image in images:
        fields = {name: str(image[name]) for name in ("index", "digit", "seed", "url")}
        fields.update({name: str(image[name]) for name in ("row", "column", "fraction") if image.get(name) is not None})
        pipeline.xadd(key, {"type": "image", **fields, "png": image["png"]})
    pipeline.expire(key, STREAM_TTL_SECONDS)
    pipeline.execute()


def publish_end(job_id, status, error=""):
    key = stream_key(job_id)
    pipeline = redis_client().pipeline(transaction=False)
    pipeline.xadd(key, {"type": "end", "status": status, "error": error})
    pipeline.expire(key, STREAM_TTL_SECONDS)
    pipeline.execute()


def read_events(job_id, after, block_ms, count=256):
    """Return up to ``count`` ``(entry_id, fields)`` pairs after ``after``, waiting at most ``block_ms``.

    Field names and text values are decoded; ``png`` stays bytes.
    """
    reply = redis_client().xread({stream_key(job_id): after}, count=count, block=block_ms)
    events = []
    for _, entries in reply:
        for entry_id, fields in entries:
            decoded = {name.decode(): value if name == b"png" else value.decode() for name, value in fields.items()}
            events.append((entry_id.decode(), decoded))
    return events


def finished_channel(job_id):
    return f"gan:job:{job_id}:finished"


def publish_job_finished(job_id, status):
    """Wake every request waiting on this job (``Prefer: wait``); best effort, because waiters also re-read the row."""
    try:
        redis_client().publish(finished_channel(job_id), status)
    except redis.RedisError as error:
        logger.warning("job %s: could not publish its end (%s); waiting requests fall back to their timeout",
                       job_id, error)


def wait_for_finished(job_id, is_finished, timeout):
    """Block until ``is_finished()`` is true or ``timeout`` seconds pass; return its last value.

    Subscribes before the first check, so a job that ends between the check and the
    wait still wakes the caller. No database polling happens while waiting.
    """
    deadline = time.monotonic() + timeout
    pubsub = redis_client().pubsub(ignore_subscribe_messages=True)
    try:
        pubsub.subscribe(finished_channel(job_id))
        while True:
            if is_finished():
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            pubsub.get_message(timeout=remaining)
    finally:
        pubsub.close()
