"""Our service, started for a benchmark the way ``./run`` starts it, in a temporary folder.

``ServiceStack`` starts an embedded Redis on a free port, migrates a fresh database
(SQLite in the temporary folder unless a URL is given), and starts the generate
worker and gunicorn through ``backend.processes`` (``python -m backend.serve``), with the
gRPC gateway when asked. Media, logs and the database file stay in the temporary
folder, which ``stop`` deletes. The Celery train worker and beat are not started: no
training run or retention sweep takes part in a benchmark.

Throttling stays on, as in production, but its rate is raised to 1,000,000 requests per
second per client, so every load generator's requests are admitted and each request
still pays for the throttle's Redis round trips.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from backend.processes import (
    EmbeddedRedis,
    free_port,
    start_gateway,
    start_web,
    start_worker,
    stop_process,
    wait_for_port,
)
from backend.serve import build_parser

from .load import get, wait_until

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = REPO_ROOT / "gan_core" / "weights" / "mnist.pt"
UNLIMITED_RATE = "1000000/s"


class ServiceStack:
    def __init__(self, *, database_url=None, worker_processes=1, web_processes=2, gateway=False,
                 model_path=DEFAULT_MODEL):
        self.database_url = database_url
        self.worker_processes, self.web_processes = worker_processes, web_processes
        self.with_gateway = gateway
        self.model_path = model_path
        self.directory = None
        self.redis = None
        self.processes = {}
        self.port = self.grpc_port = None

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_dir(self):
        return self.directory / "logs"

    def description(self):
        web_threads = build_parser().parse_args(["web"]).threads
        database = "the given database" if self.database_url else "SQLite"
        gateway = ", the gRPC gateway" if self.with_gateway else ""
        pool = f"{self.worker_processes} pool process" + ("es" if self.worker_processes != 1 else "")
        return (f"gunicorn ({self.web_processes} processes x {web_threads} threads), one Celery worker with {pool}"
                f"{gateway}, embedded Redis, {database}")

    def environment(self):
        var_dir = self.directory / "var"
        return dict(
            os.environ,
            PYTHONUNBUFFERED="1",
            GAN_VAR_DIR=str(var_dir),
            REDIS_URL=self.redis.url,
            DATABASE_URL=self.database_url or f"sqlite:///{var_dir / 'db.sqlite3'}",
            DJANGO_MEDIA_ROOT=str(self.directory / "media"),
            # The defaults, set explicitly so that a developer's .env cannot change what is measured.
            DJANGO_DEBUG="false",
            GAN_MODEL_PATH=str(self.model_path),
            GAN_REQUIRE_TOKEN="false",
            GAN_THROTTLE_ANON=UNLIMITED_RATE,
            GAN_THROTTLE_USER=UNLIMITED_RATE,
            GAN_PUBLIC_BASE_URL=self.base_url,
        )

    def start(self, timeout=180):
        """Start everything and return once /readyz reports a worker; stop what started and raise on failure."""
        self.directory = Path(tempfile.mkdtemp(prefix="bench-service-"))
        self.log_dir.mkdir()
        try:
            self.redis = EmbeddedRedis().start()
            self.port = free_port()
            env = self.environment()
            subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=REPO_ROOT, env=env,
                           check=True, capture_output=True, timeout=300)
            self.processes["worker"] = start_worker(env, processes=self.worker_processes,
                                                    log_file=self.log_dir / "worker.log")
            self.processes["web"] = start_web(env, port=self.port, processes=self.web_processes,
                                              log_file=self.log_dir / "web.log")
            if self.with_gateway:
                self.grpc_port = free_port()
                self.processes["gateway"] = start_gateway(env, port=self.grpc_port,
                                                          log_file=self.log_dir / "gateway.log")
                wait_for_port("127.0.0.1", self.grpc_port, timeout, self.processes["gateway"])
            wait_for_port("127.0.0.1", self.port, timeout, self.processes["web"])
            wait_until(self.is_ready, timeout, interval=0.5, what="/readyz 200 (database, Redis, worker and model)")
        except (OSError, RuntimeError, TimeoutError, subprocess.SubprocessError) as error:
            logs = self.log_tail()
            if isinstance(error, subprocess.CalledProcessError):
                logs = f"{error.stdout.decode(errors='replace')}{error.stderr.decode(errors='replace')}\n{logs}"
            self.stop()
            raise RuntimeError(f"the service did not start: {error}\n{logs}") from error
        return self

    def is_ready(self):
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"the {name} process exited with code {process.returncode}")
        try:
            status, body = get(f"{self.base_url}/readyz", timeout=10)
        except OSError:
            return False
        # 503 names a dependency that is not ready yet; anything else but 200 will not get better.
        if status not in (200, 503):
            raise RuntimeError(f"GET /readyz returned {status}: {body[:300]!r}")
        return status == 200

    def worker_pid(self):
        return self.processes["worker"].pid

    def jobs_in_progress(self):
        """Return the number of queued and running jobs from the REST API, counting at most 200 of each."""
        total = 0
        for status in ("queued", "running"):
            code, body = get(f"{self.base_url}/api/jobs?status={status}&page_size=200", timeout=30)
            assert code == 200, f"GET /api/jobs?status={status} returned {code}: {body[:300]!r}"
            total += len(json.loads(body)["results"])
        return total

    def wait_until_idle(self, timeout=120):
        """Wait until no job is queued or running (jobs whose client gave up still run after wrk stops)."""
        wait_until(lambda: self.jobs_in_progress() == 0, timeout, interval=0.2, what="no queued or running job")

    def log_tail(self, characters=3000):
        if self.directory is None or not self.log_dir.exists():
            return ""
        return "\n".join(f"--- {path.name}\n{path.read_text(errors='replace')[-characters:]}"
                         for path in sorted(self.log_dir.glob("*.log")))

    def stop(self):
        for name in ("gateway", "web", "worker"):
            stop_process(self.processes.pop(name, None))
        if self.redis is not None:
            self.redis.stop()
            self.redis = None
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
