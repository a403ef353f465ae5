"""The quality metrics on inputs with a known result: real digits, blurred digits, copies and a label-blind model."""

import pytest
import torch
import torch.nn.functional as F

from gan_core.classifier import load_classifier
from gan_core.config import ModelConfig
from gan_core.data import load_mnist_tensors, to_model_range
from gan_core.evaluate import DEFAULT_CLASSIFIER, evaluate
from gan_core.metrics import frechet_distance, kernel_inception_distance, memorization_ratio, precision_recall


@pytest.fixture(scope="module")
def classifier():
    return load_classifier(DEFAULT_CLASSIFIER)


@pytest.fixture(scope="module")
def real():
    """Features of 2,000 real test digits and of 2,000 other real test digits, plus those images."""
    images, _ = load_mnist_tensors(None, train=False)
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
    first, second = to_model_range(images[order[:2000]]), to_model_range(images[order[2000:4000]])
    return first, second


def features(classifier, images):
    with torch.no_grad():
        return classifier.features(images)


def blur(images):
    kernel = torch.ones(1, 1, 5, 5) / 25
    return F.conv2d(images, kernel, padding=2)


def test_real_digits_score_near_floor(classifier, real):
    first, second = (features(classifier, images) for images in real)
    train, _ = load_mnist_tensors(None, train=True)
    floor_images = to_model_range(train[torch.randperm(len(train), generator=torch.Generator().manual_seed(3))[:2000]])
    # The floor: as many real training digits, scored against the same reference.
    floor = frechet_distance(features(classifier, floor_images), second)
    precision, recall = precision_recall(first, second)
    assert frechet_distance(first, second) < 1.5 * floor
    assert precision > 0.7
    assert recall > 0.7


def test_blurred_digits_score_far_worse(classifier, real):
    first, second = real
    sharp, reference = features(classifier, first), features(classifier, second)
    blurred = features(classifier, blur(first))
    assert frechet_distance(blurred, reference) > 10 * frechet_distance(sharp, reference)
    # KID is unbiased, so two real sets score near 0 (within its noise of about 1 here).
    assert kernel_inception_distance(blurred, reference, subsets=5)[0] > 10 * max(
        abs(kernel_inception_distance(sharp, reference, subsets=5)[0]), 1.0)


def test_copied_training_images_flag_memorization():
    train, _ = load_mnist_tensors(None, train=True)
    test, _ = load_mnist_tensors(None, train=False)
    train = to_model_range(train[:5000]).flatten(1)
    test = to_model_range(test[:500]).flatten(1)
    copied_ratio, copied_share = memorization_ratio(train[:500], train, test)
    fresh_ratio, fresh_share = memorization_ratio(test, train, to_model_range(load_mnist_tensors(None, False)[0][500:1000]).flatten(1))
    assert copied_ratio == pytest.approx(0.0, abs=0.01)
    assert copied_share == pytest.approx(1.0)
    assert 0.8 < fresh_ratio < 1.25
    assert fresh_share < 0.05


class LabelBlindGenerator(torch.nn.Module):
    """Returns the same real digit 0 whatever label it is asked for."""

    def __init__(self):
        super().__init__()
        self.config = ModelConfig()
        images, labels = load_mnist_tensors(None, train=False)
        self.register_buffer("zero", to_model_range(images[labels == 0][:1]))
        self.unused = torch.nn.Parameter(torch.zeros(1))  # gives the model a device, as real generators have

    def forward(self, latent, labels):
        return self.zero.expand(len(labels), -1, -1, -1)


def test_label_blind_model_fails_agreement(classifier):
    metrics = evaluate(LabelBlindGenerator(), classifier, per_digit=20)
    assert metrics["per_digit"][0]["agreement"] == pytest.approx(1.0)
    assert metrics["agreement"] == pytest.approx(0.1)
    assert metrics["min_diversity_ratio"] < 0.01


def test_extended_metrics_report_what_real_digits_score(classifier):
    """Precision and recall come with the same figures for real training digits, which a copy of one digit misses."""
    metrics = evaluate(LabelBlindGenerator(), classifier, per_digit=50, extended=True)
    assert metrics["precision_floor"] > 0.8
    assert metrics["recall_floor"] > 0.3
    assert metrics["recall"] < 0.01
