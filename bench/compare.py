"""Benchmark our REST API beside two baselines and the generator alone, in one invocation.

``python -m bench.compare`` measures, one server at a time:

- the generator alone, in this process: batch 1 with and without PNG encoding, and batch 64;
- ``sync``: a synchronous WSGI handler under gunicorn with 2 sync workers (``bench.baseline_sync``);
- ``torchserve``: TorchServe 0.12 with the same generator, unbatched (``bench.baseline_torchserve``);
- ``torchserve-batched``: the same with TorchServe's batching (batch 8, max delay 5 ms);
- ``ours``: the service with ``Prefer: wait`` single-image jobs (``bench.rest``).

Each server gets one checked request, a warm-up at the highest concurrency, and wrk runs
at each concurrency (1, 8 and 32 by default), repeated and reduced to medians. It prints one
table with every figure and one with ours divided by each baseline. ``--quick`` runs
briefly, for the smoke test.
"""

import argparse
import importlib.metadata
import os
import sys

import torch

from gan_core.sampling import generate, to_png

from .baseline_sync import SyncServer, sync_endpoint
from .baseline_torchserve import TorchServeServer, torchserve_endpoint
from .generator import median_rate
from .load import add_load_arguments, apply_quick, measure_endpoint, write_json
from .reference import ReferenceImages
from .report import load_table, machine_description, markdown_table, ratio
from .rest import add_service_arguments, our_endpoint
from .stack import ServiceStack

TARGETS = ("sync", "torchserve", "torchserve-batched", "ours")


def measure_generator(reference, *, threads, repeats, seconds):
    """Return images per second of the generator alone, in this process, for the rows of the first table."""
    torch.set_num_threads(threads)
    generator = reference.generator
    rates = {}
    for batch in (1, 64):
        latent, labels = torch.randn(batch, generator.config.latent_dim), torch.randint(0, 10, (batch,))

        def forward(latent=latent, labels=labels):
            with torch.no_grad():
                generator(latent, labels)

        rates[f"generator, batch {batch}"] = median_rate(forward, batch, repeats, seconds)
    # What one request of the sync baseline computes: a latent from the seed, one forward pass, one PNG.
    rates["generator + PNG, batch 1 (gan_core.sampling)"] = median_rate(
        lambda: to_png(generate(generator, [7], [123], align=False)[0]), 1, repeats, seconds)
    return rates


def start_sync(args, reference):
    server = SyncServer(workers=2, torch_threads=1).start()
    description = "gunicorn, 2 sync workers, 1 torch thread each; the generator runs in the request"
    return server.stop, sync_endpoint(server, reference), description


def start_torchserve(args, reference, *, batched):
    batch_size, delay = (args.torchserve_batch_size, args.torchserve_max_delay_ms) if batched else (1, 0)
    server = TorchServeServer(batch_size=batch_size, max_batch_delay_ms=delay, workers=args.torchserve_workers).start()
    name = f"TorchServe, batch {batch_size}" + (f", max delay {delay} ms" if batched else "")
    description = (f"TorchServe {importlib.metadata.version('torchserve')}, {server.workers} backend worker(s) with "
                   f"{server.torch_threads} torch thread(s) each, batch size {batch_size}, max batch delay {delay} ms")
    return server.stop, torchserve_endpoint(server, reference, name), description


def start_ours(args, reference):
    stack = ServiceStack(database_url=args.database_url, worker_processes=args.worker_processes).start()
    return stack.stop, our_endpoint(stack, reference), stack.description()


STARTERS = {
    "sync": start_sync,
    "torchserve": lambda args, reference: start_torchserve(args, reference, batched=False),
    "torchserve-batched": lambda args, reference: start_torchserve(args, reference, batched=True),
    "ours": start_ours,
}


