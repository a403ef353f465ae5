"""Hyperparameters for the conditional WGAN-GP, saved inside every checkpoint."""

import math
import re
from dataclasses import asdict, dataclass, fields


PRECISIONS = ("float32", "bfloat16")


@dataclass
class ModelConfig:
    """Shape of the generator and critic; enough to rebuild both from a checkpoint."""

    # Length of the latent vector z. 128 gives enough variety per digit without
    # slowing the generator's first linear layer.
    latent_dim: int = 128
    # Number of classes; the label embedding and the critic's projection have one row each.
    num_classes: int = 10
    # Base channel counts. The generator uses 4x, 2x and 1x its width at 7x7, 14x14 and
    # 28x28, and the critic 1x, 2x and 4x its width at 14x14, 7x7 and 4x4. The critic is
    # the wider of the two because WGAN-GP needs a critic close to optimal.
    generator_width: int = 32
    critic_width: int = 48
    # Images are single-channel; the layer shapes fix their size at 28x28.
    image_channels: int = 1
    # Let the label set every generator batch norm's gain and bias too, not only the
    # input (conditional batch norm). Off in checkpoints saved before the option existed.
    conditional_norm: bool = False
    # Give the critic a second head that classifies the digit from the same features
    # (the auxiliary classifier of Odena et al., 2017, as in the WGAN-GP authors' conditional
    # CIFAR-10 model). Its weights in the losses are TrainConfig's classifier weights.
    auxiliary_classifier: bool = False

    def __post_init__(self):
        for name in ("latent_dim", "generator_width", "critic_width", "image_channels"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {self.num_classes}")


@dataclass
class TrainConfig:
    """Optimisation settings for one training run."""

    # "mnist" or "fashion-mnist" (gan_core.data.DATASETS).
    dataset: str = "mnist"
    # For MNIST, the folder that contains MNIST/raw in torchvision's layout (empty: GAN_DATA_ROOT,
    # else ../shared/data). For Fashion-MNIST, the folder of its four *-ubyte.gz files (empty:
    # GAN_FASHION_MNIST_ROOT, else Debian's /usr/share/datasets/fashion-mnist).
    data_root: str = ""
    # Number of full passes over the 60,000 training images; ``max_steps`` wins when set.
    epochs: int = 10
    # Stop after this many generator steps (0: no limit, train for ``epochs``).
    max_steps: int = 0
    batch_size: int = 64
    # Two-timescale Adam with betas (0.0, 0.9), as in the WGAN-GP paper's setup
    # (Gulrajani et al., 2017): momentum off for the first moment keeps the critic responsive.
    generator_lr: float = 2e-4
    critic_lr: float = 2e-4
    beta1: float = 0.0
    beta2: float = 0.9
    # Learning-rate schedule over the run: "linear" decays both rates to 0 at the last
    # step, which settles the EMA generator; "constant" keeps them fixed.
    lr_schedule: str = "linear"
    # Critic steps per generator step. Five keeps the critic near optimal, which is
    # what makes its output a useful Wasserstein estimate.
    n_critic: int = 5
    # Weight of the gradient penalty; 10 is the value that works across the paper's datasets.
    gp_weight: float = 10.0
    # Small penalty on the critic's real scores that keeps them from drifting far from 0
    # (Karras et al., 2018); it does not change the optimum.
    drift_weight: float = 1e-3
    # With ModelConfig.auxiliary_classifier: weight of the critic head's cross-entropy on
    # real images in the critic loss, and of its cross-entropy on generated images (for the
    # labels they were requested for) in the generator loss. The WGAN-GP authors used 1 and 0.1
    # on CIFAR-10 (gan_cifar_resnet.py in their improved_wgan_training code). On MNIST a
    # generator weight of 0.1 left classifier agreement near 98%, and 1 reached 99.3%
    # (docs/training/), so 1 is the default.
    critic_classifier_weight: float = 1.0
    generator_classifier_weight: float = 1.0
    # Decay of the exponential moving average of generator weights used for sampling.
    ema_decay: float = 0.999
    seed: int = 0
    # "auto" picks CUDA when it is available.
    device: str = "auto"
    # "float32", or "bfloat16" to run the forward passes under autocast. Weights, optimiser
    # state, the EMA and the gradient-penalty norms stay float32. On a CPU with AMX a step
    # ran 1.9x faster (bench.train_step), and CPUs without bfloat16 instructions emulate it.
    precision: str = "float32"
    # Generator steps between log lines and between checkpoints.
    log_every: int = 100
    checkpoint_every: int = 1000
    # Also keep a copy of every checkpoint as checkpoints/step_NNNNNNN.pt, so that
    # bench.time_to_quality can score the run. Each copy is about 32 MB at the default sizes.
    keep_checkpoints: bool = False
    # Start the generator and its EMA from the EMA generator of this checkpoint instead of random
    # weights. It may be a sampling checkpoint such as gan_core/weights/mnist.pt or a full one, so
    # a released model can train further when its critic and optimiser state were not kept. Its
    # ModelConfig must equal this run's. Ignored when --resume finds a checkpoint.
    init_generator: str = ""
    # Critic iterations against the frozen generator before the first generator step of a run
    # that starts at step 0. A fresh critic has to learn before its scores can guide a trained
    # generator. 2,000 iterations took 107 s on 2 CPU cores in bfloat16.
    critic_warmup: int = 0

    def __post_init__(self):
        from .data import check_dataset

        check_dataset(self.dataset)
        if self.max_steps < 0:
            raise ValueError(f"max_steps must be 0 (train for epochs) or a positive number of steps, got {self.max_steps}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {self.epochs}")
        if self.n_critic < 1:
            raise ValueError(f"n_critic must be at least 1, got {self.n_critic}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.lr_schedule not in ("linear", "constant"):
            raise ValueError(f"lr_schedule must be 'linear' or 'constant', got {self.lr_schedule!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.critic_classifier_weight < 0 or self.generator_classifier_weight < 0:
            raise ValueError("critic_classifier_weight and generator_classifier_weight must be 0 or more, got "
                             f"{self.critic_classifier_weight} and {self.generator_classifier_weight}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        if self.critic_warmup < 0:
            raise ValueError(f"critic_warmup must be 0 or a positive number of critic iterations, got {self.critic_warmup}")
        for name in ("generator_lr", "critic_lr", "gp_weight", "drift_weight"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise ValueError(f"{name} must be 0 or more, got {getattr(self, name)}")
        for name in ("beta1", "beta2"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        for name in ("log_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1 generator step, got {getattr(self, name)}")
        if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", self.device):
            raise ValueError(f"device must be auto, cpu, cuda, cuda:N or mps, got {self.device!r}")


def config_from_dict(cls, values):
    """Build ``cls`` from a dict, ignoring keys that an older or newer version does not know."""
    known = {f.name for f in fields(cls)}
    return cls(**{key: value for key, value in values.items() if key in known})


__all__ = ["ModelConfig", "TrainConfig", "asdict", "config_from_dict"]
