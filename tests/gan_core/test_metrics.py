import pytest
import torch

from gan_core.metrics import frechet_distance


def test_identical_sets_have_zero_distance():
    features = torch.randn(500, 8, generator=torch.Generator().manual_seed(0))
    assert frechet_distance(features, features) == pytest.approx(0.0, abs=1e-6)


def test_shifted_mean_adds_squared_shift():
    features = torch.randn(2000, 4, generator=torch.Generator().manual_seed(1))
    shift = torch.tensor([3.0, 0.0, 0.0, 4.0])
    assert frechet_distance(features, features + shift) == pytest.approx(25.0, rel=1e-6)


def test_scaled_gaussians_match_closed_form():
    """For N(0, I) against N(0, s^2 I) in d dimensions the distance is d (1 - s)^2."""
    generator = torch.Generator().manual_seed(2)
    a = torch.randn(200_000, 3, generator=generator)
    b = 2.0 * torch.randn(200_000, 3, generator=generator)
    assert frechet_distance(a, b) == pytest.approx(3.0, rel=0.05)
