"""The image every server should return for a (digit, seed), computed here from the shipped checkpoint."""

import io
from pathlib import Path

import numpy as np
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = REPO_ROOT / "gan_core" / "weights" / "mnist.pt"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class ReferenceImages:
    """The shipped generator, loaded once, used to check that a server's PNG is the right image."""

    def __init__(self, model_path=DEFAULT_MODEL):
        from gan_core.checkpoint import load_generator

        self.generator, _ = load_generator(model_path)

    def pixels(self, digit, seed):
        from gan_core.sampling import generate, to_uint8

        return to_uint8(generate(self.generator, [digit], [seed])[0])

    def assert_png_matches(self, png, digit, seed, source):
        """Raise AssertionError unless ``png`` decodes to the image of (digit, seed).

        One grey level of difference is allowed: another thread count can change the
        last bits of the generator's output, and so the rounding of a pixel.
        """
        assert png.startswith(PNG_SIGNATURE), f"{source} did not return a PNG: {png[:80]!r}"
        image = Image.open(io.BytesIO(png))
        assert image.mode == "L", f"{source} returned a {image.mode} image, expected grayscale (mode L)"
        assert image.size == (28, 28), f"{source} returned an image of {image.size}, expected 28x28"
        difference = np.abs(np.asarray(image, dtype=np.int16) - self.pixels(digit, seed).astype(np.int16)).max()
        assert difference <= 1, (
            f"{source} returned another image than digit {digit}, seed {seed} of the shipped model "
            f"(largest pixel difference {difference})")
