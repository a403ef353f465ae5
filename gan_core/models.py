"""Conditional generator and projection critic for 28x28 single-channel images."""

import torch
from torch import nn

from .config import ModelConfig


# Minimum rows for the generator's linear layers in eval mode. On a CPU with AMX and PyTorch
# 2.14.1, products of 1-10 rows differed in the last bits from larger ones, so an image
# depended on its batch size. Padding here costs less than padding the whole pass.
MIN_LINEAR_ROWS = 16


def pad_rows(tensor, rows):
    """Return ``tensor`` with its first row repeated until it has at least ``rows`` rows."""
    extra = rows - tensor.shape[0]
    if extra <= 0:
        return tensor
    return torch.cat([tensor, tensor[:1].expand(extra, *tensor.shape[1:])])


def batch_invariant_linear(layer, inputs, training):
    """Apply ``layer`` to ``inputs`` ``(B, features)``, padded to ``MIN_LINEAR_ROWS`` rows outside training.

    The padding's outputs are dropped. In training the batch is used as it is, because batch
    norm after the layer must see only real rows.
    """
    if training:
        return layer(inputs)
    return layer(pad_rows(inputs, MIN_LINEAR_ROWS))[: inputs.shape[0]]


class Generator(nn.Module):
    """Maps a latent ``(B, latent_dim)`` and labels ``(B,)`` to images ``(B, 1, 28, 28)`` in [-1, 1].

    ``latent_scale`` multiplies every latent before the first layer. Training keeps it at 1.
    A sampling checkpoint may set another value (see :func:`gan_core.checkpoint.load_generator`),
    which trades variety for fidelity by reducing the variance of the generator's input, like
    the truncation trick of Brock et al. (2019, BigGAN).
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.latent_scale = 1.0
        width = config.generator_width
        self.label_embedding = nn.Embedding(config.num_classes, config.latent_dim)
        self.project = nn.Sequential(
            nn.Linear(2 * config.latent_dim, 4 * width * 7 * 7, bias=False),
            nn.BatchNorm1d(4 * width * 7 * 7),
            nn.ReLU(inplace=True),
        )
        self.upsample = nn.Sequential(
            # (B, 4w, 7, 7) -> (B, 2w, 14, 14)
            nn.ConvTranspose2d(4 * width, 2 * width, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(inplace=True),
            # (B, 2w, 14, 14) -> (B, w, 28, 28)
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            # (B, w, 28, 28) -> (B, 1, 28, 28)
            nn.Conv2d(width, config.image_channels, 3, padding=1),
            nn.Tanh(),
        )

    def forward(self, latent, labels):
        assert latent.dim() == 2, f"latent must be (B, {self.config.latent_dim}), got {tuple(latent.shape)}"
        assert latent.shape[1] == self.config.latent_dim, (
            f"latent must be (B, {self.config.latent_dim}), got {tuple(latent.shape)}"
        )
        return self.synthesize(self.scale_latent(latent), self.label_embedding(labels))

    def scale_latent(self, latent):
        """Return ``latent`` times ``latent_scale``; the same tensor when the scale is 1."""
        return latent if self.latent_scale == 1.0 else latent * self.latent_scale

    def synthesize(self, latent, label_embedding):
        """Generate from label embeddings ``(B, latent_dim)`` instead of labels.

        Interpolating between two digits mixes their embeddings and calls this. The latent
        is used as given: callers apply :meth:`scale_latent` first.
        """
        # The label enters as a learned embedding concatenated to z: (B, 2 * latent_dim).
        hidden = torch.cat([latent, label_embedding], dim=1)
        hidden = batch_invariant_linear(self.project, hidden, self.training)
        hidden = hidden.view(-1, 4 * self.config.generator_width, 7, 7)
        return self.upsample(hidden)


class ConditionalBatchNorm(nn.Module):
    """Batch norm whose gain and bias are computed from the label embedding (de Vries et al., 2017).

    Gain and bias are linear in the embedding rather than looked up per class, so
    ``synthesize`` still works on a mix of two labels' embeddings.
    """

    def __init__(self, norm, embedding_dim):
        super().__init__()
        self.norm = norm  # a BatchNorm2d with affine=False
        self.gain = nn.Linear(embedding_dim, norm.num_features)
        self.bias = nn.Linear(embedding_dim, norm.num_features)

    def forward(self, hidden, label_embedding):
        gain = 1.0 + batch_invariant_linear(self.gain, label_embedding, self.training)  # (B, C)
        bias = batch_invariant_linear(self.bias, label_embedding, self.training)  # (B, C)
        if self.training or not self.norm.track_running_stats:
            return torch.addcmul(bias[:, :, None, None], self.norm(hidden), gain[:, :, None, None])
        # In eval mode the running statistics fold into one scale and shift per sample and
        # channel, so the activations are read once instead of three times (normalise, scale, shift).
        scale = gain * torch.rsqrt(self.norm.running_var + self.norm.eps)
        shift = bias - self.norm.running_mean * scale
        return torch.addcmul(shift[:, :, None, None], hidden, scale[:, :, None, None])


class ConditionalNormGenerator(Generator):
    """The same layers as :class:`Generator`, with the label also setting every batch norm's gain and bias.

    The label then shapes each resolution, not only the input, which is the generator
    side of the projection-critic setup (Miyato and Koyama, 2018).
    """

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        width, embedding_dim = config.generator_width, config.latent_dim
        channels = (4 * width, 2 * width, width)
        self.project = nn.Linear(2 * embedding_dim, 4 * width * 7 * 7, bias=False)
        self.up1 = nn.ConvTranspose2d(4 * width, 2 * width, 4, stride=2, padding=1, bias=False)
        self.up2 = nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1, bias=False)
        self.to_image = nn.Conv2d(width, config.image_channels, 3, padding=1)
        self.norms = nn.ModuleList([
            ConditionalBatchNorm(nn.BatchNorm2d(count, affine=False), embedding_dim) for count in channels
        ])
        del self.upsample

    def synthesize(self, latent, label_embedding):
        hidden = batch_invariant_linear(self.project, torch.cat([latent, label_embedding], dim=1), self.training)
        hidden = hidden.view(-1, 4 * self.config.generator_width, 7, 7)
        hidden = torch.relu(self.norms[0](hidden, label_embedding))  # (B, 4w, 7, 7)
        hidden = torch.relu(self.norms[1](self.up1(hidden), label_embedding))  # (B, 2w, 14, 14)
        hidden = torch.relu(self.norms[2](self.up2(hidden), label_embedding))  # (B, w, 28, 28)
        return torch.tanh(self.to_image(hidden))


class Critic(nn.Module):
    """Scores images ``(B, 1, 28, 28)`` with labels ``(B,)``; returns ``(B,)`` unbounded scores.

    The label enters by projection (Miyato and Koyama, 2018): the score is a linear
    function of the image features plus their inner product with the label's
    embedding. There is no batch norm, because the gradient penalty is defined per
    sample and batch statistics would couple the samples of a batch. With
    ``auxiliary_classifier``, a linear head also classifies the digit from the same
    features (AC-GAN, Odena et al., 2017).
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        width = config.critic_width
        self.features = nn.Sequential(
            # (B, 1, 28, 28) -> (B, w, 14, 14)
            nn.Conv2d(config.image_channels, width, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2, inplace=True),
            # (B, w, 14, 14) -> (B, 2w, 7, 7)
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2, inplace=True),
            # (B, 2w, 7, 7) -> (B, 4w, 4, 4)
            nn.Conv2d(2 * width, 4 * width, 3, stride=2, padding=1),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Flatten(),
        )
        feature_dim = 4 * width * 4 * 4
        self.score = nn.Linear(feature_dim, 1)
        self.label_projection = nn.Embedding(config.num_classes, feature_dim)
        self.classify = nn.Linear(feature_dim, config.num_classes) if config.auxiliary_classifier else None

    def forward(self, images, labels):
        return self.score_and_classify(images, labels)[0]

    def score_and_classify(self, images, labels):
        """Return the scores ``(B,)`` and, with ``auxiliary_classifier``, class logits ``(B, classes)`` (else None).

        The logits come from the same features as the score; the gradient penalty
        constrains only the score.
        """
        features = self.features(images)  # (B, 4w * 16)
        projection = (self.label_projection(labels) * features).sum(dim=1)  # (B,)
        logits = self.classify(features) if self.classify is not None else None
        return self.score(features).squeeze(1) + projection, logits


def build_generator(config: ModelConfig):
    """Build the generator class that ``config.conditional_norm`` selects, with PyTorch's default initialisation."""
    return (ConditionalNormGenerator if config.conditional_norm else Generator)(config)


def build_models(config: ModelConfig):
    """Return a freshly initialised ``(generator, critic)`` pair."""
    generator, critic = build_generator(config), Critic(config)
    for module in list(generator.modules()) + list(critic.modules()):
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(module.weight, 0.0, 0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    return generator, critic
