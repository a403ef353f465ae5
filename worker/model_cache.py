"""One generator per worker process, loaded on first use and kept for every later task.

Nothing here runs in Celery's parent process: the prefork pool forks before any
task, and CUDA must not be initialised before a fork.
"""

import logging
import os
import threading
from pathlib import Path

import torch
from django.conf import settings

from gan_core.checkpoint import file_digest, load_generator
from gan_core.training import resolve_device

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_loaded = {}  # checkpoint path -> LoadedModel


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


def get_model(path=None) -> LoadedModel:
    path = str(path or settings.GAN["MODEL_PATH"])
    with _lock:
        if path not in _loaded:
            if not os.path.exists(path):
                raise ModelUnavailableError(
                    f"model checkpoint {path} not found; set GAN_MODEL_PATH or train one with python -m gan_core.train"
                )
            device = resolve_device(settings.GAN["DEVICE"])
            generator, _ = load_generator(path, device)
            _loaded[path] = LoadedModel(generator, model_version_for(path), device)
            logger.info("loaded model %s on %s in process %d", _loaded[path].version, device, os.getpid())
        return _loaded[path]


def set_thread_count(pool_processes):
    """Give each pool process an equal share of the cores, so processes do not oversubscribe them."""
    threads = max(1, (os.cpu_count() or 1) // max(1, pool_processes))
    torch.set_num_threads(threads)
    return threads
