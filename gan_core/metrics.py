"""Sample-quality metrics computed in the evaluation classifier's feature space."""

import torch


def _covariance(features):
    centred = features - features.mean(dim=0, keepdim=True)
    return centred.T @ centred / (features.shape[0] - 1)


def _sqrt_psd(matrix):
    """Return the symmetric square root of a positive semi-definite matrix."""
    eigenvalues, eigenvectors = torch.linalg.eigh(matrix)
    return eigenvectors @ torch.diag(eigenvalues.clamp(min=0).sqrt()) @ eigenvectors.T


def frechet_distance(features_a, features_b):
    """Return the Fréchet distance between Gaussians fitted to two feature sets ``(N, D)``.

    ``|mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2)``, the formula behind FID,
    computed in float64 with symmetric square roots, so it needs no SciPy.
    """
    a, b = features_a.double(), features_b.double()
    mean_term = (a.mean(dim=0) - b.mean(dim=0)).pow(2).sum()
    covariance_a, covariance_b = _covariance(a), _covariance(b)
    root_a = _sqrt_psd(covariance_a)
    cross = _sqrt_psd(root_a @ covariance_b @ root_a)
    return (mean_term + torch.trace(covariance_a + covariance_b - 2 * cross)).item()
