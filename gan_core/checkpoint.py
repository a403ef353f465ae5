"""Checkpoints that carry their own configuration, so sampling needs nothing else."""

import hashlib
import math
import os
from dataclasses import asdict
from pathlib import Path

import torch

from .config import ModelConfig, config_from_dict
from .models import build_generator

FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A file is not a checkpoint that this version of gan_core can read."""


# Above this, most latent values lie where the generator saw almost none in training (at 2,
# beyond two standard deviations for a third of them), and large scales overflow to NaN images.
MAX_LATENT_SCALE = 2.0


def check_latent_scale(value):
    """Return ``value`` as a float when it is a usable latent scale (above 0, at most 2); else raise ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"latent scale must be a number, got {value!r}")
    if not (math.isfinite(value) and 0 < value <= MAX_LATENT_SCALE):
        raise ValueError(f"latent scale must be a finite number above 0 and at most {MAX_LATENT_SCALE:g} "
                         f"(1 keeps the trained distribution), got {value!r}")
    return float(value)


def save_checkpoint(path, *, model_config, train_config, generator_ema, generator=None, critic=None,
                    generator_optimizer=None, critic_optimizer=None, step=0, epoch=0, history=None,
                    fixed_latent=None, fixed_labels=None, latent_scale=1.0):
    """Write a checkpoint atomically (temporary file, then rename), so a crash never leaves half a file.

    With only the EMA generator it is a release checkpoint: enough to sample, not to resume.
    ``latent_scale`` is stored for :func:`load_generator`; files without it sample at scale 1.
    """
    state = {
        "format_version": FORMAT_VERSION,
        "latent_scale": check_latent_scale(latent_scale),
        "model_config": asdict(model_config),
        "train_config": asdict(train_config),
        "generator_ema": generator_ema.state_dict(),
        "step": step,
        "epoch": epoch,
        "history": history or [],
    }
    if generator is not None:
        state["generator"] = generator.state_dict()
    if critic is not None:
        state["critic"] = critic.state_dict()
    if generator_optimizer is not None:
        state["generator_optimizer"] = generator_optimizer.state_dict()
        state["critic_optimizer"] = critic_optimizer.state_dict()
    if fixed_latent is not None:
        state["fixed_latent"] = fixed_latent
        state["fixed_labels"] = fixed_labels
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    try:
        torch.save(state, temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)  # a failed write leaves no half-written file behind
        raise


def read_weights_file(path, error_type, description, hint=""):
    """Return what ``torch.load`` reads from ``path`` (tensors and plain data only), on the CPU.

    Raises OSError when the file cannot be opened, and ``error_type`` ("PATH is not
    DESCRIPTION (TorchError)HINT") when torch cannot read it.
    """
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except OSError:
        raise
    except Exception as error:  # torch raises pickle, zip and runtime errors for a foreign file
        # torch's own message for this case suggests weights_only=False, which would run code
        # from the file, so only the error's type is passed on.
        raise error_type(f"{path} is not {description} ({type(error).__name__}){hint}") from error


def load_checkpoint(path):
    """Return the raw checkpoint dict, on the CPU.

    Raises OSError when the file cannot be opened, and :class:`CheckpointError` when it is not a
    gan_core checkpoint of this format.
    """
    state = read_weights_file(path, CheckpointError, "a checkpoint written by gan_core",
                              "; pass a file from python -m gan_core.train or its --export")
    if isinstance(state, dict) and "state_dict" in state and "format_version" not in state:
        raise CheckpointError(f"{path} contains evaluation-classifier weights, not a generator; pass a checkpoint from "
                              "python -m gan_core.train or gan_core.export (a classifier goes in --classifier)")
    if not isinstance(state, dict) or state.get("format_version") != FORMAT_VERSION:
        found = state.get("format_version") if isinstance(state, dict) else type(state).__name__
        raise CheckpointError(f"{path}: unsupported checkpoint format {found!r}, expected {FORMAT_VERSION}")
    try:
        check_latent_scale(state.get("latent_scale", 1.0))
    except ValueError as error:
        raise CheckpointError(f"{path}: {error}; write the file again with python -m gan_core.export") from error
    return state


def model_config_differences(model_config, state):
    """Return ``{field: (checkpoint value, model_config value)}`` where checkpoint ``state`` was built otherwise."""
    theirs = asdict(config_from_dict(ModelConfig, state["model_config"]))
    return {name: (theirs[name], value) for name, value in asdict(model_config).items() if theirs[name] != value}


def file_digest(path, length=12):
    """Return the first ``length`` hex digits of the file's SHA-256: the weights' identity."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:length]


def load_generator(path, device="cpu"):
    """Return ``(generator, state)`` with the EMA weights, in eval mode, on ``device``.

    Eval mode makes batch norm use its running statistics, so each image depends
    only on its own latent and label, not on the rest of the batch. The generator
    samples at the checkpoint's latent scale (1 for files that do not record one).
    """
    state = load_checkpoint(path)
    generator = build_generator(config_from_dict(ModelConfig, state["model_config"]))
    generator.load_state_dict(state["generator_ema"])
    generator.latent_scale = float(state.get("latent_scale", 1.0))
    generator.to(device).eval()
    for parameter in generator.parameters():
        parameter.requires_grad_(False)
    return generator, state
