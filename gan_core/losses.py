"""WGAN-GP objectives (Gulrajani et al., 2017, "Improved Training of Wasserstein GANs")."""

import torch


def gradient_penalty(critic, real, fake, labels, generator=None):
    """Return the mean of ``(||grad critic(x_hat, y)||_2 - 1)^2`` over the batch.

    ``x_hat`` mixes each real image with the fake image of the same index, using one
    factor per sample of shape ``(B, 1, 1, 1)``. Both are scored with the same ``labels``.
    The norm is taken over each whole image. ``create_graph=True`` keeps the penalty
    differentiable with respect to the critic's weights.
    """
    assert real.shape == fake.shape, f"real {tuple(real.shape)} and fake {tuple(fake.shape)} differ"
    alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype, generator=generator)
    mixed = (alpha * real + (1 - alpha) * fake.detach()).requires_grad_(True)
    scores = critic(mixed, labels)
    (gradients,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
    return penalty_from_gradients(gradients)


def penalty_from_gradients(gradients):
    """Return ``mean((||g_i||_2 - 1)^2)`` where ``g_i`` is the flattened gradient of sample i."""
    norms = gradients.flatten(start_dim=1).norm(2, dim=1)  # (B,)
    return ((norms - 1) ** 2).mean()


def critic_loss(real_scores, fake_scores):
    """Return the critic's WGAN loss, ``E[D(fake)] - E[D(real)]``, which it minimises."""
    return fake_scores.mean() - real_scores.mean()


def generator_loss(fake_scores):
    """Return the generator's WGAN loss, ``-E[D(G(z, y), y)]``."""
    return -fake_scores.mean()
