import io

import numpy as np
import pytest
import torch
from PIL import Image

from gan_core.config import ModelConfig
from gan_core.models import build_models
from gan_core.sampling import (
    MAX_SEED, digit_for_seed, generate, grid_png, image_seeds, interpolate, latent_for_seed, to_png, to_uint8,
)


@pytest.fixture(scope="module")
def generator():
    model, _ = build_models(ModelConfig())
    return model.eval()


def decode(png):
    return Image.open(io.BytesIO(png))


@pytest.mark.parametrize("value, expected", [(-1.0, 0), (1.0, 255), (1.3, 255), (-1.3, 0), (0.0, 128)])
def test_png_pixel_mapping(value, expected):
    image = decode(to_png(torch.full((1, 28, 28), value)))
    assert image.getpixel((0, 0)) == expected


@pytest.mark.parametrize("shape", [(1, 28, 28), (28, 28, 1), (28, 28)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.float64])
def test_png_is_28x28_mode_l(shape, dtype):
    image = decode(to_png(torch.zeros(shape, dtype=dtype)))
    assert image.mode == "L"
    assert image.size == (28, 28)


def test_png_accepts_numpy_array():
    assert decode(to_png(np.ones((28, 28, 1), dtype=np.float32))).getpixel((3, 3)) == 255


def test_png_rejects_non_finite_values():
    image = torch.zeros(1, 28, 28)
    image[0, 3, 3] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        to_png(image)


def test_png_rejects_multi_channel_image():
    with pytest.raises(ValueError, match="single-channel"):
        to_uint8(torch.zeros(3, 28, 28))


def test_latent_is_deterministic_by_seed():
    assert torch.equal(latent_for_seed(42, 128), latent_for_seed(42, 128))
    assert not torch.equal(latent_for_seed(42, 128), latent_for_seed(43, 128))
    assert latent_for_seed(MAX_SEED, 8).shape == (8,)


def test_generate_is_deterministic_by_seed(generator):
    first = generate(generator, [3, 7], [11, 12])
    second = generate(generator, [3, 7], [11, 12])
    assert torch.equal(first, second)
    assert [to_png(image) for image in first] == [to_png(image) for image in second]


def test_generate_same_seed_other_batch_gives_same_image(generator):
    alone = generate(generator, [7], [99])[0]
    in_batch = generate(generator, [1, 7, 2], [5, 99, 6])[1]
    assert to_png(alone) == to_png(in_batch)


@pytest.fixture(scope="module")
def shipped_generator():
    from gan_core.checkpoint import load_generator

    model, _ = load_generator("gan_core/weights/mnist.pt")
    return model


@pytest.mark.parametrize("threads", [1, 2])
def test_image_does_not_depend_on_its_batch(shipped_generator, threads):
    """The worker coalesces jobs into shared passes; every batch size must give the same floats.

    Without ROW_ALIGNMENT, batches of 1-3, 5, 7 and 9 rows differed from batches of 64 in the
    last bits on one CPU's convolution kernels. Without MIN_LINEAR_ROWS, batches of up to 10
    rows differed in the linear layers on a CPU with AMX.
    """
    digits, seeds = [seed % 10 for seed in range(64)], list(range(5000, 5064))
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        reference = generate(shipped_generator, digits, seeds)
        for size in (*range(1, 17), 33):
            chunks = [generate(shipped_generator, digits[start : start + size], seeds[start : start + size])
                      for start in range(0, 64, size)]
            assert torch.equal(torch.cat(chunks), reference), f"batches of {size} differ from one batch of 64"
    finally:
        torch.set_num_threads(previous)


def test_image_seeds_wrap_below_two_to_the_63():
    assert image_seeds(5, 3) == [5, 6, 7]
    assert image_seeds(MAX_SEED, 2) == [MAX_SEED, 0]


def test_random_digit_is_a_function_of_the_seed():
    digits = [digit_for_seed(seed) for seed in range(200)]
    assert digits == [digit_for_seed(seed) for seed in range(200)]
    assert set(digits) == set(range(10))


def test_interpolation_ends_match_plain_generation(generator):
    frames = interpolate(generator, start_digit=1, end_digit=7, start_seed=3, end_seed=4, frames=5)
    assert frames.shape == (5, 1, 28, 28)
    ends = generate(generator, [1, 7], [3, 4])
    assert torch.allclose(frames[0], ends[0], atol=1e-5)
    assert torch.allclose(frames[-1], ends[1], atol=1e-5)


def test_grid_png_size():
    image = decode(grid_png(torch.zeros(12, 1, 28, 28), columns=4, padding=2))
    assert image.size == (4 * 30 + 2, 3 * 30 + 2)
