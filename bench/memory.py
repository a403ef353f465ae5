"""Benchmark the generate worker's memory: resident size with the model loaded, and its growth over many jobs.

``python -m bench.memory`` starts the service in a temporary folder (as ``bench.rest``
does), runs one job so the worker's pool process loads the generator, and reads the
resident set size (VmRSS in /proc/PID/status) of the Celery worker's pool processes. It
then sends ``--jobs`` single-image jobs (10,000 by default) with ``Prefer: wait``,
``--concurrency`` at a time, reads the size again after each tenth of them, and reports
the growth from the first reading to the last. ``--quick`` sends 20 jobs, for the
smoke test.

Linux only: the pool processes are found as the children of the worker's main process
in /proc.
"""

import argparse
import statistics
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .load import post_json, write_json
from .reference import ReferenceImages
from .report import machine_description, markdown_table
from .rest import add_service_arguments, our_endpoint
from .stack import ServiceStack

CHECKPOINTS = 10
# Seeds of the warm-up jobs, far from the measured jobs' seeds 1, 2, ...
WARMUP_FIRST_SEED = 10**12


def child_pids(parent_pid):
    """Return the pids whose parent is ``parent_pid``, from /proc/*/stat."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            # The process exited between the listing and the read.
            continue
        # The command name is in parentheses and may contain spaces; the parent pid is the
        # second field after it.
        fields = text[text.rindex(")") + 2:].split()
        if int(fields[1]) == parent_pid:
            children.append(int(stat.parent.name))
    return sorted(children)


def resident_kib(pid):
    """Return ``{"rss": VmRSS, "anon": RssAnon}`` of ``pid`` in KiB, from /proc/PID/status."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "RssAnon"):
            fields["rss" if name == "VmRSS" else "anon"] = int(value.split()[0])
    if len(fields) != 2:
        raise RuntimeError(f"/proc/{pid}/status has no VmRSS or RssAnon line; is {pid} a kernel thread?")
    return fields


def worker_sample(worker_pid, jobs_done):
    pool = child_pids(worker_pid)
    assert pool, f"the Celery worker {worker_pid} has no pool processes"
    return {"jobs": jobs_done, "main": resident_kib(worker_pid), "pool": {pid: resident_kib(pid) for pid in pool}}


def pool_total(sample, field):
    """Return the sum of ``field`` ("rss" or "anon") over the sample's pool processes, in KiB."""
    return sum(process[field] for process in sample["pool"].values())


def send_jobs(url, seeds, concurrency):
    """POST one single-image job per seed with Prefer: wait; return a Counter of the outcomes."""
    def one(seed):
        try:
            status, _, _ = post_json(url, {"digit": seed % 10, "seed": seed, "count": 1},
                                     headers={"Prefer": "wait=30"}, timeout=60)
        except OSError as error:
            return f"{type(error).__name__}"
        return status

    with ThreadPoolExecutor(concurrency) as pool:
        return Counter(pool.map(one, seeds))


