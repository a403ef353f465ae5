"""One generator per worker process, loaded on first use and kept for every later task.

Nothing here runs in Celery's parent process: the prefork pool forks before any
task, and CUDA must not be initialised before a fork.
"""

import logging
import os
import threading
from collections import OrderedDict
from pathlib import Path

import torch
from django.conf import settings

from gan_core.checkpoint import CheckpointError, file_digest, load_generator
from gan_core.training import resolve_device

logger = logging.getLogger(__name__)

_lock = threading.Lock()
# checkpoint path -> LoadedModel, least recently used first
_loaded = OrderedDict()
# Generators kept per process: the active version and the ones jobs in flight may still use.
MAX_LOADED = 3


class ModelUnavailableError(Exception):
    """The configured checkpoint is missing or unreadable."""


class LoadedModel:
    def __init__(self, generator, version, device):
        self.generator = generator
        self.version = version
        self.device = device


def model_version_for(path):
    """Return ``<file stem>-<sha256 prefix>``: the same weights always get the same version."""
    return f"{Path(path).stem}-{file_digest(path)}"


def get_model(path=None, version=None) -> LoadedModel:
    """Return the generator at ``path`` (default: ``GAN["MODEL_PATH"]``), loading it on first use."""
    path = str(path or settings.GAN["MODEL_PATH"])
    with _lock:
        if path in _loaded:
            _loaded.move_to_end(path)
            return _loaded[path]
        if not os.path.exists(path):
            raise ModelUnavailableError(
                f"model checkpoint {path} not found; set GAN_MODEL_PATH or train one with python -m gan_core.train"
            )
        device = resolve_device(settings.GAN["DEVICE"])
        try:
            generator, _ = load_generator(path, device)
        except (OSError, CheckpointError) as error:
            raise ModelUnavailableError(f"model checkpoint {path} could not be loaded: {error}") from error
        _loaded[path] = LoadedModel(generator, version or model_version_for(path), device)
        logger.info("loaded model %s on %s in process %d", _loaded[path].version, device, os.getpid())
        while len(_loaded) > MAX_LOADED:
            _loaded.popitem(last=False)
        return _loaded[path]


def set_thread_count(pool_processes):
    """Set torch's threads: ``GAN["TORCH_THREADS"]``, or a share of half the cores per pool process.

    The other half is left to the web server and Redis on the same machine. Oversubscribed
    cores are far worse than idle ones for torch: its threads wait for each other at every
    layer, and one descheduled thread stalls the rest (docs/benchmarks.md has a measurement).
    """
    threads = settings.GAN["TORCH_THREADS"] or max(1, (os.cpu_count() or 1) // (2 * max(1, pool_processes)))
    torch.set_num_threads(threads)
    return threads
