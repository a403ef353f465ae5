"""Write a sample grid from a checkpoint: ``python -m gan_core.sample CHECKPOINT OUT.png``.

One row per class (0-9 unless ``--digits`` lists others), one column per seed from
``--first-seed`` on. The images are the ones the API returns for the same digit and seed,
at the checkpoint's latent scale.
"""

import argparse
import sys
from pathlib import Path

import torch

from .cli import check_input_file, check_output_file, latent_scale_argument, load_generator_or_exit
from .sampling import MAX_SEED, generate, grid_png, image_seeds


def parse_digits(text):
    try:
        digits = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected class numbers separated by commas, such as 0,3,7; got {text!r}") from None
    return digits


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m gan_core.sample", description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path, help="a checkpoint from gan_core.train or gan_core.export")
    parser.add_argument("out", type=Path, help="the PNG file to write")
    parser.add_argument("--digits", type=parse_digits, default=None,
                        help="classes, one row each, separated by commas (default: every class)")
    parser.add_argument("--per-digit", type=int, default=10,
                        help="images per class, one column each, 1-100 (default 10)")
    parser.add_argument("--latent-scale", type=latent_scale_argument, default=None, metavar="SCALE",
                        help="sample at this latent scale instead of the checkpoint's, to preview one")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="seed of the first column, 0 to 2^63 - 1; later columns wrap to 0 (default 0)")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    check_arguments(parser, args)

    generator, _ = load_generator_or_exit(args.checkpoint, args.latent_scale)
    num_classes = generator.config.num_classes
    digits = args.digits if args.digits is not None else list(range(num_classes))
    wrong = [digit for digit in digits if not 0 <= digit < num_classes]
    if wrong:
        parser.error(f"--digits: {wrong} outside 0-{num_classes - 1}, the classes this checkpoint was trained on")

    seeds = image_seeds(args.first_seed, args.per_digit)
    with torch.inference_mode():
        images = generate(generator, [digit for digit in digits for _ in seeds], seeds * len(digits))
    args.out.write_bytes(grid_png(images, columns=len(seeds)))
    print(f"wrote {args.out}: {len(digits)} rows x {len(seeds)} seeds from {args.first_seed}, "
          f"latent scale {generator.latent_scale:g}")
    return 0


def check_arguments(parser, args):
    """Exit through ``parser.error`` on the first argument that cannot work, before the model loads."""
    if not 1 <= args.per_digit <= 100:
        parser.error(f"--per-digit must be between 1 and 100, got {args.per_digit}")
    if not 0 <= args.first_seed <= MAX_SEED:
        parser.error(f"--first-seed must be between 0 and 2^63 - 1, got {args.first_seed}")
    check_input_file(parser, args.checkpoint, "CHECKPOINT",
                     "pass a checkpoint from python -m gan_core.train or gan_core.export")
    check_output_file(parser, args.out, "OUT", {"CHECKPOINT": args.checkpoint}, suffix=".png")

if __name__ == "__main__":
    sys.exit(main())
