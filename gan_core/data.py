"""MNIST and Fashion-MNIST loading, scaled to [-1, 1] to match the generator's tanh output."""

import functools
import gzip
import logging
import os
from pathlib import Path

import numpy as np
import torch

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
# Read-only copy of MNIST beside the repository; override with GAN_DATA_ROOT.
DEFAULT_DATA_ROOT = REPO_ROOT.parent / "shared" / "data"
# Writable folder for torchvision's download when the data root has no copy.
DOWNLOAD_ROOT = REPO_ROOT / "var" / "data"


# Folder of the four gzipped IDX files that Debian's dataset-fashion-mnist package installs.
DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"

DATASETS = ("mnist", "fashion-mnist")
# Class names by label; MNIST's are the digits themselves.
CLASS_NAMES = {
    "mnist": [str(digit) for digit in range(10)],
    "fashion-mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
}


def default_data_root():
    return os.environ.get("GAN_DATA_ROOT") or str(DEFAULT_DATA_ROOT)


def check_dataset(name):
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return name


def load_dataset_tensors(dataset="mnist", root=None, train=True):
    """Return ``(images, labels)`` of ``dataset``: uint8 ``(N, 28, 28)`` and int64 ``(N,)``.

    ``root`` overrides where the files are looked for; see the two loaders.
    """
    if check_dataset(dataset) == "fashion-mnist":
        return load_fashion_mnist_tensors(root, train)
    return load_mnist_tensors(root, train)


def read_idx_gz(path):
    """Read a gzipped IDX file (the MNIST file format) into a tensor."""
    with gzip.open(path, "rb") as handle:
        data = handle.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * axis : 8 + 4 * axis], "big") for axis in range(dims)]
    assert data[2] == 0x08, f"{path}: expected unsigned bytes (type 0x08), got {data[2]:#x}"
    return torch.from_numpy(np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape).copy())


@functools.lru_cache(maxsize=4)
def load_fashion_mnist_tensors(root=None, train=True):
    """Return Fashion-MNIST as ``(images, labels)``, like :func:`load_mnist_tensors`.

    Reads the gzipped IDX files in ``root``, else in ``GAN_FASHION_MNIST_ROOT``, else
    in Debian's ``/usr/share/datasets/fashion-mnist`` (``apt install dataset-fashion-mnist``).
    Without them, falls back to torchvision's download into ``var/data``, online only.
    """
    folder = Path(root or os.environ.get("GAN_FASHION_MNIST_ROOT") or DEBIAN_FASHION_MNIST)
    prefix = "train" if train else "t10k"
    images_path, labels_path = folder / f"{prefix}-images-idx3-ubyte.gz", folder / f"{prefix}-labels-idx1-ubyte.gz"
    if images_path.exists() and labels_path.exists():
        return read_idx_gz(images_path), read_idx_gz(labels_path).long()
    from torchvision.datasets import FashionMNIST

    logger.warning("Fashion-MNIST not found in %s; downloading to %s", folder, DOWNLOAD_ROOT)
    try:
        dataset = FashionMNIST(str(DOWNLOAD_ROOT), train=train, download=True)
    except (RuntimeError, OSError) as error:
        raise FileNotFoundError(
            f"Fashion-MNIST is missing in {str(folder)!r} and could not be downloaded ({error}). "
            "Install it with 'apt install dataset-fashion-mnist' or set GAN_FASHION_MNIST_ROOT "
            "to a folder with the four *-ubyte.gz files."
        ) from error
    return dataset.data, dataset.targets


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
