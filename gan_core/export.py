"""Write a sampling checkpoint: ``python -m gan_core.export SOURCE OUT [--latent-scale 0.975]``.

SOURCE is a training run's ``checkpoint.pt`` or another sampling checkpoint. OUT keeps
only the EMA generator, the configurations and the loss history, which is what the
worker, ``gan_core.evaluate`` and ``gan_core.sampling`` need. ``--latent-scale`` stores the
factor that multiplies every latent before the generator's first layer. Below 1 it trades
some variety for cleaner samples. Measure a value first with
``python -m gan_core.evaluate SOURCE --latent-scale VALUE``.
"""

import argparse
import sys
from pathlib import Path

from .checkpoint import CheckpointError, file_digest, load_checkpoint
from .cli import check_input_file, check_output_file, latent_scale_argument
from .training import export_release


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m gan_core.export", description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="a checkpoint from gan_core.train (full or exported)")
    parser.add_argument("out", type=Path, help="where to write the sampling checkpoint")
    parser.add_argument("--latent-scale", type=latent_scale_argument, default=None, metavar="SCALE",
                        help="multiply every latent by SCALE when sampling (default: keep SOURCE's, "
                             "1 for a training checkpoint)")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    check_input_file(parser, args.source, "SOURCE", "pass a checkpoint from python -m gan_core.train")
    check_output_file(parser, args.out, "OUT", {"SOURCE": args.source})
    if args.out.exists():
        try:
            load_checkpoint(args.out)
        except (OSError, CheckpointError):
            parser.error(f"OUT: {args.out} exists and is not a gan_core checkpoint, so it is not replaced; "
                         "pass another path or remove that file first")
    try:
        step, latent_scale = export_release(args.source, args.out, latent_scale=args.latent_scale)
    except CheckpointError as error:
        raise SystemExit(f"SOURCE: {error}") from error
    print(f"wrote {args.out} (version {args.out.stem}-{file_digest(args.out)}): step {step}, "
          f"latent scale {latent_scale:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
