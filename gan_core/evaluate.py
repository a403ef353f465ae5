"""Measure a generator checkpoint with the evaluation classifier.

``python -m gan_core.evaluate CHECKPOINT`` generates ``--per-digit`` images of each
digit from fixed seeds and prints:

- agreement: how often the classifier predicts the requested digit, overall and per digit;
- diversity ratio per digit: the mean pairwise distance between same-digit samples in
  the classifier's feature space, over the same figure for real test images of that
  digit (1.0: as varied as real digits; near 0: collapse);
- Fréchet distance in that feature space against the MNIST test set, beside the
  distance of as many real training images (the floor a perfect generator would reach).
"""

import argparse
import json
import logging
import math
import sys
from pathlib import Path

import torch

from .cli import check_input_file, check_output_file, latent_scale_argument, load_generator_or_exit
from .classifier import ClassifierFileError, load_classifier
from .data import check_dataset, load_dataset_tensors, to_model_range
from .metrics import frechet_distance, kernel_inception_distance, memorization_ratio, precision_recall
from .sampling import generate

WEIGHTS = Path(__file__).resolve().parent / "weights"
DEFAULT_CLASSIFIER = WEIGHTS / "mnist_classifier.pt"


def default_classifier(dataset):
    """Return the shipped evaluation classifier of ``dataset``: ``weights/<dataset>_classifier.pt``."""
    return WEIGHTS / f"{check_dataset(dataset).replace('-', '_')}_classifier.pt"
# Seeds of the evaluation samples start here, away from the small seeds that demos and tests use.
EVALUATION_SEED = 1_000_000
# The command's bound on --per-digit: 10,000 per digit already puts 100,000 images in memory.
MAX_PER_DIGIT = 10_000


def quantize(images):
    """Round images to the 256 levels a PNG stores, so the scores are those of served images."""
    return torch.round((images.clamp(-1, 1) + 1) * 127.5) / 127.5 - 1


def mean_pairwise_distance(features):
    return torch.pdist(features).mean().item()


_reference_cache = {}


@torch.no_grad()
def reference_features(classifier, data_root, floor_count, dataset="mnist"):
    """Return test labels, test-set features and the features of ``floor_count`` random training images.

    Cached per classifier in the process, because a training run scores every checkpoint.
    The floor uses as many training images as there are samples, because the Fréchet
    distance's bias depends on the sample count.
    """
    key = (id(classifier), data_root, floor_count, dataset)
    if key not in _reference_cache:
        test_images, test_labels = load_dataset_tensors(dataset, data_root, train=False)
        train_images, _ = load_dataset_tensors(dataset, data_root, train=True)
        floor_index = torch.randperm(len(train_images), generator=torch.Generator().manual_seed(0))[:floor_count]
        _reference_cache[key] = (
            test_labels,
            torch.cat([classifier.features(chunk) for chunk in to_model_range(test_images).split(1000)]),
            classifier.features(to_model_range(train_images[floor_index])),
        )
    return _reference_cache[key]


@torch.no_grad()
def evaluate(generator, classifier, *, per_digit=100, data_root=None, batch_size=500, extended=False, dataset="mnist"):
    """Return a dict of metrics; see the module docstring."""
    num_classes = generator.config.num_classes
    digits = [digit for digit in range(num_classes) for _ in range(per_digit)]
    seeds = [EVALUATION_SEED + index for index in range(len(digits))]
    images = torch.cat([
        quantize(generate(generator, digits[start : start + batch_size], seeds[start : start + batch_size]))
        for start in range(0, len(digits), batch_size)
    ])
    labels = torch.tensor(digits)
    predictions = classifier(images).argmax(dim=1)
    features = classifier.features(images)

    real_labels, real_features, floor_features = reference_features(classifier, data_root, len(digits), dataset)
    per_class = {}
    for digit in range(num_classes):
        mask = labels == digit
        real_mask = real_labels == digit
        real_spread = mean_pairwise_distance(real_features[real_mask][:per_digit])
        per_class[digit] = {
            "agreement": (predictions[mask] == digit).float().mean().item(),
            "diversity_ratio": mean_pairwise_distance(features[mask]) / real_spread,
        }
    metrics = {
        "samples": len(digits),
        "agreement": (predictions == labels).float().mean().item(),
        "per_digit": per_class,
        "min_diversity_ratio": min(entry["diversity_ratio"] for entry in per_class.values()),
        "frechet_distance": frechet_distance(features, real_features),
        "frechet_distance_floor": frechet_distance(floor_features, real_features),
    }
    if extended:
        metrics.update(extended_metrics(images, features, real_features, floor_features, data_root, dataset=dataset))
    return metrics


def extended_metrics(images, features, real_features, floor_features, data_root, subset=2000, dataset="mnist"):
    """KID, precision and recall in feature space, and the memorization check in pixel space."""
    kid, kid_std = kernel_inception_distance(features, real_features)
    kid_floor, _ = kernel_inception_distance(floor_features, real_features)
    precision, recall = precision_recall(real_features, features)
    # What real training digits score against the test set: the most a generator can expect.
    precision_floor, recall_floor = precision_recall(real_features, floor_features)
    train_images, _ = load_dataset_tensors(dataset, data_root, train=True)
    test_images, _ = load_dataset_tensors(dataset, data_root, train=False)
    choose = torch.randperm(len(images), generator=torch.Generator().manual_seed(1))[:subset]
    choose_test = torch.randperm(len(test_images), generator=torch.Generator().manual_seed(2))[:subset]
    ratio, copied = memorization_ratio(images[choose].flatten(1), to_model_range(train_images).flatten(1),
                                       to_model_range(test_images[choose_test]).flatten(1))
    return {"kid": kid, "kid_std": kid_std, "kid_floor": kid_floor, "precision": precision, "recall": recall,
            "precision_floor": precision_floor, "recall_floor": recall_floor,
            "memorization_distance_ratio": ratio, "memorization_close_share": copied}


