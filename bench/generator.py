"""Benchmark the shipped generator alone and PNG encoding, beside the machine's arithmetic limit.

``python -m bench.generator`` prints a Markdown table: images per second at batch 1, 64 and
1024 (median of repeated runs), microseconds per PNG, FLOPs per image, the measured float32
matrix-multiply rate, and the images per second that rate would allow. ``--quick`` runs
each measurement briefly, for the smoke test.
"""

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from gan_core.checkpoint import load_generator
from gan_core.sampling import to_png

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "gan_core" / "weights" / "mnist.pt"


def timed_rate(work, items_per_call, min_seconds):
    """Return items per second of ``work()``, called until ``min_seconds`` have passed (after one warm-up)."""
    work()
    calls, start = 0, time.perf_counter()
    while True:
        work()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return calls * items_per_call / elapsed


def median_rate(work, items_per_call, repeats, min_seconds):
    return statistics.median(timed_rate(work, items_per_call, min_seconds) for _ in range(repeats))


def flops_per_image(generator, batch=64):
    """Return the forward FLOPs of one image, counted at a batch large enough to need no row padding."""
    latent = torch.randn(batch, generator.config.latent_dim)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        generator(latent, torch.zeros(batch, dtype=torch.long))
    return counter.get_total_flops() / batch


def matmul_flops_per_second(size, repeats, min_seconds):
    a, b = torch.randn(size, size), torch.randn(size, size)
    return median_rate(lambda: torch.mm(a, b), 2 * size**3, repeats, min_seconds)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.generator", description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="sampling checkpoint to measure")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--repeats", type=int, default=5, help="runs per measurement; the median is reported")
    parser.add_argument("--seconds", type=float, default=2.0, help="minimum seconds per run")
    parser.add_argument("--quick", action="store_true", help="one short run per measurement (smoke test)")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.seconds = 1, 0.05
    torch.set_num_threads(args.threads)
    generator, _ = load_generator(args.model)

    rows = []
    for batch in (1, 64, 1024):
        latent, labels = torch.randn(batch, generator.config.latent_dim), torch.randint(0, 10, (batch,))

        def forward(latent=latent, labels=labels):
            with torch.no_grad():
                generator(latent, labels)

        rows.append((batch, median_rate(forward, batch, args.repeats, args.seconds)))
    image = torch.rand(1, 28, 28) * 2 - 1
    png_rate = median_rate(lambda: to_png(image), 1, args.repeats, args.seconds)
    flops = flops_per_image(generator)
    machine_flops = matmul_flops_per_second(256 if args.quick else 2048, args.repeats, args.seconds)

    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores; torch {torch.__version__}, "
          f"{args.threads} threads; median of {args.repeats} runs of at least {args.seconds} s each.\n")
    print("| measurement | value |")
    print("|---|---|")
    for batch, rate in rows:
        print(f"| generator, batch {batch} | {rate:,.0f} images/s |")
    print(f"| PNG encoding | {1e6 / png_rate:.1f} µs per image |")
    print(f"| FLOPs per image (forward) | {flops / 1e6:.1f} MFLOP |")
    print(f"| float32 matrix multiply | {machine_flops / 1e9:.1f} GFLOP/s |")
    print(f"| arithmetic limit (matmul rate / FLOPs per image) | {machine_flops / flops:,.0f} images/s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
