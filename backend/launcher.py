"""The main job: run the whole service locally and generate every digit through its API.

``./run`` calls this after installing the requirements. It starts an embedded
Redis when ``REDIS_URL`` is not set and migrates the database. Then it starts Celery
workers for the generate and train queues, Celery beat, gunicorn and the gRPC gateway.
It requests ``POST /api/generate`` for each digit 0-9, waits for the jobs,
writes one grid PNG of the results, prints its path and the job URLs, and then
keeps serving until Ctrl-C, which stops every process it started.
"""

import argparse
import io
import logging
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .processes import (
    REPO_ROOT, EmbeddedRedis, free_port, start_beat, start_gateway, start_web, start_worker, stop_process,
    wait_for_port,
)

logger = logging.getLogger("launcher")

# The API's bounds, repeated here because importing them would load Django and torch before the
# arguments are checked: images per job (backend.jobs.services.MAX_COUNT) and the largest seed
# (gan_core.sampling.MAX_SEED). tests/e2e/test_launcher.py checks that they agree.
MAX_DEMO_COUNT = 64
MAX_SEED = 2**63 - 1


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="./run", description="Run the whole service locally, generate every digit through its API, and keep "
                                  "serving until Ctrl-C. './run test' runs the test suite instead.")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)),
                        help="HTTP port on 127.0.0.1 (default: $PORT or 8000; a free port if it is taken)")
    parser.add_argument("--grpc-port", type=int, default=int(os.environ.get("GRPC_PORT", 50051)),
                        help="gRPC gateway port on 127.0.0.1 (default: $GRPC_PORT or 50051; a free port if it is taken)")
    parser.add_argument("--count", type=int, default=8, help="images per digit in the demo grid (1-64, default 8)")
    parser.add_argument("--seed", type=int, default=0, help="seed of each digit's first image (default 0)")
    parser.add_argument("--workers", type=int, default=1, help="Celery pool processes for generation (default 1)")
    parser.add_argument("--exit", action="store_true", help="stop everything after the demo instead of serving")
    parser.add_argument("--timeout", type=float, default=120, help="seconds to wait for the demo jobs (default 120)")
    args = parser.parse_args(argv)
    # Checked here, before any process starts, so a typo costs no start-up time.
    for flag, port in (("--port", args.port), ("--grpc-port", args.grpc_port)):
        if not 1 <= port <= 65535:
            parser.error(f"{flag} must be a TCP port from 1 to 65535, got {port}")
    if not 1 <= args.count <= MAX_DEMO_COUNT:
        parser.error(f"--count must be from 1 to {MAX_DEMO_COUNT} (the API's images per job), got {args.count}")
    if not 0 <= args.seed <= MAX_SEED:
        parser.error(f"--seed must be from 0 to 2^63 - 1, got {args.seed}")
    if args.workers < 1:
        parser.error(f"--workers must be at least 1, got {args.workers}")
    if not (math.isfinite(args.timeout) and args.timeout > 0):
        parser.error(f"--timeout must be a number of seconds above 0, got {args.timeout}")
    return args


def port_is_free(port):
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As gunicorn and gRPC do, so that connections of a stopped server in TIME_WAIT do not count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class DemoError(Exception):
    """The demo could not produce its grid. The message gives the reason in one line."""


def api_error(response):
    """Return the API's error message of a failed response, or its first characters."""
    try:
        return response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return response.text[:300]


