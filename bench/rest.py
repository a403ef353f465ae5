"""Benchmark our REST API: single-image jobs with ``Prefer: wait``, loaded by wrk.

``python -m bench.rest`` starts the service as ``./run`` does (embedded Redis, a fresh
database, the generate worker, gunicorn) in a temporary folder. It sends
``POST /api/generate`` with ``{"digit": d, "seed": s, "count": 1}`` and ``Prefer: wait=30``,
so each response returns once the job has finished. It prints requests per second and
p50/p95/p99 latency at each concurrency, as medians of repeated runs. A response other
than 200 (such as a 202 whose wait ran out) counts as a failed request. ``--quick`` runs
briefly, for the smoke test. ``python -m bench.compare`` runs the same measurement
beside the baselines.
"""

import argparse
import json
import sys

from .load import (
    Endpoint,
    add_load_arguments,
    apply_quick,
    get,
    measure_endpoint,
    post_json,
    write_json,
)
from .reference import ReferenceImages
from .report import load_table, machine_description
from .stack import ServiceStack

NAME = "ours (Django + Celery, Prefer: wait)"


def our_endpoint(stack, reference):
    """Return the load-test endpoint of the running ``stack``; its check fetches and compares one image."""
    url = f"{stack.base_url}/api/generate"

    def check(digit, seed):
        # A longer wait than the load's: the worker loads the generator on its first job.
        status, _, body = post_json(url, {"digit": digit, "seed": seed, "count": 1}, headers={"Prefer": "wait=60"})
        assert status == 200, f"POST /api/generate with Prefer: wait returned {status}: {body[:300]!r}"
        job = json.loads(body)
        assert job["status"] == "succeeded", f"job {job['id']} ended {job['status']}: {job.get('error')}"
        assert len(job["images"]) == 1, f"job {job['id']} has {len(job['images'])} images, expected 1"
        image = job["images"][0]
        assert (image["digit"], image["seed"]) == (digit, seed), f"job {job['id']} made {image}, not ({digit}, {seed})"
        image_status, png = get(image["url"])
        assert image_status == 200, f"GET {image['url']} returned {image_status}"
        reference.assert_png_matches(png, digit, seed, "our service")

    return Endpoint(name=NAME, url=url, extra_fields=', "count": 1', headers={"Prefer": "wait=30"}, check=check,
                    settle=stack.wait_until_idle)


def add_service_arguments(parser):
    parser.add_argument("--database-url", help="database for the service, e.g. postgres://user:pass@127.0.0.1/bench "
                                               "(an empty one made for the benchmark; its jobs stay in it); "
                                               "default: SQLite in a temporary folder")
    parser.add_argument("--worker-processes", type=int, default=1,
                        help="Celery pool processes for generation (default 1, as ./run)")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.rest", description=__doc__.splitlines()[0])
    add_load_arguments(parser)
    add_service_arguments(parser)
    args = apply_quick(parser.parse_args(argv))
    reference = ReferenceImages()

    stack = ServiceStack(database_url=args.database_url, worker_processes=args.worker_processes).start()
    try:
        measurement = measure_endpoint(our_endpoint(stack, reference), concurrencies=args.concurrency,
                                       seconds=args.seconds, warmup_seconds=args.warmup, repeats=args.repeats,
                                       log=lambda line: print(line, file=sys.stderr))
    finally:
        stack.stop()

    print(f"Machine: {machine_description()}. wrk, {args.seconds} s per run after {args.warmup} s of warm-up; "
          f"median of {args.repeats} runs. Service: {stack.description()}.\n")
    print(load_table([measurement]))
    if args.json:
        write_json(args.json, {"machine": machine_description(), "arguments": vars(args) | {"json": str(args.json)},
                               "measurements": [measurement.as_dict()]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