def train_on_generated(generator, *, per_digit=6000, epochs=2, data_root=None, dataset="mnist"):
    """Train a fresh classifier on generated digits only and return its accuracy on the real test set."""
    from .classifier import fit_classifier

    num_classes = generator.config.num_classes
    digits = [digit for digit in range(num_classes) for _ in range(per_digit)]
    seeds = [EVALUATION_SEED + 10_000_000 + index for index in range(len(digits))]
    images = torch.cat([generate(generator, digits[start : start + 1000], seeds[start : start + 1000])
                        for start in range(0, len(digits), 1000)])
    images_uint8 = torch.round((images.clamp(-1, 1) + 1) * 127.5).to(torch.uint8).squeeze(1)
    _, accuracy = fit_classifier(images_uint8, torch.tensor(digits), data_root=data_root, dataset=dataset, epochs=epochs)
    return accuracy


def format_table(metrics):
    lines = [
        f"samples {metrics['samples']}  agreement {metrics['agreement']:.4f}"
        + (f"  latent scale {metrics['latent_scale']:g}" if "latent_scale" in metrics else ""),
        f"Frechet distance {metrics['frechet_distance']:.3f} (real training images: {metrics['frechet_distance_floor']:.3f})",
        "digit  agreement  diversity",
    ]
    extras = [(key, metrics[key]) for key in ("kid", "kid_floor", "precision", "recall", "precision_floor", "recall_floor",
                                               "memorization_distance_ratio",
                                               "memorization_close_share", "train_on_generated_accuracy")
              if key in metrics]
    for digit, entry in metrics["per_digit"].items():
        lines.append(f"{digit:>5}  {entry['agreement']:>9.4f}  {entry['diversity_ratio']:>9.3f}")
    lines += [f"{key} {value:.4f}" for key, value in extras]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m gan_core.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path, help="a checkpoint from gan_core.train (full or exported)")
    parser.add_argument("--classifier", type=Path, default=None,
                        help="evaluation classifier weights (default: the shipped one of the checkpoint's dataset)")
    parser.add_argument("--per-digit", type=int, default=100, help=f"samples per digit, 2-{MAX_PER_DIGIT:,} (default 100)")
    parser.add_argument("--data-root", default=None,
                        help="folder holding MNIST/raw, or Fashion-MNIST's *-ubyte.gz files (default: see gan_core.data)")
    parser.add_argument("--json", type=Path, default=None, help="also write the metrics as JSON here")
    parser.add_argument("--extended", action="store_true",
                        help="also compute KID, precision/recall and the memorization check")
    parser.add_argument("--latent-scale", type=latent_scale_argument, default=None, metavar="SCALE",
                        help="sample at this latent scale instead of the checkpoint's, to choose one for "
                             "python -m gan_core.export")
    parser.add_argument("--togr-epochs", type=int, default=0,
                        help="train a classifier on 60,000 generated digits for this many epochs and score it on "
                             "the real test set (0: skip; it takes minutes on a CPU)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    check_arguments(parser, args)
    generator, state = load_generator_or_exit(args.checkpoint, args.latent_scale)
    # The checkpoint names the dataset it was trained on; older ones are MNIST.
    dataset = state.get("train_config", {}).get("dataset", "mnist")
    classifier_path = args.classifier or default_classifier(dataset)
    try:
        classifier = load_classifier(classifier_path)
    except (OSError, ClassifierFileError) as error:
        raise SystemExit(f"--classifier: {error}") from error
    try:
        metrics = evaluate(generator, classifier, per_digit=args.per_digit, data_root=args.data_root,
                           extended=args.extended, dataset=dataset)
        metrics["dataset"] = dataset
        metrics["latent_scale"] = generator.latent_scale
        if args.togr_epochs:
            metrics["train_on_generated_accuracy"] = train_on_generated(generator, epochs=args.togr_epochs,
                                                                        data_root=args.data_root, dataset=dataset)
    except FileNotFoundError as error:  # the real images are missing and could not be downloaded
        raise SystemExit(str(error)) from error
    print(format_table(metrics))
    if args.json:
        # NaN is not JSON, so a figure that could not be computed is written as null.
        args.json.write_text(json.dumps(finite_or_none(metrics), indent=2))
    return 0


def check_arguments(parser, args):
    """Exit through ``parser.error`` on the first argument that cannot work, before any slow step."""
    if not 2 <= args.per_digit <= MAX_PER_DIGIT:  # the diversity ratio needs two samples of a digit
        parser.error(f"--per-digit must be between 2 and {MAX_PER_DIGIT:,}, got {args.per_digit}")
    if args.togr_epochs < 0:
        parser.error(f"--togr-epochs must be 0 (skip) or a number of epochs, got {args.togr_epochs}")
    check_input_file(parser, args.checkpoint, "CHECKPOINT", "pass a checkpoint from python -m gan_core.train")
    if args.classifier is not None:
        check_input_file(parser, args.classifier, "--classifier",
                         "pass weights from python -m gan_core.classifier, or leave it out for the shipped one")
    if args.json is not None:
        check_output_file(parser, args.json, "--json", {"CHECKPOINT": args.checkpoint, "--classifier": args.classifier},
                          suffix=".json")


def finite_or_none(value):
    """Return ``value`` with every NaN or infinite float, at any depth, replaced by None."""
    if isinstance(value, dict):
        return {key: finite_or_none(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


if __name__ == "__main__":
    sys.exit(main())
