import pytest
import torch

from gan_core.losses import critic_loss, generator_loss, gradient_penalty, penalty_from_gradients


def linear_critic(images, labels):
    """A critic whose gradient with respect to every pixel is exactly 1."""
    return images.sum(dim=(1, 2, 3))


def test_penalty_of_all_ones_gradient():
    gradients = torch.ones(4, 1, 28, 28)
    norms = gradients.flatten(1).norm(2, dim=1)
    assert torch.allclose(norms, torch.full((4,), 28.0))
    assert penalty_from_gradients(gradients).item() == pytest.approx(729.0)


def test_gradient_penalty_with_linear_critic():
    real, fake = torch.randn(4, 1, 28, 28), torch.randn(4, 1, 28, 28)
    labels = torch.zeros(4, dtype=torch.long)
    assert gradient_penalty(linear_critic, real, fake, labels).item() == pytest.approx(729.0)


def test_gradient_penalty_of_unit_norm_gradient_is_zero():
    def unit_critic(images, labels):
        return images[:, 0, 0, 0]

    real, fake = torch.randn(3, 1, 28, 28), torch.randn(3, 1, 28, 28)
    assert gradient_penalty(unit_critic, real, fake, torch.zeros(3, dtype=torch.long)).item() == pytest.approx(0.0)


def test_interpolation_factor_is_one_per_sample():
    """Mixed images must lie on the segment between each real and fake pair, with one factor per image."""
    seen = {}

    def recording_critic(images, labels):
        seen["mixed"], seen["labels"] = images.detach().clone(), labels
        return images.sum(dim=(1, 2, 3))

    real, fake = torch.zeros(5, 1, 28, 28), torch.ones(5, 1, 28, 28)
    labels = torch.arange(5)
    gradient_penalty(recording_critic, real, fake, labels)
    mixed = seen["mixed"]
    # With real = 0 and fake = 1, every pixel equals 1 - alpha of its sample.
    per_sample = mixed.flatten(1)
    assert torch.allclose(per_sample, per_sample[:, :1].expand_as(per_sample))
    assert not torch.allclose(per_sample[0, 0], per_sample[1:, 0])
    assert torch.equal(seen["labels"], labels)


def test_gradient_penalty_is_differentiable_in_critic_weights():
    critic = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 1))

    def scored(images, labels):
        return critic(images).squeeze(1) ** 2

    penalty = gradient_penalty(scored, torch.randn(2, 1, 28, 28), torch.randn(2, 1, 28, 28), torch.zeros(2, dtype=torch.long))
    penalty.backward()
    assert critic[1].weight.grad is not None
    assert critic[1].weight.grad.abs().sum() > 0


def test_wasserstein_losses_signs():
    real, fake = torch.tensor([2.0, 4.0]), torch.tensor([1.0, -1.0])
    assert critic_loss(real, fake).item() == pytest.approx(-3.0)
    assert generator_loss(fake).item() == pytest.approx(0.0)
