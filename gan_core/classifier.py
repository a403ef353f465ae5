"""The evaluation classifier: a small CNN trained on one real dataset only, never used in GAN training.

It judges generated digits: how often it agrees with the requested class, and (through
``features``) where samples sit relative to real images. It takes images in [-1, 1],
the same scale as the generator's output and as its own training data.

Train it with ``python -m gan_core.classifier --out gan_core/weights/mnist_classifier.pt``
(add ``--dataset fashion-mnist`` for Fashion-MNIST's).
"""

import argparse
import logging
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .checkpoint import read_weights_file
from .cli import check_output_file
from .data import DATASETS, InMemoryBatches, load_dataset_tensors, to_model_range

logger = logging.getLogger(__name__)


class Classifier(nn.Module):
    """Maps images ``(B, 1, 28, 28)`` in [-1, 1] to class logits ``(B, 10)``."""

    feature_dim = 128

    def __init__(self, num_classes=10):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(2),  # (B, 32, 14, 14)
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(2),  # (B, 64, 7, 7)
            nn.Flatten(),
            nn.Dropout(0.3),
            nn.Linear(64 * 7 * 7, self.feature_dim), nn.ReLU(inplace=True),  # (B, 128): the feature space
        )
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(self.feature_dim, num_classes))

    def features(self, images):
        return self.body(images)

    def forward(self, images):
        return self.head(self.body(images))


@torch.no_grad()
def predict(classifier, images, batch_size=1000):
    """Return predicted classes ``(N,)`` for images ``(N, 1, 28, 28)`` in [-1, 1]."""
    device = next(classifier.parameters()).device
    return torch.cat([classifier(chunk.to(device)).argmax(dim=1).cpu() for chunk in images.split(batch_size)])


@torch.no_grad()
def accuracy_on_test_set(classifier, data_root=None, dataset="mnist"):
    images, labels = load_dataset_tensors(dataset, data_root, train=False)
    return (predict(classifier, to_model_range(images)) == labels).float().mean().item()


def shift_augment(images, max_shift=2):
    """Shift each batch by up to ``max_shift`` pixels, so the classifier does not rely on exact centring."""
    dx, dy = torch.randint(-max_shift, max_shift + 1, (2,)).tolist()
    return torch.roll(images, shifts=(dy, dx), dims=(2, 3))


def fit_classifier(images, labels, *, data_root=None, dataset="mnist", epochs=4, batch_size=128, lr=1e-3, seed=0):
    """Train a fresh classifier on uint8 images ``(N, 28, 28)``; return it (eval mode) and its real test accuracy."""
    torch.manual_seed(seed)
    batches = InMemoryBatches(images, labels, batch_size, "cpu", seed=seed)
    classifier = Classifier()
    optimizer = torch.optim.Adam(classifier.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * batches.batches_per_epoch)
    for epoch in range(epochs):
        classifier.train()
        start, total_loss = time.perf_counter(), 0.0
        for real, target in batches.epoch():
            loss = F.cross_entropy(classifier(shift_augment(real)), target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total_loss += loss.item()
        classifier.eval()
        accuracy = accuracy_on_test_set(classifier, data_root, dataset)
        logger.info("epoch %d/%d loss %.4f test accuracy %.4f (%.0fs)", epoch + 1, epochs,
                    total_loss / batches.batches_per_epoch, accuracy, time.perf_counter() - start)
    return classifier, accuracy


def train_classifier(out_path, *, data_root=None, dataset="mnist", epochs=4, batch_size=128, lr=1e-3, seed=0):
    """Train on the dataset's 60,000 training images, save to ``out_path``, return test accuracy."""
    images, labels = load_dataset_tensors(dataset, data_root, train=True)
    classifier, accuracy = fit_classifier(images, labels, data_root=data_root, dataset=dataset, epochs=epochs,
                                          batch_size=batch_size, lr=lr, seed=seed)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": classifier.state_dict(), "test_accuracy": accuracy, "epochs": epochs,
                "dataset": dataset}, out_path)
    return accuracy


class ClassifierFileError(ValueError):
    """A file is not evaluation-classifier weights written by ``python -m gan_core.classifier``."""


def load_classifier(path, device="cpu"):
    """Return the classifier saved at ``path``, in eval mode.

    Raises OSError when the file cannot be opened, and :class:`ClassifierFileError` when it
    contains something else.
    """
    state = read_weights_file(path, ClassifierFileError, "a classifier written by python -m gan_core.classifier")
    if not isinstance(state, dict) or "state_dict" not in state:
        raise ClassifierFileError(f"{path} is not a classifier written by python -m gan_core.classifier "
                                  "(no state_dict in it; a generator checkpoint goes in CHECKPOINT)")
    classifier = Classifier()
    try:
        classifier.load_state_dict(state["state_dict"])
    except (RuntimeError, TypeError, AttributeError) as error:
        raise ClassifierFileError(f"{path}: its weights do not fit the evaluation classifier "
                                  f"({type(error).__name__}); train one with python -m gan_core.classifier") from error
    return classifier.to(device).eval()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m gan_core.classifier", description="Train the evaluation classifier.")
    parser.add_argument("--out", type=Path, required=True, help="where to write the classifier weights")
    parser.add_argument("--dataset", default="mnist", choices=DATASETS, help="the real dataset to learn (default mnist)")
    parser.add_argument("--data-root", default=None,
                        help="folder holding MNIST/raw, or Fashion-MNIST's *-ubyte.gz files (default: see gan_core.data)")
    parser.add_argument("--epochs", type=int, default=4, help="passes over the training images (default 4)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error(f"--epochs must be at least 1, got {args.epochs}")
    if args.threads < 0:
        parser.error(f"--threads must be 0 (torch's default) or a number of threads, got {args.threads}")
    check_output_file(parser, args.out, "--out")
    if args.threads:
        torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        accuracy = train_classifier(args.out, data_root=args.data_root, dataset=args.dataset, epochs=args.epochs)
    except FileNotFoundError as error:  # the real images are missing and could not be downloaded
        raise SystemExit(str(error)) from error
    print(f"test accuracy {accuracy:.4f}; saved {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
