"""Benchmark dynamic batching: the worker's throughput on a full queue, and a lone request's latency.

``python -m bench.batching`` starts the service twice (as ``bench.rest`` does), once with
dynamic batching off (``GAN_BATCH_MAX_JOBS=1``) and once with the default settings. For
each, it measures two things:

- drain: with the worker paused (SIGSTOP), it queues ``--jobs`` single-image jobs over REST,
  resumes the worker and times how long the queue takes to empty. This is the worker's
  throughput under load, without the web tier in the way;
- lone latency: ``--lone`` sequential single-image requests with ``Prefer: wait``, one at a
  time, reported as p50 and p95.

``--quick`` queues 20 jobs and sends 5 lone requests, for the smoke test.
"""

import argparse
import os
import re
import signal
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from .load import post_json, wait_until, write_json
from .memory import child_pids
from .report import machine_description, markdown_table
from .stack import ServiceStack

SETTINGS = {
    "batching off (GAN_BATCH_MAX_JOBS=1)": {"GAN_BATCH_MAX_JOBS": "1"},
    "batching on (defaults: 32 jobs, 10 ms)": {},
}


def pause(pids, sig):
    for pid in pids:
        os.kill(pid, sig)


def measure(stack, *, jobs, lone):
    """Measure a started ``stack``; return drain throughput (jobs/s) and lone-request latencies (ms)."""
    url = f"{stack.base_url}/api/generate"
    status, _, body = post_json(url, {"digit": 0, "seed": 10**12, "count": 1}, headers={"Prefer": "wait=60"})
    assert status == 200, f"the warm-up job returned {status}: {body[:300]!r}"

    worker = stack.worker_pid()
    paused = [worker, *child_pids(worker)]
    pause(paused, signal.SIGSTOP)
    try:
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda seed: post_json(url, {"digit": seed % 10, "seed": seed, "count": 1})[0],
                                     range(1, jobs + 1)))
        assert statuses.count(202) == jobs, f"queuing returned {sorted(set(statuses))}, expected 202 for every job"
    finally:
        pause(paused, signal.SIGCONT)
    started = time.perf_counter()
    wait_until(lambda: stack.jobs_in_progress() == 0, timeout=600, interval=0.05, what="an empty queue")
    drain_seconds = time.perf_counter() - started

    latencies = []
    for index in range(lone):
        seed = 2 * 10**12 + index
        sent = time.perf_counter()
        status, _, body = post_json(url, {"digit": seed % 10, "seed": seed, "count": 1}, headers={"Prefer": "wait=30"})
        latencies.append((time.perf_counter() - sent) * 1000)
        assert status == 200, f"a lone request returned {status}: {body[:300]!r}"
    return jobs / drain_seconds, latencies


def batch_sizes(stack):
    """Return the batch sizes the worker logged ("N jobs (M images) generated together")."""
    text = (stack.log_dir / "worker.log").read_text(errors="replace")
    return [int(size) for size in re.findall(r"(\d+) jobs \(\d+ images\) generated together", text)]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.batching", description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000, help="jobs queued while the worker is paused (default 2000)")
    parser.add_argument("--lone", type=int, default=50, help="sequential lone requests (default 50)")
    parser.add_argument("--quick", action="store_true", help="20 jobs and 5 lone requests (smoke test)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if args.quick:
        args.jobs, args.lone = 20, 5

    results = {}
    for name, overrides in SETTINGS.items():
        # The queue must take every job: its limit (GAN_MAX_QUEUE_DEPTH, 1000) returns 503 above it.
        overrides = {**overrides, "GAN_MAX_QUEUE_DEPTH": str(args.jobs + 100)}
        saved = {key: os.environ.get(key) for key in overrides}
        os.environ.update(overrides)
        try:
            stack = ServiceStack().start()
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        try:
            rate, latencies = measure(stack, jobs=args.jobs, lone=args.lone)
            sizes = batch_sizes(stack)
        finally:
            stack.stop()
        quantiles = statistics.quantiles(latencies, n=20) if len(latencies) > 1 else latencies * 19
        results[name] = {"drain_jobs_per_second": rate, "lone_p50_ms": statistics.median(latencies),
                         "lone_p95_ms": quantiles[18], "mean_batch": statistics.mean(sizes), "largest_batch": max(sizes)}
        print(f"{name}: {rate:.1f} jobs/s, lone p50 {results[name]['lone_p50_ms']:.1f} ms", file=sys.stderr)

    print(f"Machine: {machine_description()}. {args.jobs} single-image jobs queued while the worker was paused, "
          f"then drained; {args.lone} lone requests with Prefer: wait, one at a time.\n")
    print(markdown_table(
        ["worker", "drain, jobs/s", "mean batch (jobs)", "largest batch", "lone p50 ms", "lone p95 ms"],
        [[name, f"{entry['drain_jobs_per_second']:,.1f}", f"{entry['mean_batch']:.1f}", entry["largest_batch"],
          f"{entry['lone_p50_ms']:.1f}", f"{entry['lone_p95_ms']:.1f}"] for name, entry in results.items()]))
    if args.json:
        write_json(args.json, {"machine": machine_description(), "jobs": args.jobs, "lone": args.lone,
                               "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
