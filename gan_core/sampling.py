"""Deterministic generation by seed, interpolation, and PNG output."""

import io
import math
import random

import numpy as np
import torch
from PIL import Image

from .models import pad_rows

# Seeds are non-negative 63-bit integers, so they fit a signed 64-bit column and a proto int64.
MAX_SEED = 2**63 - 1


def latent_for_seed(seed, latent_dim):
    """Return the latent ``(latent_dim,)`` for ``seed``, drawn on the CPU.

    Drawing on the CPU makes the latent, and so the image, the same on every device.
    """
    assert 0 <= seed <= MAX_SEED, f"seed must be in [0, 2^63), got {seed}"
    return torch.randn(latent_dim, generator=torch.Generator().manual_seed(seed))


def digit_for_seed(seed, num_classes=10):
    """Return the class used when a request leaves the digit open; a function of the seed alone."""
    # A string seed is hashed with SHA-512 by ``random``, so it is stable across processes.
    return random.Random(f"digit:{seed}").randrange(num_classes)


def image_seeds(first_seed, count):
    """Return the seeds of a job's images: consecutive from ``first_seed``, wrapping below 2^63."""
    return [(first_seed + index) % (MAX_SEED + 1) for index in range(count)]


# Forward passes run on a multiple of this many rows. On the CPU, PyTorch picks other
# matrix-multiply and transposed-convolution kernels for some batch sizes (1-3, 5, 7, ...),
# and they sum in another order, which moves a few pixels by one grey level. With aligned
# batches an image's bytes do not depend on how many other images share its batch, so
# the worker can coalesce jobs (tests/gan_core/test_sampling.py checks this).
ROW_ALIGNMENT = 4


@torch.no_grad()
def generate(generator, digits, seeds, device=None, align=True):
    """Return images ``(B, 1, 28, 28)`` in [-1, 1] on the CPU, one per (digit, seed) pair.

    The same (digit, seed) gives the same image whatever else is in the batch. With
    ``align=False`` the pass has exactly B rows, which is cheaper for B = 1 but may
    differ from other batch sizes in the last bits (the benchmarks' baselines use it).
    """
    assert len(digits) == len(seeds), f"{len(digits)} digits but {len(seeds)} seeds"
    device = device or next(generator.parameters()).device
    latent_dim = generator.config.latent_dim
    latent = torch.stack([latent_for_seed(seed, latent_dim) for seed in seeds])  # (B, latent_dim)
    labels = torch.tensor(digits, dtype=torch.long)
    if align:
        # Repeat the first row up to the aligned size; the extra outputs are dropped.
        rows = len(seeds) + -len(seeds) % ROW_ALIGNMENT
        latent, labels = pad_rows(latent, rows), pad_rows(labels, rows)
    images = generator(latent.to(device), labels.to(device)).float().cpu()
    return images[: len(seeds)]


def slerp(start, end, fraction):
    """Spherical interpolation, which keeps interpolated Gaussian latents at a typical norm."""
    cos_angle = torch.dot(start / start.norm(), end / end.norm()).clamp(-1.0, 1.0)
    angle = torch.acos(cos_angle)
    if angle.abs() < 1e-6:
        return (1 - fraction) * start + fraction * end
    return (torch.sin((1 - fraction) * angle) * start + torch.sin(fraction * angle) * end) / torch.sin(angle)


@torch.no_grad()
def interpolate(generator, *, start_digit, end_digit, start_seed, end_seed, frames):
    """Return ``frames`` images ``(frames, 1, 28, 28)`` moving from one (digit, seed) to another.

    Latents follow a spherical path; labels move linearly between their embeddings.
    """
    assert frames >= 2, f"frames must be at least 2, got {frames}"
    device = next(generator.parameters()).device
    latent_dim = generator.config.latent_dim
    start_latent, end_latent = latent_for_seed(start_seed, latent_dim), latent_for_seed(end_seed, latent_dim)
    labels = torch.tensor([start_digit, end_digit], device=device)
    start_embedding, end_embedding = generator.label_embedding(labels)
    fractions = torch.linspace(0, 1, frames)
    latent = torch.stack([slerp(start_latent, end_latent, f) for f in fractions]).to(device)
    embedding = torch.stack([(1 - f) * start_embedding + f * end_embedding for f in fractions.tolist()])
    return generator.synthesize(generator.scale_latent(latent), embedding).float().cpu()


def to_uint8(image):
    """Map a tanh-range image to a uint8 ``(H, W)`` array, clamping (never wrapping) out-of-range values.

    Accepts ``(1, H, W)``, ``(H, W, 1)`` or ``(H, W)`` in any float dtype, as a tensor or an array.
    """
    array = image.detach().cpu().float().numpy() if torch.is_tensor(image) else np.asarray(image, dtype=np.float32)
    array = np.squeeze(array)
    if array.ndim != 2:
        raise ValueError(f"expected one single-channel image, got shape {np.shape(image)}")
    if not np.isfinite(array).all():
        raise ValueError("image contains NaN or infinite values; not writing it")
    scaled = np.clip((array + 1.0) * 127.5, 0.0, 255.0)
    return np.rint(scaled).astype(np.uint8)


def to_png(image):
    """Encode one image as 8-bit grayscale (mode ``L``) PNG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(to_uint8(image)).save(buffer, format="PNG")
    return buffer.getvalue()


def grid_png(images, columns=None, padding=2):
    """Encode images ``(B, 1, H, W)`` as one grid PNG, ``columns`` per row (default near-square)."""
    images = images.detach().cpu().float()
    count, _, height, width = images.shape
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    sheet = np.zeros((rows * (height + padding) + padding, columns * (width + padding) + padding), np.uint8)
    for index in range(count):
        top = padding + (index // columns) * (height + padding)
        left = padding + (index % columns) * (width + padding)
        sheet[top : top + height, left : left + width] = to_uint8(images[index])
    buffer = io.BytesIO()
    Image.fromarray(sheet).save(buffer, format="PNG")
    return buffer.getvalue()