def mib(kib):
    return f"{kib / 1024:,.1f} MiB"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000, help="single-image jobs to send (default 10,000)")
    parser.add_argument("--concurrency", type=int, default=8, help="jobs in flight at once (default 8)")
    add_service_arguments(parser)
    parser.add_argument("--quick", action="store_true", help="20 jobs, 4 at a time (smoke test; figures mean little)")
    parser.add_argument("--json", type=Path, help="also write every reading to this JSON file")
    args = parser.parse_args(argv)
    if args.quick:
        args.jobs, args.concurrency = 20, 4
    checkpoints = min(CHECKPOINTS, args.jobs)

    stack = ServiceStack(database_url=args.database_url, worker_processes=args.worker_processes).start()
    outcomes = Counter()
    url = f"{stack.base_url}/api/generate"
    try:
        # The first job makes the pool process load the generator.
        our_endpoint(stack, ReferenceImages()).check(digit=7, seed=123_456)
        if args.worker_processes > 1:
            # NOTE: concurrent jobs reach every pool process in practice, but Celery does not
            # promise it. A process that loads the generator later shows up as growth.
            warmup_seeds = range(WARMUP_FIRST_SEED, WARMUP_FIRST_SEED + 8 * args.worker_processes)
            warmup = send_jobs(url, warmup_seeds, 2 * args.worker_processes)
            if set(warmup) != {200}:
                raise RuntimeError(f"warm-up jobs did not all return 200: {dict(warmup)}")
        stack.wait_until_idle()
        samples = [worker_sample(stack.worker_pid(), 0)]
        start = time.perf_counter()
        for checkpoint in range(1, checkpoints + 1):
            first, last = (checkpoint - 1) * args.jobs // checkpoints, checkpoint * args.jobs // checkpoints
            outcomes += send_jobs(url, range(first + 1, last + 1), args.concurrency)
            stack.wait_until_idle()
            samples.append(worker_sample(stack.worker_pid(), last))
            print(f"{last:,} jobs: pool process RSS {mib(pool_total(samples[-1], 'rss'))}", file=sys.stderr,
                  flush=True)
        elapsed = time.perf_counter() - start
        description = stack.description()
    finally:
        stack.stop()

    growth = {field: (pool_total(samples[-1], field) - pool_total(samples[0], field)) / pool_total(samples[0], field)
              * 100 for field in ("rss", "anon")}
    failed = sum(count for outcome, count in outcomes.items() if outcome != 200)
    pool_pids = {pid for sample in samples for pid in sample["pool"]}
    print(f"Machine: {machine_description()}. Service: {description}. {args.jobs:,} single-image jobs with "
          f"Prefer: wait, {args.concurrency} in flight, in {elapsed:,.0f} s. RSS is VmRSS of the worker's pool "
          f"process(es), which counts pages shared with the worker's main process in full; anonymous is RssAnon, "
          f"the process's own heap and stacks, where a leak shows.\n")
    rows = [
        ["pool process RSS after the first job (model loaded)", mib(pool_total(samples[0], "rss"))],
        [f"pool process RSS after {args.jobs:,} more jobs", mib(pool_total(samples[-1], "rss"))],
        ["RSS growth", f"{growth['rss']:+.1f}%"],
        ["anonymous RSS, first and last reading",
         f"{mib(pool_total(samples[0], 'anon'))}, {mib(pool_total(samples[-1], 'anon'))}"],
        ["anonymous RSS growth", f"{growth['anon']:+.1f}%"],
        ["median RSS over the readings", mib(statistics.median(pool_total(sample, "rss") for sample in samples))],
        ["worker main process RSS, first and last reading",
         f"{mib(samples[0]['main']['rss'])}, {mib(samples[-1]['main']['rss'])}"],
        ["jobs that did not return 200", f"**{failed}** ({dict(outcomes)})" if failed else "0"],
    ]
    if len(pool_pids) != len(samples[0]["pool"]):
        replaced = (f"pool processes were replaced during the run (pids {sorted(pool_pids)}); "
                    "the growth compares different processes")
        rows.append(["NOTE", replaced])
    print(markdown_table(["measurement", "value"], rows))
    print()
    print(markdown_table(["jobs sent", "pool process RSS", "anonymous RSS"],
                         [[f"{sample['jobs']:,}", mib(pool_total(sample, "rss")), mib(pool_total(sample, "anon"))]
                          for sample in samples]))
    if args.json:
        write_json(args.json, {
            "machine": machine_description(), "service": description, "jobs": args.jobs,
            "concurrency": args.concurrency, "seconds": elapsed, "samples": samples, "growth_percent": growth,
            "outcomes": {str(outcome): count for outcome, count in outcomes.items()},
        })
    return 0


if __name__ == "__main__":
    sys.exit(main())
