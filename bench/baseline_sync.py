"""Baseline: a synchronous HTTP handler that runs the generator and returns the PNG.

The shape of a plain Flask app in front of a model: one request, one forward pass,
in the request's process, with no queue. Here it is a bare WSGI callable (no framework
is needed for one route) served by gunicorn with 2 sync workers. Each worker loads the
shipped generator once, on its first request, and uses one torch thread, so two
workers fill two cores without oversubscribing them.

``POST /generate`` with ``{"digit": d, "seed": s}`` returns ``image/png``. ``start_sync_server``
runs it on a free loopback port; ``SyncServer.stop`` ends it.
"""

import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from backend.processes import free_port, stop_process, wait_for_port

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = REPO_ROOT / "gan_core" / "weights" / "mnist.pt"
# The same bounds as the service's API: digits 0-9 and seeds in [0, 2^63).
MAX_SEED = 2**63 - 1
MAX_BODY_BYTES = 64 * 1024

_generator = None
_generator_lock = threading.Lock()


def loaded_generator():
    """Return this process's generator, loading it on first use (after gunicorn's fork)."""
    global _generator
    with _generator_lock:
        if _generator is None:
            import torch

            from gan_core.checkpoint import load_generator

            torch.set_num_threads(int(os.environ.get("BENCH_TORCH_THREADS", "1")))
            _generator, _ = load_generator(os.environ.get("BENCH_MODEL_PATH", str(DEFAULT_MODEL)))
        return _generator


def parse_request(body):
    """Return ``(digit, seed)`` from a JSON body (bytes, text, or already decoded).

    Raises ValueError or TypeError naming the invalid field. The TorchServe handler uses it too.
    """
    if isinstance(body, (bytes, bytearray, str)):
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"the body is not JSON: {error}") from error
    else:
        payload = body
    if not isinstance(payload, dict):
        raise TypeError("the body must be a JSON object with digit and seed")
    digit, seed = payload.get("digit"), payload.get("seed")
    if type(digit) is not int or not 0 <= digit <= 9:
        raise ValueError(f"digit must be an integer from 0 to 9, got {digit!r}")
    if type(seed) is not int or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be an integer from 0 to 2^63 - 1, got {seed!r}")
    return digit, seed


def respond(start_response, status, content_type, body):
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


def application(environ, start_response):
    """The WSGI app: ``POST /generate`` returns one PNG; anything else is 404, 405, 413 or 400."""
    from gan_core.sampling import generate, to_png

    if environ.get("PATH_INFO") != "/generate":
        return respond(start_response, "404 Not Found", "text/plain", b"not found; POST /generate\n")
    if environ["REQUEST_METHOD"] != "POST":
        return respond(start_response, "405 Method Not Allowed", "text/plain", b"use POST\n")
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length > MAX_BODY_BYTES:
        return respond(start_response, "413 Content Too Large", "text/plain", b"body too large\n")
    try:
        digit, seed = parse_request(environ["wsgi.input"].read(length))
    except (TypeError, ValueError) as error:
        logger.warning("rejected a request to /generate: %s", error)
        return respond(start_response, "400 Bad Request", "text/plain", f"{error}\n".encode())
    # One plain forward pass of one row, as a simple model server would run it.
    image = generate(loaded_generator(), [digit], [seed], align=False)[0]
    return respond(start_response, "200 OK", "image/png", to_png(image))


class SyncServer:
    """gunicorn serving ``application`` on 127.0.0.1; its log goes to a temporary file."""

    def __init__(self, *, workers=2, torch_threads=1, model_path=DEFAULT_MODEL):
        self.port = free_port()
        self.workers, self.torch_threads, self.model_path = workers, torch_threads, model_path
        self.directory = tempfile.TemporaryDirectory(prefix="bench-sync-")
        self.log_file = Path(self.directory.name) / "gunicorn.log"
        self.process = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/generate"

    def start(self, timeout=60):
        env = dict(os.environ, BENCH_TORCH_THREADS=str(self.torch_threads), BENCH_MODEL_PATH=str(self.model_path),
                   OMP_NUM_THREADS=str(self.torch_threads), PYTHONUNBUFFERED="1")
        command = [sys.executable, "-m", "gunicorn", "bench.baseline_sync:application",
                   "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers), "--worker-class", "sync",
                   "--access-logfile", "-", "--graceful-timeout", "10"]
        with open(self.log_file, "ab") as log:
            self.process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_port("127.0.0.1", self.port, timeout, self.process)
        except (RuntimeError, TimeoutError) as error:
            self.stop()
            raise RuntimeError(f"the sync baseline did not start: {error}; its log:\n{self.log_text()}") from error
        return self

    def log_text(self):
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def stop(self):
        stop_process(self.process)
        self.directory.cleanup()


def sync_endpoint(server, reference):
    """Return the load-test endpoint for ``server``; its check compares one PNG with ``reference``."""
    from .load import Endpoint, post_json

    def check(digit, seed):
        status, content_type, body = post_json(server.url, {"digit": digit, "seed": seed})
        assert status == 200, f"sync baseline returned {status}: {body[:300]!r}"
        assert content_type == "image/png", f"sync baseline returned Content-Type {content_type!r}"
        reference.assert_png_matches(body, digit, seed, "the sync baseline")

    return Endpoint(name="sync (gunicorn, 2 sync workers)", url=server.url, check=check)
