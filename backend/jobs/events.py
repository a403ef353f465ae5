"""Per-job Redis streams that carry each stored image from the worker to the gRPC gateway.

The worker appends one ``image`` entry per image and one ``end`` entry when the job
stops. The gateway reads them in order with a blocking XREAD. Streams expire an hour
after their last write, so abandoned ones do not accumulate.
"""

import logging
import os
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


# Every job's end is published on this one channel, with the job id as the message. Each
# web process keeps one subscription to it (FinishedListener) instead of one per waiting request.
FINISHED_CHANNEL = "gan:jobs:finished"


def publish_job_finished(job_id, status):
    """Wake every request waiting on this job (``Prefer: wait``); best effort, because waiters also re-read the row."""
    publish_jobs_finished([job_id], status)


def publish_jobs_finished(job_ids, status):
    """Wake the requests waiting on any of ``job_ids``, in one round trip."""
    if not job_ids:
        return
    try:
        pipeline = redis_client().pipeline(transaction=False)
        for job_id in job_ids:
            pipeline.publish(FINISHED_CHANNEL, str(job_id))
        pipeline.execute()
    except redis.RedisError as error:
        logger.warning("could not publish the end of %d jobs as %s (%s); waiting requests fall back to their timeout",
                       len(job_ids), status, error)


class FinishedListener:
    """A thread that keeps this process's subscription to ``FINISHED_CHANNEL`` and wakes waiters by job id.

    A waiter registers before it reads the job's row, so an end published after that
    read always reaches it. Whenever the subscription (re)starts, every waiter is woken
    once to read its row again, because ends published while it was down were missed.
    When Redis is unreachable and nobody waits, the thread ends; the next wait starts another.
    """

    def __init__(self, url):
        self.url = url
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.alive = True
        self.waiters = {}  # job id (str) -> set of threading.Event
        self.thread = threading.Thread(target=self.run, name="job-finished-listener", daemon=True)
        self.thread.start()

    def register(self, job_id):
        """Return an event set when the job may have ended, or None when this listener has stopped."""
        event = threading.Event()
        with self.lock:
            if not self.alive:
                return None
            self.waiters.setdefault(str(job_id), set()).add(event)
        return event

    def unregister(self, job_id, event):
        with self.lock:
            events = self.waiters.get(str(job_id))
            if events is not None:
                events.discard(event)
                if not events:
                    del self.waiters[str(job_id)]

    def wake(self, job_id=None):
        with self.lock:
            if job_id is None:
                events = [event for group in self.waiters.values() for event in group]
            else:
                events = list(self.waiters.get(job_id, ()))
        for event in events:
            event.set()

    def run(self):
        client = redis.Redis.from_url(self.url, socket_connect_timeout=2, health_check_interval=30)
        failures = 0
        while True:
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(FINISHED_CHANNEL)
                pubsub.get_message(timeout=2)  # the subscribe confirmation
                failures = 0
                self.wake()
                while True:
                    message = pubsub.get_message(timeout=30)
                    if message is not None and message["type"] == "message":
                        self.wake(message["data"].decode())
            except redis.RedisError as error:
                failures += 1
                self.wake()
                with self.lock:
                    if not self.waiters:
                        self.alive = False
                        logger.info("job-finished subscription to %s closed (%s); the next wait reopens it",
                                    self.url, error)
                        return
                if failures == 1:
                    logger.warning("job-finished subscription lost (%s); retrying every second", error)
                time.sleep(1)
            finally:
                pubsub.close()


_listeners = {}


def finished_listener():
    """Return this process's listener for ``settings.REDIS_URL``, started on first use (and again after a fork)."""
    url = settings.REDIS_URL
    with _clients_lock:
        listener = _listeners.get(url)
        if listener is None or listener.pid != os.getpid() or not listener.alive:
            listener = _listeners[url] = FinishedListener(url)
        return listener


class JobWaiter:
    """One request's registration with the process's listener, as a context manager.

    Entering registers for ``job_id``, so every end published after that wakes
    :meth:`wait`. A request that registers before it creates its job therefore needs no
    read of the row until the first wake-up.
    """

    def __init__(self, job_id):
        self.job_id = job_id
        self.listener = self.event = None

    def __enter__(self):
        while self.event is None:  # a listener that stopped just now refuses the registration
            self.listener = finished_listener()
            self.event = self.listener.register(self.job_id)
        return self

    def __exit__(self, *exc_info):
        self.listener.unregister(self.job_id, self.event)

    def wait(self, read, timeout, *, read_first=True):
        """Return ``read()``'s first truthy value, calling it at the start (unless ``read_first`` is
        false) and after each wake-up; return None when ``timeout`` seconds pass first.
        """
        deadline = time.monotonic() + timeout
        if read_first:
            value = read()
            if value:
                return value
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            if self.event.wait(remaining):
                self.event.clear()
                value = read()
                if value:
                    return value


def wait_for_finished(job_id, is_finished, timeout):
    """Block until ``is_finished()`` is true or ``timeout`` seconds pass; return whether it became true.

    Registers with the process's listener before the first check, so a job that ends
    between the check and the wait still wakes the caller. The row is read only at the
    start and after each wake-up: no database polling happens while waiting.
    """
    with JobWaiter(job_id) as waiter:
        return bool(waiter.wait(is_finished, timeout))