def run_demo(base_url, *, count, seed, timeout, out_path):
    """Request every digit, wait for the jobs, and write their images as one grid (a row per digit)."""
    import requests
    from PIL import Image

    deadline = time.monotonic() + timeout

    def call(method, url, **kwargs):
        """Send one API request, waiting out 429s (Retry-After) until the deadline; raise DemoError otherwise."""
        while True:
            response = requests.request(method, url, timeout=max(10, deadline - time.monotonic() + 5), **kwargs)
            if response.status_code != 429:
                break
            pause = float(response.headers.get("Retry-After") or 1)
            if time.monotonic() + pause > deadline:
                raise DemoError(f"{method} {url} was throttled (429) past the {timeout:g} s the demo may take; "
                                "raise GAN_THROTTLE_ANON or --timeout")
            logger.info("demo request throttled; retrying in %g s", pause)
            time.sleep(pause)
        if not response.ok:
            raise DemoError(f"{method} {url} returned {response.status_code}: {api_error(response)}")
        return response.json()

    # Prefer: wait returns each job once it has ended, so the demo makes one API call per digit.
    jobs, finished = [], {}
    for digit in range(10):
        remaining = max(1, min(60, int(deadline - time.monotonic())))
        job = call("POST", f"{base_url}/api/generate", json={"digit": digit, "count": count, "seed": seed},
                   headers={"Prefer": f"wait={remaining}"})
        jobs.append(job["url"])
        if job["status"] in ("succeeded", "failed", "canceled"):
            finished[job["url"]] = job
    while len(finished) < len(jobs):
        if time.monotonic() > deadline:
            raise DemoError(f"{len(jobs) - len(finished)} demo jobs were not finished after {timeout} s")
        for url in jobs:
            if url not in finished:
                job = call("GET", url)
                if job["status"] in ("succeeded", "failed", "canceled"):
                    finished[url] = job
        time.sleep(0.2)
    failed = [job for job in finished.values() if job["status"] != "succeeded"]
    if failed:
        raise DemoError(f"demo job {failed[0]['id']} ended {failed[0]['status']}: {failed[0]['error']}")

    cell, padding = 28, 2
    sheet = Image.new("L", (count * (cell + padding) + padding, 10 * (cell + padding) + padding))
    for row, url in enumerate(jobs):
        for image in finished[url]["images"]:
            png = Image.open(io.BytesIO(requests.get(image["url"], timeout=10).content))
            sheet.paste(png, (padding + image["index"] * (cell + padding), padding + row * (cell + padding)))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    sheet.resize((sheet.width * 4, sheet.height * 4), Image.NEAREST).save(out_path)
    return jobs, finished


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    var_dir = Path(os.environ.get("GAN_VAR_DIR", REPO_ROOT / "var"))
    log_dir = var_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    children = []

    def shutdown(*_):
        logger.info("stopping %d processes", len(children))
        for stop in reversed(children):
            stop()
        children.clear()

    def on_signal(signum, frame):
        raise KeyboardInterrupt

    # SIGINT too: a shell starts background jobs with SIGINT ignored, and `kill -INT` should still stop them.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        if not env.get("REDIS_URL"):
            redis = EmbeddedRedis().start()
            children.append(redis.stop)
            env["REDIS_URL"] = redis.url
            logger.info("REDIS_URL not set: using an embedded Redis at %s", redis.url)

        for command in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
            subprocess.run([sys.executable, "manage.py", *command, "-v", "0"], cwd=REPO_ROOT, env=env, check=True)

        port = args.port if port_is_free(args.port) else free_port()
        if port != args.port:
            logger.warning("port %d is taken; the REST API uses port %d instead", args.port, port)
        grpc_port = args.grpc_port if port_is_free(args.grpc_port) else free_port()
        if grpc_port != args.grpc_port:
            logger.warning("port %d is taken; the gRPC gateway uses port %d instead", args.grpc_port, grpc_port)
        base_url = f"http://127.0.0.1:{port}"
        env.setdefault("GAN_PUBLIC_BASE_URL", base_url)

        worker = start_worker(env, processes=args.workers, log_file=log_dir / "worker.log")
        children.append(lambda: stop_process(worker))
        # Training runs started in the admin go to their own queue, so they never delay generation.
        train_worker = start_worker(env, queues="train", processes=1, log_file=log_dir / "train-worker.log")
        children.append(lambda: stop_process(train_worker))
        beat = start_beat(env, log_file=log_dir / "beat.log")
        children.append(lambda: stop_process(beat))
        web = start_web(env, port=port, log_file=log_dir / "web.log")
        children.append(lambda: stop_process(web))
        gateway = start_gateway(env, port=grpc_port, log_file=log_dir / "gateway.log")
        children.append(lambda: stop_process(gateway))
        wait_for_port("127.0.0.1", port, 60, web)
        wait_for_port("127.0.0.1", grpc_port, 60, gateway)
        logger.info("REST API at %s/api/generate, gRPC at 127.0.0.1:%d; logs in %s", base_url, grpc_port, log_dir)

        grid_path = var_dir / "demo" / "digits.png"
        jobs, finished = run_demo(base_url, count=args.count, seed=args.seed, timeout=args.timeout, out_path=grid_path)
        version = next(iter(finished.values()))["model_version"]
        print(f"\nGenerated digits 0-9 ({args.count} each, model {version}): {grid_path}")
        print("Jobs:")
        for digit, url in enumerate(jobs):
            print(f"  {digit}: {url}")
        if args.exit:
            return 0
        print(f"\nServing REST at {base_url} (admin at {base_url}/admin/, after manage.py createsuperuser) "
              f"and gRPC at 127.0.0.1:{grpc_port}. Press Ctrl-C to stop.", flush=True)
        while all(process.poll() is None for process in (worker, train_worker, beat, web, gateway)):
            time.sleep(0.5)
        logger.error("a child process exited; see %s", log_dir)
        return 1
    except KeyboardInterrupt:
        return 0
    except (DemoError, OSError, RuntimeError, subprocess.CalledProcessError) as error:
        # OSError covers connection failures, because requests' errors are OSErrors, and RuntimeError
        # covers a process that exited while starting. One line replaces the traceback, and the logs have the rest.
        logger.error("stopped: %s (logs in %s)", error, log_dir)
        return 1
    finally:
        shutdown()


if __name__ == "__main__":
    sys.exit(main())
