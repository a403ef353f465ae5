import torch
from torch import nn

from gan_core.config import ModelConfig
from gan_core.models import build_models


def test_critic_has_no_batch_norm():
    _, critic = build_models(ModelConfig())
    norms = [m for m in critic.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert norms == []


def test_shapes():
    config = ModelConfig()
    generator, critic = build_models(config)
    generator.eval()
    latent, labels = torch.randn(3, config.latent_dim), torch.tensor([0, 5, 9])
    images = generator(latent, labels)
    assert images.shape == (3, 1, 28, 28)
    assert images.min() >= -1
    assert images.max() <= 1
    assert critic(images, labels).shape == (3,)


def test_critic_score_depends_on_label():
    config = ModelConfig()
    _, critic = build_models(config)
    images = torch.randn(1, 1, 28, 28)
    assert critic(images, torch.tensor([1])).item() != critic(images, torch.tensor([2])).item()


def test_generator_in_eval_mode_is_batch_independent():
    """Each image depends only on its own latent and label, not on its batch neighbours."""
    config = ModelConfig()
    generator, _ = build_models(config)
    generator.eval()
    latent, labels = torch.randn(4, config.latent_dim), torch.tensor([1, 2, 3, 4])
    with torch.no_grad():
        together = generator(latent, labels)
        alone = generator(latent[2:3], labels[2:3])
    assert torch.allclose(together[2:3], alone, atol=1e-6)


def test_critic_classifier_head_is_optional():
    images, labels = torch.randn(3, 1, 28, 28), torch.tensor([0, 5, 9])
    _, plain = build_models(ModelConfig())
    _, with_head = build_models(ModelConfig(auxiliary_classifier=True))
    scores, logits = with_head.score_and_classify(images, labels)
    assert plain.score_and_classify(images, labels)[1] is None
    assert logits.shape == (3, 10)
    assert torch.equal(scores, with_head(images, labels))


def test_conditional_norm_eval_folding():
    """Eval mode folds the running statistics into one scale and shift; the result must not change."""
    config = ModelConfig(conditional_norm=True)
    generator, _ = build_models(config)
    norm = generator.norms[1]
    norm.norm.running_mean.uniform_(-1, 1)
    norm.norm.running_var.uniform_(0.5, 2)
    generator.eval()
    hidden, embedding = torch.randn(4, norm.norm.num_features, 14, 14), torch.randn(4, config.latent_dim)
    with torch.no_grad():
        expected = norm.norm(hidden) * (1 + norm.gain(embedding))[:, :, None, None] + norm.bias(embedding)[:, :, None, None]
        folded = norm(hidden, embedding)
    assert torch.allclose(folded, expected, atol=1e-5)
