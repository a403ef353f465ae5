"""Fixtures of the gan_core tests."""

import pytest
import torch

from gan_core.checkpoint import save_checkpoint
from gan_core.config import ModelConfig, TrainConfig
from gan_core.models import build_models


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A sampling checkpoint of an untrained generator whose batch-norm statistics are not the defaults."""
    generator, _ = build_models(ModelConfig())
    generator.train()
    with torch.no_grad():  # a few batches move the running statistics away from 0 and 1
        for _ in range(3):
            generator(torch.randn(32, generator.config.latent_dim), torch.randint(0, 10, (32,)))
    path = tmp_path_factory.mktemp("export") / "source.pt"
    save_checkpoint(path, model_config=generator.config, train_config=TrainConfig(), generator_ema=generator, step=7)
    return path
