"""TorchServe custom handler for the shipped generator: JSON ``{"digit", "seed"}`` in, PNG bytes out.

torch-model-archiver packs this file with the checkpoint (``--serialized-file``) into a
.mar; TorchServe imports it by file name in each backend worker. The repository root
must be on the workers' PYTHONPATH, because the generator is built by ``gan_core``.
With batching on, TorchServe hands ``handle`` up to ``batch_size`` requests at once, and
they go through the generator in one forward pass. TorchServe needs exactly one class
in this module.
"""

import logging
import os

import torch

from gan_core.checkpoint import load_generator
from bench.baseline_sync import parse_request
from gan_core.sampling import generate, to_png

logger = logging.getLogger(__name__)


class DigitHandler:
    def __init__(self):
        self.generator = None
        self.initialized = False

    def initialize(self, context):
        """Load the checkpoint packed into the .mar, and set torch's threads from ``BENCH_TORCH_THREADS``."""
        threads = int(os.environ.get("BENCH_TORCH_THREADS", "0"))
        if threads > 0:
            torch.set_num_threads(threads)
        model_dir = context.system_properties["model_dir"]
        checkpoint = os.path.join(model_dir, context.manifest["model"]["serializedFile"])
        self.generator, _ = load_generator(checkpoint)
        self.initialized = True
        logger.info("loaded %s with %d torch threads in process %d", checkpoint, torch.get_num_threads(), os.getpid())

    @staticmethod
    def parse(item):
        """Return ``(digit, seed)`` from one request of the batch; raise ValueError or TypeError naming the invalid field."""
        # TorchServe passes the body as bytes, or already decoded when it was JSON.
        return parse_request(item.get("body", item.get("data")))

    def handle(self, data, context):
        """Return one response per request: a PNG, or a 400 message for an invalid request."""
        responses = [None] * len(data)
        valid = []
        for index, item in enumerate(data):
            try:
                valid.append((index, *self.parse(item)))
            except (TypeError, ValueError) as error:
                logger.warning("rejected request %s of the batch: %s", context.get_request_id(index), error)
                context.set_response_status(400, str(error), idx=index)
                responses[index] = str(error).encode()
        if valid:
            images = generate(self.generator, [digit for _, digit, _ in valid], [seed for _, _, seed in valid], align=False)
            for (index, _, _), image in zip(valid, images):
                context.set_response_content_type(index, "image/png")
                responses[index] = to_png(image)
        return responses
