"""Dataset loading: the IDX reader, dataset names, and Fashion-MNIST from Debian's dataset-fashion-mnist files."""

import gzip
from pathlib import Path

import pytest
import torch

from gan_core.checkpoint import load_checkpoint
from gan_core.classifier import accuracy_on_test_set, load_classifier
from gan_core.config import ModelConfig, TrainConfig
from gan_core.data import DEBIAN_FASHION_MNIST, check_dataset, load_dataset_tensors, read_idx_gz
from gan_core.evaluate import default_classifier
from gan_core.training import train

TINY_MODEL = ModelConfig(latent_dim=16, generator_width=8, critic_width=8)

# The tests below pass this folder explicitly, so GAN_FASHION_MNIST_ROOT cannot redirect them
# and a missing folder skips them instead of starting torchvision's download.
FASHION_ROOT = DEBIAN_FASHION_MNIST
needs_fashion_mnist = pytest.mark.skipif(
    not Path(FASHION_ROOT).is_dir(),
    reason=f"Fashion-MNIST not installed in {FASHION_ROOT} (apt install dataset-fashion-mnist)",
)


def write_idx_gz(path, magic_type, shape, payload):
    """Write a gzipped IDX file: two zero bytes, the type byte, the rank, big-endian sizes, then the data."""
    header = bytes([0, 0, magic_type, len(shape)]) + b"".join(size.to_bytes(4, "big") for size in shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + bytes(payload))


def test_read_idx_gz_images(tmp_path):
    path = tmp_path / "images-idx3-ubyte.gz"
    write_idx_gz(path, 0x08, (2, 3, 4), range(24))

    images = read_idx_gz(path)

    assert images.shape == (2, 3, 4)
    assert images.dtype == torch.uint8
    assert torch.equal(images, torch.arange(24, dtype=torch.uint8).reshape(2, 3, 4))


def test_read_idx_gz_labels(tmp_path):
    path = tmp_path / "labels-idx1-ubyte.gz"
    write_idx_gz(path, 0x08, (5,), [9, 0, 255, 3, 7])

    labels = read_idx_gz(path)

    assert labels.shape == (5,)
    assert labels.tolist() == [9, 0, 255, 3, 7]


def test_read_idx_gz_rejects_non_byte_type(tmp_path):
    path = tmp_path / "floats-idx1-ubyte.gz"
    write_idx_gz(path, 0x0D, (1,), [0, 0, 0, 0])  # 0x0D: 32-bit floats
    with pytest.raises(AssertionError, match="expected unsigned bytes"):
        read_idx_gz(path)


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_check_dataset_accepts_known_names(name):
    assert check_dataset(name) == name


@pytest.mark.parametrize("name", ["cifar10", "fashion_mnist", "MNIST", ""])
def test_check_dataset_rejects_unknown_name(name):
    with pytest.raises(ValueError, match="choose one of mnist, fashion-mnist") as raised:
        check_dataset(name)
    assert repr(name) in str(raised.value)


def test_load_dataset_tensors_rejects_unknown_name():
    with pytest.raises(ValueError, match="unknown dataset 'cifar10'; choose one of mnist, fashion-mnist"):
        load_dataset_tensors("cifar10")


def test_train_config_rejects_unknown_dataset():
    with pytest.raises(ValueError, match="choose one of mnist, fashion-mnist"):
        TrainConfig(dataset="cifar10")


@needs_fashion_mnist
@pytest.mark.parametrize("train_split, count", [(True, 60_000), (False, 10_000)])
def test_fashion_mnist_split_shapes(train_split, count):
    images, labels = load_dataset_tensors("fashion-mnist", FASHION_ROOT, train=train_split)

    assert images.shape == (count, 28, 28)
    assert images.dtype == torch.uint8
    assert labels.shape == (count,)
    assert labels.dtype == torch.int64
    assert labels.min().item() == 0
    assert labels.max().item() == 9


@needs_fashion_mnist
def test_fashion_mnist_test_set_is_balanced():
    _, labels = load_dataset_tensors("fashion-mnist", FASHION_ROOT, train=False)
    assert torch.bincount(labels, minlength=10).tolist() == [1000] * 10


@needs_fashion_mnist
def test_fashion_mnist_training_records_dataset(tmp_path):
    config = TrainConfig(dataset="fashion-mnist", data_root=FASHION_ROOT, max_steps=2, batch_size=8, n_critic=2,
                         log_every=1, checkpoint_every=2, device="cpu")

    result = train(TINY_MODEL, config, tmp_path, progress=False)

    assert (result.status, result.step) == ("finished", 2)
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert state["step"] == 2
    assert state["train_config"]["dataset"] == "fashion-mnist"


@needs_fashion_mnist
def test_shipped_fashion_classifier_accuracy():
    path = default_classifier("fashion-mnist")
    if not path.exists():
        pytest.skip(f"{path} not found; train it with python -m gan_core.classifier --dataset fashion-mnist")

    accuracy = accuracy_on_test_set(load_classifier(path), FASHION_ROOT, dataset="fashion-mnist")

    assert accuracy >= 0.91
