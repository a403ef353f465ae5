"""Baseline: TorchServe 0.12 serving the shipped generator through ``bench/torchserve_handler.py``.

``TorchServeServer`` archives the checkpoint, the handler and a model-config.yaml
(batch size, maximum batch delay, workers) into a .mar in a temporary model store.
It writes a config.properties and starts TorchServe with the model loaded. Inference,
management, metrics and both gRPC listeners bind to 127.0.0.1 on free ports, token
authorization is off, and the logs, metrics logs, pid file and worker sockets stay
in the same temporary folder. TorchServe 0.12 disables registering models over the
management API by default, so each mode (unbatched, batched) is a server of its own.

The model gets one backend worker with as many torch threads as the machine has
cores: the same shape as the service's single Celery pool process, whose threads
default to the cores divided by the pool size.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from backend.processes import free_port, wait_for_port

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = REPO_ROOT / "gan_core" / "weights" / "mnist.pt"
HANDLER = Path(__file__).resolve().parent / "torchserve_handler.py"
MODEL_NAME = "digits"


def venv_tool(name):
    """Return the path of a console script installed beside this Python, else one on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} not found; install requirements/bench.txt (torchserve, torch-model-archiver)")
    return found


def require_java():
    """Raise FileNotFoundError when no Java runtime is found; TorchServe's frontend runs on the JVM."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return
    if not shutil.which("java"):
        raise FileNotFoundError("TorchServe needs a Java 11+ runtime and none was found: set JAVA_HOME or install "
                                "Debian's openjdk-17-jre-headless")


class TorchServeServer:
    """One TorchServe with the ``digits`` model loaded; ``batch_size`` 1 is unbatched."""

    def __init__(self, *, batch_size=1, max_batch_delay_ms=0, workers=1, torch_threads=None, model_path=DEFAULT_MODEL):
        self.batch_size, self.max_batch_delay_ms, self.workers = batch_size, max_batch_delay_ms, workers
        self.torch_threads = torch_threads or max(1, (os.cpu_count() or 1) // workers)
        self.model_path = Path(model_path)
        self.directory = Path(tempfile.mkdtemp(prefix="bench-torchserve-"))
        self.model_store = self.directory / "model-store"
        self.log_dir = self.directory / "logs"
        self.inference_port, self.management_port, self.metrics_port = free_port(), free_port(), free_port()
        self.process = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.inference_port}/predictions/{MODEL_NAME}"

    def environment(self):
        return dict(
            os.environ,
            # The handler imports gan_core from the repository.
            PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
            BENCH_TORCH_THREADS=str(self.torch_threads),
            LOG_LOCATION=str(self.log_dir),
            METRICS_LOCATION=str(self.log_dir),
            # The launcher's pid file goes to tempfile.gettempdir(), the JVM's java.io.tmpdir to TEMP.
            TMPDIR=str(self.directory),
            TEMP=str(self.directory),
        )

    def write_server_config(self):
        # NOTE: the worker's Unix socket is named after initial_worker_port; a free TCP
        # port number only makes the name unlikely to collide with another TorchServe.
        lines = [
            f"inference_address=http://127.0.0.1:{self.inference_port}",
            f"management_address=http://127.0.0.1:{self.management_port}",
            f"metrics_address=http://127.0.0.1:{self.metrics_port}",
            "grpc_inference_address=127.0.0.1",
            f"grpc_inference_port={free_port()}",
            "grpc_management_address=127.0.0.1",
            f"grpc_management_port={free_port()}",
            f"initial_worker_port={free_port()}",
            "disable_token_authorization=true",
            f"model_store={self.model_store}",
            "install_py_dep_per_model=false",
            # Its periodic collection starts a Python process every minute, which would land inside runs.
            "disable_system_metrics=true",
        ]
        path = self.directory / "config.properties"
        path.write_text("\n".join(lines) + "\n")
        return path

    def archive(self):
        """Pack the checkpoint, the handler and the model's config into ``digits.mar`` in the model store."""
        model_config = self.directory / "model-config.yaml"
        model_config.write_text(
            f"minWorkers: {self.workers}\nmaxWorkers: {self.workers}\nbatchSize: {self.batch_size}\n"
            f"maxBatchDelay: {self.max_batch_delay_ms}\nresponseTimeout: 120\n")
        self.model_store.mkdir(parents=True, exist_ok=True)
        command = [venv_tool("torch-model-archiver"), "--model-name", MODEL_NAME, "--version", "1.0",
                   "--serialized-file", str(self.model_path), "--handler", str(HANDLER),
                   "--config-file", str(model_config), "--export-path", str(self.model_store), "--force"]
        subprocess.run(command, check=True, capture_output=True, cwd=self.directory, timeout=120)

    def start(self, timeout=180):
        """Start TorchServe and return once the model's workers are ready; stop it and raise on failure."""
        require_java()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.archive()
            config = self.write_server_config()
            command = [venv_tool("torchserve"), "--start", "--foreground", "--ncs", "--disable-token-auth",
                       "--model-store", str(self.model_store), "--ts-config", str(config),
                       "--models", f"{MODEL_NAME}={MODEL_NAME}.mar"]
            with open(self.log_dir / "launcher.log", "ab") as log:
                # A session of its own, so stopping reaches the JVM and its Python workers as one group.
                self.process = subprocess.Popen(command, cwd=self.directory, env=self.environment(), stdout=log,
                                                stderr=subprocess.STDOUT, start_new_session=True)
            wait_for_port("127.0.0.1", self.management_port, timeout, self.process)
            self.wait_for_workers(timeout)
        except (RuntimeError, TimeoutError, subprocess.CalledProcessError) as error:
            log = self.log_tail()
            self.stop()
            raise RuntimeError(f"TorchServe did not start: {error}; its log:\n{log}") from error
        return self

    def wait_for_workers(self, timeout):
        """Wait until the management API describes every worker of the model as READY."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"TorchServe exited with code {self.process.returncode}")
            try:
                url = f"http://127.0.0.1:{self.management_port}/models/{MODEL_NAME}"
                with urllib.request.urlopen(url, timeout=10) as response:
                    workers = json.loads(response.read())[0].get("workers", [])
                if len(workers) >= self.workers and all(worker.get("status") == "READY" for worker in workers):
                    return
            except (urllib.error.URLError, OSError, ValueError, IndexError):
                pass
            time.sleep(0.5)
        raise TimeoutError(f"the model's {self.workers} worker(s) were not READY within {timeout} s")

    def log_tail(self, characters=3000):
        logs = []
        for name in ("launcher.log", "model_log.log"):
            path = self.log_dir / name
            if path.exists():
                logs.append(f"--- {name}\n{path.read_text(errors='replace')[-characters:]}")
        return "\n".join(logs)

    def stop(self, timeout=30):
        """Stop TorchServe with ``torchserve --stop``, then end whatever is left of its process group."""
        if self.process is not None and self.process.poll() is None:
            subprocess.run([venv_tool("torchserve"), "--stop"], env=self.environment(), cwd=self.directory,
                           capture_output=True, timeout=60, check=False)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        if self.process is not None:
            # Python workers may outlive the JVM for a moment; the group holds only processes started here.
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


def torchserve_endpoint(server, reference, name):
    """Return the load-test endpoint for the registered model; its check compares one PNG with ``reference``."""
    from .load import Endpoint, post_json

    def check(digit, seed):
        status, content_type, body = post_json(server.url, {"digit": digit, "seed": seed})
        assert status == 200, f"TorchServe returned {status}: {body[:300]!r}"
        assert content_type.startswith("image/png"), f"TorchServe returned Content-Type {content_type!r}"
        reference.assert_png_matches(body, digit, seed, "TorchServe")

    return Endpoint(name=name, url=server.url, check=check)
