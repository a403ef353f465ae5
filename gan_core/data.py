"""MNIST loading, scaled to [-1, 1] to match the generator's tanh output."""

import functools
import logging
import os
from pathlib import Path

import torch

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
# Read-only copy of MNIST beside the repository; override with GAN_DATA_ROOT.
DEFAULT_DATA_ROOT = REPO_ROOT.parent / "shared" / "data"
# Writable folder for torchvision's download when the data root has no copy.
DOWNLOAD_ROOT = REPO_ROOT / "var" / "data"


def default_data_root():
    return os.environ.get("GAN_DATA_ROOT") or str(DEFAULT_DATA_ROOT)


@functools.lru_cache(maxsize=4)
def load_mnist_tensors(root=None, train=True):
    """Return ``(images, labels)``: uint8 ``(N, 28, 28)`` and int64 ``(N,)``.

    Reads torchvision's layout under ``root`` without touching the network. When
    the files are missing there, falls back to torchvision's download into
    ``var/data``, which works only on a machine that is online. Results are cached
    per process, so callers must not modify the returned tensors in place.
    """
    from torchvision.datasets import MNIST

    root = str(root or default_data_root())
    try:
        dataset = MNIST(root, train=train, download=False)
    except RuntimeError as error:
        logger.warning("MNIST not found under %s (%s); downloading to %s", root, error, DOWNLOAD_ROOT)
        try:
            dataset = MNIST(str(DOWNLOAD_ROOT), train=train, download=True)
        except (RuntimeError, OSError) as download_error:
            raise FileNotFoundError(
                f"MNIST is missing under {root!r} and could not be downloaded ({download_error}). "
                "Set GAN_DATA_ROOT (or --data-root) to a folder containing MNIST/raw."
            ) from download_error
    return dataset.data, dataset.targets


def to_model_range(images_uint8):
    """Map uint8 pixels ``(N, 28, 28)`` to float ``(N, 1, 28, 28)`` in [-1, 1]."""
    return images_uint8.unsqueeze(1).float().div(127.5).sub(1.0)


class InMemoryBatches:
    """Shuffled mini-batches of the whole training set held as one tensor.

    MNIST fits in memory (60,000 x 784 floats, about 190 MB), so indexing one
    tensor is far cheaper per step than a DataLoader with per-item transforms.
    """

    def __init__(self, images, labels, batch_size, device, seed=0):
        self.images = to_model_range(images).to(device)  # (N, 1, 28, 28)
        self.labels = labels.to(device)  # (N,)
        self.batch_size = batch_size
        self.generator = torch.Generator().manual_seed(seed)
        self.batches_per_epoch = len(self.labels) // batch_size

    def epoch(self):
        """Yield ``(images, labels)`` batches; the last partial batch is dropped."""
        order = torch.randperm(len(self.labels), generator=self.generator).to(self.labels.device)
        for start in range(0, self.batches_per_epoch * self.batch_size, self.batch_size):
            index = order[start : start + self.batch_size]
            yield self.images[index], self.labels[index]