def ratio_rows(ours, baselines, generator_rate):
    """Rows of ours divided by each baseline: above 1 means ours has more req/s, or a longer latency."""
    concurrencies = list(ours.medians)
    lowest, highest = concurrencies[0], concurrencies[-1]
    references = [(measurement.name, measurement.medians) for measurement in baselines]
    rows = []
    for concurrency in concurrencies:
        row = [f"req/s at concurrency {concurrency}"]
        row += [ratio(ours.medians[concurrency].requests_per_second, medians[concurrency].requests_per_second)
                for _, medians in references]
        rows.append(row + [ratio(ours.medians[concurrency].requests_per_second, generator_rate)])
    latencies = [("p50", lowest), ("p95", lowest), ("p99", lowest), ("p50", highest), ("p99", highest)]
    # dict.fromkeys drops the repeated rows when only one concurrency is measured.
    for percentile, concurrency in dict.fromkeys(latencies):
        field = f"{percentile}_ms"
        row = [f"{percentile} latency at concurrency {concurrency}"]
        row += [ratio(getattr(ours.medians[concurrency], field), getattr(medians[concurrency], field))
                for _, medians in references]
        # The generator alone has one latency: the time of one image, 1 / its rate.
        alone = ratio(getattr(ours.medians[concurrency], field), 1000 / generator_rate) if percentile == "p50" else "n/a"
        rows.append(row + [alone])
    header = ["ours / …"] + [name for name, _ in references] + ["generator + PNG alone, batch 1"]
    return header, rows


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__.splitlines()[0])
    add_load_arguments(parser)
    add_service_arguments(parser)
    parser.add_argument("--only", type=lambda text: [name.strip() for name in text.split(",") if name.strip()],
                        default=list(TARGETS), help=f"comma-separated servers to run, from {','.join(TARGETS)} "
                                                    "(default all; the generator alone always runs)")
    parser.add_argument("--torchserve-workers", type=int, default=1,
                        help="TorchServe backend workers; each gets cores / workers torch threads (default 1)")
    parser.add_argument("--torchserve-batch-size", type=int, default=8, help="batch size of torchserve-batched (default 8)")
    parser.add_argument("--torchserve-max-delay-ms", type=int, default=5,
                        help="max batch delay of torchserve-batched, in milliseconds (default 5)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="torch threads for the generator alone (default: the number of cores)")
    args = apply_quick(parser.parse_args(argv))
    unknown = sorted(set(args.only) - set(TARGETS))
    if unknown:
        parser.error(f"unknown server(s) in --only: {', '.join(unknown)}; choose from {', '.join(TARGETS)}")
    return args


def main(argv=None):
    args = parse_args(argv)

    def log(line):
        print(line, file=sys.stderr, flush=True)

    reference = ReferenceImages()
    log("measuring the generator alone")
    generator_rates = measure_generator(reference, threads=args.threads, repeats=args.repeats,
                                        seconds=0.05 if args.quick else 2.0)

    measurements, descriptions = {}, {}
    for name in (target for target in TARGETS if target in args.only):
        log(f"starting {name}")
        stop, endpoint, descriptions[name] = STARTERS[name](args, reference)
        try:
            measurements[name] = measure_endpoint(endpoint, concurrencies=args.concurrency, seconds=args.seconds,
                                                  warmup_seconds=args.warmup, repeats=args.repeats, log=log)
        finally:
            stop()

    print(f"Machine: {machine_description()}. Load: wrk, {args.seconds} s per run after {args.warmup} s of warm-up, "
          f"median of {args.repeats} runs; failed requests are summed over the runs.\n")
    for name, description in descriptions.items():
        print(f"- {measurements[name].name}: {description}")
    print()
    print(markdown_table(["measurement", "value"],
                         [[name, f"{rate:,.0f} images/s ({args.threads} torch threads)"]
                          for name, rate in generator_rates.items()]))
    print()
    print(load_table(list(measurements.values())))
    ratios = None
    baselines = [measurements[name] for name in TARGETS if name in measurements and name != "ours"]
    if "ours" in measurements:
        generator_rate = generator_rates["generator + PNG, batch 1 (gan_core.sampling)"]
        header, rows = ratio_rows(measurements["ours"], baselines, generator_rate)
        ratios = {"header": header, "rows": rows}
        print()
        print("Ours divided by each baseline (req/s above 1: ours serves more; latency above 1: ours is slower).\n")
        print(markdown_table(header, rows))
    if args.json:
        write_json(args.json, {
            "machine": machine_description(),
            "arguments": vars(args) | {"json": str(args.json)},
            "servers": descriptions,
            "generator_alone_images_per_second": generator_rates,
            "measurements": {name: measurement.as_dict() for name, measurement in measurements.items()},
            "ratios": ratios,
        })
    return 0


if __name__ == "__main__":
    sys.exit(main())
