"""Argument checks shared by the gan_core commands, so that a bad argument ends in one line naming it."""

import argparse
from pathlib import Path

from .checkpoint import CheckpointError, check_latent_scale, load_generator


def latent_scale_argument(text):
    """Parse a ``--latent-scale`` value for argparse: a number that :func:`check_latent_scale` accepts."""
    try:
        return check_latent_scale(float(text))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def load_generator_or_exit(path, latent_scale=None):
    """Return ``(generator, state)`` from CHECKPOINT ``path``, sampling at ``latent_scale`` when given.

    A file that cannot be read ends the command with one line naming CHECKPOINT.
    """
    try:
        generator, state = load_generator(path)
    except (OSError, CheckpointError) as error:
        raise SystemExit(f"CHECKPOINT: {error}") from error
    if latent_scale is not None:
        generator.latent_scale = latent_scale
    return generator, state


def check_input_file(parser, path, name, hint):
    """Exit through ``parser.error`` unless ``path`` is an existing file; ``hint`` describes what to pass instead."""
    if not Path(path).is_file():
        parser.error(f"{name}: no file at {path}; {hint}")
    return Path(path)


def check_output_file(parser, path, name, inputs=None, suffix=".pt"):
    """Exit through ``parser.error`` unless ``path`` can be written as a file, and create its parent folder.

    ``path`` must end in ``suffix``, so that a PNG or JSON file never replaces a checkpoint. It
    must not be a folder, nor any file in ``inputs``: a dict from a description (such as "the
    checkpoint") to each file that the command reads or keeps.
    """
    path = Path(path)
    if path.is_dir():
        parser.error(f"{name}: {path} is a folder; pass a file path, such as {path / ('out' + suffix)}")
    if path.suffix.lower() != suffix:
        parser.error(f"{name}: {path} does not end in {suffix}; pass a {suffix} file name, such as "
                     f"{path.with_suffix(suffix)}")
    for description, input_path in (inputs or {}).items():
        if input_path is not None and path.resolve() == Path(input_path).resolve():
            parser.error(f"{name}: {path} is {description}, and writing it would destroy that file; "
                         "pass another path")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        parser.error(f"{name}: cannot create the folder {path.parent} ({error.strerror}); pass a writable path")
    return path
