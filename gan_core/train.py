"""Train the conditional WGAN-GP: ``python -m gan_core.train --out runs/mnist``.

Every ModelConfig and TrainConfig field is a flag (``--n-critic 5``). The run
folder gets ``checkpoint.pt`` (resumable with ``--resume``), ``train.log`` and a
fixed-noise sample grid per epoch and per checkpoint under ``samples/``.
"""

import argparse
import logging
import math
import shlex
import sys
import time
from dataclasses import fields
from pathlib import Path

import torch
from tqdm.contrib.logging import logging_redirect_tqdm

from .cli import check_output_file
from .config import ModelConfig, TrainConfig
from .training import (
    DeviceUnavailableError, IncompatibleCheckpointError, NonFiniteLossError, export_release, train,
)


def add_config_flags(parser, cls):
    for item in fields(cls):
        flag = "--" + item.name.replace("_", "-")
        kind = parse_bool if isinstance(item.default, bool) else type(item.default)
        parser.add_argument(flag, dest=item.name, type=kind, default=item.default,
                            help=f"{cls.__name__}.{item.name} (default: {item.default!r})")


def parse_bool(text):
    """``bool("false")`` is True, so boolean flags take an explicit spelling."""
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m gan_core.train", description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="run folder for checkpoints, log and sample grids")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt when it exists")
    parser.add_argument("--export", type=Path, default=None,
                        help="after training, write a sampling-only checkpoint (EMA generator) to this path")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--stop-after", type=float, default=0, metavar="MINUTES",
                        help="save a checkpoint and stop after this many minutes of wall time; "
                             "--resume continues the run later (0: no limit)")
    parser.add_argument("--dry-run", action="store_true", help="run one generator step and exit, to check the setup")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar (logs still print)")
    add_config_flags(parser.add_argument_group("model"), ModelConfig)
    add_config_flags(parser.add_argument_group("training"), TrainConfig)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    values = vars(args)
    try:
        model_config = ModelConfig(**{f.name: values[f.name] for f in fields(ModelConfig)})
    except ValueError as error:
        raise SystemExit(f"invalid model option: {error}") from error
    try:
        train_config = TrainConfig(**{f.name: values[f.name] for f in fields(TrainConfig)})
    except ValueError as error:
        raise SystemExit(f"invalid training option: {error}") from error
    if not math.isfinite(args.stop_after) or args.stop_after < 0:
        raise SystemExit(f"invalid training option: --stop-after must be 0 (no limit) or a number of minutes, "
                         f"got {args.stop_after}")
    if args.threads < 0:
        parser.error(f"--threads must be 0 (torch's default) or a number of threads, got {args.threads}")
    if args.export:
        check_output_file(parser, args.export, "--export", {"the run's checkpoint": args.out / "checkpoint.pt"})
    if args.dry_run:
        train_config.max_steps, train_config.log_every = 1, 1
    if args.threads:
        torch.set_num_threads(args.threads)

    args.out.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        handlers=[logging.StreamHandler(sys.stderr), logging.FileHandler(args.out / "train.log")],
                        force=True)
    # Under ``python -m``, sys.argv[0] is this file's path, so the log names the module instead.
    flags = sys.argv[1:] if argv is None else list(argv)
    logging.getLogger(__name__).info("command: python -m gan_core.train %s", shlex.join(flags))
    deadline = time.monotonic() + 60 * args.stop_after if args.stop_after else None

    def past_deadline(step):
        return deadline is not None and time.monotonic() > deadline

    with logging_redirect_tqdm():
        try:
            result = train(model_config, train_config, args.out, resume=args.resume, should_stop=past_deadline,
                           progress=not args.no_progress)
        except (NonFiniteLossError, IncompatibleCheckpointError, DeviceUnavailableError, FileNotFoundError) as error:
            # FileNotFoundError: the dataset is missing and could not be downloaded. Its message names the setting to fix.
            raise SystemExit(str(error)) from error
    if result.status == "stopped":
        # A run cut short is not the model that --export promises, so nothing is exported.
        logging.getLogger(__name__).info(
            "stopped after %g minutes at step %d; continue with the same command and --resume",
            args.stop_after, result.step)
        return 0
    if args.export:
        export_release(result.checkpoint_path, args.export)
        logging.getLogger(__name__).info("exported sampling checkpoint to %s", args.export)
    return 0


if __name__ == "__main__":
    sys.exit(main())
