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


def kernel_inception_distance(features_a, features_b, subsets=10, subset_size=1000, seed=0):
    """Return the mean and standard deviation of the unbiased squared MMD over random subsets.

    The kernel is the cubic polynomial ``k(x, y) = (x . y / d + 1)^3`` of Binkowski et al.
    (2018), "Demystifying MMD GANs"; unlike the Fréchet distance, the estimate is unbiased
    in the sample count, so small sets can be compared.
    """
    a, b = features_a.double(), features_b.double()
    size = min(subset_size, len(a), len(b))
    dimensions = a.shape[1]
    random = torch.Generator().manual_seed(seed)
    estimates = []
    for _ in range(subsets):
        x = a[torch.randperm(len(a), generator=random)[:size]]
        y = b[torch.randperm(len(b), generator=random)[:size]]
        k_xx = (x @ x.T / dimensions + 1) ** 3
        k_yy = (y @ y.T / dimensions + 1) ** 3
        k_xy = (x @ y.T / dimensions + 1) ** 3
        off_diagonal = size * (size - 1)
        estimates.append(((k_xx.sum() - k_xx.diagonal().sum()) / off_diagonal
                          + (k_yy.sum() - k_yy.diagonal().sum()) / off_diagonal
                          - 2 * k_xy.mean()).item())
    values = torch.tensor(estimates)
    return values.mean().item(), values.std().item() if subsets > 1 else 0.0


def _nearest_distances(queries, references, k=1, chunk=1024, exclude_self=False):
    """Return the distance from each query ``(N, D)`` to its k-th nearest reference ``(M, D)``."""
    results = []
    for start in range(0, len(queries), chunk):
        distances = torch.cdist(queries[start : start + chunk].float(), references.float())
        if exclude_self:
            rows = torch.arange(distances.shape[0])
            distances[rows, rows + start] = float("inf")
        results.append(distances.kthvalue(k, dim=1).values)
    return torch.cat(results)


def precision_recall(real_features, fake_features, k=3):
    """Return (precision, recall) with k-nearest-neighbour manifolds (Kynkäänniemi et al., 2019).

    Precision is the share of fake samples inside the union of balls around real samples.
    Each ball reaches its sample's k-th nearest real neighbour. Recall swaps the two roles.
    """

    def coverage(points, manifold):
        radii = _nearest_distances(manifold, manifold, k=k + 1 if len(manifold) > k else k, exclude_self=False)
        inside = []
        for start in range(0, len(points), 1024):
            distances = torch.cdist(points[start : start + 1024].float(), manifold.float())
            inside.append((distances <= radii.unsqueeze(0)).any(dim=1))
        return torch.cat(inside).float().mean().item()

    return coverage(fake_features, real_features), coverage(real_features, fake_features)


def memorization_ratio(samples, train, test):
    """Compare each sample's distance to its nearest training image with the same distance for test images.

    All inputs are flattened images ``(N, D)``. Returns two numbers. The first is the median
    sample-to-train distance over the median test-to-train distance: near 1, samples are as
    far from the training set as unseen real digits, and well below 1, the generator copies
    training images. The second is the share of samples closer to a training image than
    99% of test images are.
    """
    sample_distances = _nearest_distances(samples, train)
    test_distances = _nearest_distances(test, train)
    threshold = torch.quantile(test_distances, 0.01)
    ratio = (sample_distances.median() / test_distances.median()).item()
    return ratio, (sample_distances < threshold).float().mean().item()
