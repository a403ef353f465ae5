"""Benchmark one training step of the shipped MNIST recipe in float32 and with bfloat16 autocast.

``python -m bench.train_step`` trains the shipped model's configuration (conditional
batch norm, the critic's classifier head, batch 64, ``n_critic`` 5) on real MNIST for
``--steps`` generator steps in each precision, each in a fresh temporary run folder. It
prints a Markdown table of seconds per generator step: the median of the logged intervals,
leaving out the first as warm-up. It also prints the CPU's vector extension as
PyTorch reports it, because bfloat16 is fast only where the CPU has bfloat16 instructions
(AVX-512 BF16 or AMX). ``--quick`` runs a tiny model for a few steps, for the smoke test.
"""

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import torch

from gan_core.config import PRECISIONS, ModelConfig, TrainConfig
from gan_core.training import train

from .load import write_json
from .report import machine_description, markdown_table


def seconds_per_step(model_config, train_config):
    """Return the median logged seconds per step of a fresh run, without its first interval."""
    with tempfile.TemporaryDirectory() as folder:
        history = train(model_config, train_config, Path(folder), progress=False).history
    timed = history[1:] or history
    return statistics.median(record["seconds_per_step"] for record in timed)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.train_step", description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="generator steps per precision (default 100)")
    parser.add_argument("--precisions", default=",".join(PRECISIONS),
                        help=f"comma-separated precisions to time (default {','.join(PRECISIONS)})")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (default cpu)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--quick", action="store_true", help="a tiny model for 4 steps (smoke test)")
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    precisions = [value.strip() for value in args.precisions.split(",") if value.strip()]
    unknown = [value for value in precisions if value not in PRECISIONS]
    if unknown:
        parser.error(f"--precisions: unknown {', '.join(unknown)}; choose from {', '.join(PRECISIONS)}")

    model_config = ModelConfig(conditional_norm=True, auxiliary_classifier=True)
    steps, batch_size = args.steps, 64
    if args.quick:
        model_config = ModelConfig(latent_dim=16, generator_width=8, critic_width=8, conditional_norm=True,
                                   auxiliary_classifier=True)
        steps, batch_size = 4, 8
    log_every = max(1, steps // 5)

    rows = []
    for precision in precisions:
        train_config = TrainConfig(max_steps=steps, batch_size=batch_size, log_every=log_every,
                                   checkpoint_every=10 * steps, device=args.device, precision=precision)
        seconds = seconds_per_step(model_config, train_config)
        rows.append({"precision": precision, "seconds_per_step": seconds})
        print(f"{precision}: {seconds:.3f} s/step", file=sys.stderr, flush=True)

    baseline = rows[0]["seconds_per_step"]
    print(f"Machine: {machine_description()}; CPU capability {torch.backends.cpu.get_cpu_capability()}; "
          f"{torch.get_num_threads()} threads; device {args.device}. {steps} generator steps per precision, "
          f"batch {batch_size}.\n")
    print(markdown_table(["precision", "s per generator step", f"speed-up over {rows[0]['precision']}"], [
        [row["precision"], f"{row['seconds_per_step']:.3f}", f"{baseline / row['seconds_per_step']:.2f}×"]
        for row in rows]))
    if args.json:
        write_json(args.json, {"machine": machine_description(),
                               "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                               "threads": torch.get_num_threads(), "device": args.device, "steps": steps,
                               "batch_size": batch_size, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
