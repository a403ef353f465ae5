"""The WGAN-GP training loop as a library function; ``gan_core.train`` is its CLI."""

import copy
import logging
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from . import checkpoint as ckpt
from .config import ModelConfig, TrainConfig, config_from_dict
from .data import InMemoryBatches, load_dataset_tensors
from .losses import critic_loss, generator_loss, gradient_penalty
from .models import build_models
from .sampling import grid_png, latent_for_seed

logger = logging.getLogger(__name__)

CHECKPOINT_NAME = "checkpoint.pt"


class NonFiniteLossError(RuntimeError):
    """A loss became NaN or infinite; training stopped without saving the bad weights."""

    def __init__(self, step, values):
        self.step = step
        super().__init__(f"non-finite loss at generator step {step}: {values}; "
                         "lower the learning rates or the gp_weight and resume from the last checkpoint")


class IncompatibleCheckpointError(ValueError):
    """``init_generator`` names a checkpoint whose generator does not fit this run's ModelConfig."""


def load_initial_generator(path, model_config):
    """Return the EMA generator weights of checkpoint ``path``, after checking its ModelConfig."""
    path = Path(path)
    if not path.is_file():
        raise IncompatibleCheckpointError(f"init_generator: checkpoint not found at {path}; pass a file written by gan_core.train or its --export")
    try:
        state = ckpt.load_checkpoint(path)
    except (OSError, ckpt.CheckpointError) as error:
        raise IncompatibleCheckpointError(f"init_generator: {error}") from error
    different = [f"{name} (checkpoint {theirs!r}, this run {ours!r})"
                 for name, (theirs, ours) in ckpt.model_config_differences(model_config, state).items()]
    if different:
        raise IncompatibleCheckpointError(
            f"init_generator: {path} was trained with another model configuration: {'; '.join(different)}; "
            "pass the checkpoint's values as flags")
    return state["generator_ema"]


@dataclass
class TrainResult:
    status: str  # "finished" or "stopped" (``should_stop`` returned True)
    step: int
    checkpoint_path: Path
    history: list = field(default_factory=list)


def check_finite(step, **losses):
    """Raise :class:`NonFiniteLossError` if any loss tensor is NaN or infinite."""
    values = {name: loss.item() for name, loss in losses.items()}
    if not all(math.isfinite(value) for value in values.values()):
        raise NonFiniteLossError(step, values)


class DeviceUnavailableError(ValueError):
    """The requested device does not exist on this machine."""


def resolve_device(preference):
    """Return the torch device for ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``; raise DeviceUnavailableError if absent."""
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if preference.startswith("cuda"):
        device = torch.device(preference)
        if not torch.cuda.is_available() or (device.index or 0) >= torch.cuda.device_count():
            raise DeviceUnavailableError(f"device {preference!r} was requested but this machine has "
                                         f"{torch.cuda.device_count()} CUDA devices; use 'cpu' or 'auto'")
        return device
    if preference == "mps" and not torch.backends.mps.is_available():
        raise DeviceUnavailableError("device 'mps' was requested but MPS is not available; use 'cpu' or 'auto'")
    return torch.device(preference)


def total_steps(train_config, batches_per_epoch):
    """Generator steps in the run; each consumes ``n_critic`` real batches."""
    if train_config.max_steps:
        return train_config.max_steps
    return train_config.epochs * max(1, batches_per_epoch // train_config.n_critic)


def update_ema(ema, model, decay):
    """Move the EMA parameters toward the model's; buffers are left to ``recalibrate_batch_norm``."""
    with torch.no_grad():
        for ema_parameter, parameter in zip(ema.parameters(), model.parameters()):
            ema_parameter.lerp_(parameter, 1.0 - decay)


@torch.no_grad()
def recalibrate_batch_norm(generator, batches=20, batch_size=256, seed=0):
    """Recompute batch-norm running statistics for the (EMA) weights the generator has now.

    Averaged weights do not match the statistics collected for the raw weights, so
    the EMA generator gets its own, from random latents and uniform labels.
    """
    config = generator.config
    device = next(generator.parameters()).device
    random = torch.Generator().manual_seed(seed)
    norms = [m for m in generator.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    saved_momentum = [m.momentum for m in norms]
    for module in norms:
        module.reset_running_stats()
        module.momentum = None  # cumulative average over the batches below
    generator.train()
    for _ in range(batches):
        latent = torch.randn(batch_size, config.latent_dim, generator=random).to(device)
        labels = torch.randint(0, config.num_classes, (batch_size,), generator=random).to(device)
        generator(latent, labels)
    generator.eval()
    for module, momentum in zip(norms, saved_momentum):
        module.momentum = momentum


def fixed_inputs(model_config, per_class=10):
    """Return the fixed latents and labels of the sample grid: one row per digit, one column per seed."""
    latent = torch.stack([latent_for_seed(seed, model_config.latent_dim) for seed in range(per_class)])
    latent = latent.repeat(model_config.num_classes, 1)  # (classes * per_class, latent_dim)
    labels = torch.arange(model_config.num_classes).repeat_interleave(per_class)
    return latent, labels


def train(model_config: ModelConfig, train_config: TrainConfig, out_dir, *, resume=False,
          should_stop=None, on_log=None, on_checkpoint=None, progress=True):
    """Train (or resume) a run in ``out_dir``; return a :class:`TrainResult`.

    ``should_stop(step)`` is polled once per generator step; when it returns True the
    run saves a checkpoint and returns with status "stopped". ``on_log(record)``
    receives each interval's averaged losses, and ``on_checkpoint(path, step, grid_path)``
    each saved checkpoint. Raises :class:`NonFiniteLossError` on a NaN or infinite loss.
    """
    out_dir = Path(out_dir)
    (out_dir / "samples").mkdir(parents=True, exist_ok=True)
    checkpoint_path = out_dir / CHECKPOINT_NAME
    device = resolve_device(train_config.device)
    torch.manual_seed(train_config.seed)

    # Data: the whole training set on the device, in [-1, 1].
    images, labels = load_dataset_tensors(train_config.dataset, train_config.data_root or None, train=True)
    batches = InMemoryBatches(images, labels, train_config.batch_size, device, seed=train_config.seed)
    steps = total_steps(train_config, batches.batches_per_epoch)
    steps_per_epoch = max(1, batches.batches_per_epoch // train_config.n_critic)

    # Models and optimisers.
    generator, critic = build_models(model_config)
    initial_weights = None
    if train_config.init_generator and not (resume and checkpoint_path.exists()):
        initial_weights = load_initial_generator(train_config.init_generator, model_config)
        generator.load_state_dict(initial_weights)
    bfloat16 = train_config.precision == "bfloat16"
    if bfloat16:
        # oneDNN's bfloat16 convolutions run fastest on channels-last tensors.
        generator.to(memory_format=torch.channels_last)
        critic.to(memory_format=torch.channels_last)
    generator_ema = copy.deepcopy(generator)
    generator.to(device), critic.to(device), generator_ema.to(device)
    betas = (float(train_config.beta1), float(train_config.beta2))
    generator_optimizer = torch.optim.Adam(generator.parameters(), train_config.generator_lr, betas=betas)
    critic_optimizer = torch.optim.Adam(critic.parameters(), train_config.critic_lr, betas=betas)
    fixed_latent, fixed_labels = fixed_inputs(model_config)
    step, history = 0, []

    if resume and checkpoint_path.exists():
        state = ckpt.load_checkpoint(checkpoint_path)
        generator.load_state_dict(state["generator"])
        generator_ema.load_state_dict(state["generator_ema"])
        critic.load_state_dict(state["critic"])
        generator_optimizer.load_state_dict(state["generator_optimizer"])
        critic_optimizer.load_state_dict(state["critic_optimizer"])
        step, history = state["step"], state["history"]
        torch.manual_seed(train_config.seed + step)
        batches.generator.manual_seed(train_config.seed + step)
        logger.info("resumed from %s at step %d of %d", checkpoint_path, step, steps)
    elif initial_weights is not None:
        logger.info("generator and its EMA start from the EMA weights of %s", train_config.init_generator)

    def forward_precision():
        """Autocast for the forward passes; losses are then taken in float32."""
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=bfloat16)

    def lr_factor(current):
        if train_config.lr_schedule == "constant":
            return 1.0
        return max(0.0, 1.0 - current / steps)

    def set_learning_rates(current):
        for optimizer, base in ((generator_optimizer, train_config.generator_lr),
                                (critic_optimizer, train_config.critic_lr)):
            for group in optimizer.param_groups:
                group["lr"] = base * lr_factor(current)

    def save(current_step):
        recalibrate_batch_norm(generator_ema)
        ckpt.save_checkpoint(
            checkpoint_path, model_config=model_config, train_config=train_config,
            generator=generator, generator_ema=generator_ema, critic=critic,
            generator_optimizer=generator_optimizer, critic_optimizer=critic_optimizer,
            step=current_step, epoch=current_step // steps_per_epoch, history=history,
            fixed_latent=fixed_latent, fixed_labels=fixed_labels,
        )
        if train_config.keep_checkpoints:
            (out_dir / "checkpoints").mkdir(exist_ok=True)
            shutil.copyfile(checkpoint_path, out_dir / "checkpoints" / f"step_{current_step:07d}.pt")
        grid_path = out_dir / "samples" / f"step_{current_step:07d}.png"
        with torch.no_grad():
            grid = generator_ema(fixed_latent.to(device), fixed_labels.to(device))
        grid_path.write_bytes(grid_png(grid, columns=10))
        (out_dir / "samples" / "latest.png").write_bytes(grid_path.read_bytes())
        if on_checkpoint:
            on_checkpoint(checkpoint_path, current_step, grid_path)
        return grid_path

    def real_batches():
        while True:
            yield from batches.epoch()

    data = real_batches()

    def critic_step(current_step):
        """One critic update; returns its losses as tensors (and the head's, when there is one).

        Minimises D(G(z, y), y) - D(x, y) + gp_weight * GP + drift_weight * D(x, y)^2, with
        the fake images drawn for the same labels y as the real batch.
        """
        real, labels_batch = next(data)
        latent = torch.randn(real.shape[0], model_config.latent_dim, device=device)
        with forward_precision():
            with torch.no_grad():
                fake = generator(latent, labels_batch).float()
            real_scores, real_logits = critic.score_and_classify(real, labels_batch)
            fake_scores = critic(fake, labels_batch).float()
            penalty = gradient_penalty(critic, real, fake, labels_batch)
        real_scores = real_scores.float()
        loss_critic = (critic_loss(real_scores, fake_scores) + train_config.gp_weight * penalty
                       + train_config.drift_weight * real_scores.pow(2).mean())
        values = {"critic_loss": loss_critic, "gradient_penalty": penalty,
                  "wasserstein": real_scores.mean() - fake_scores.mean()}
        if real_logits is not None:
            # The auxiliary head learns the digits from real images only.
            loss_class_real = F.cross_entropy(real_logits.float(), labels_batch)
            loss_critic = loss_critic + train_config.critic_classifier_weight * loss_class_real
            values["critic_loss"], values["class_loss_real"] = loss_critic, loss_class_real
        # Checked before the update, so no NaN ever reaches the weights or a checkpoint.
        check_finite(current_step, critic_loss=loss_critic, gradient_penalty=penalty)
        critic_optimizer.zero_grad(set_to_none=True)
        loss_critic.backward()
        critic_optimizer.step()
        return values

    if step == 0 and train_config.critic_warmup:
        # The generator stays frozen. Its batch norm still runs in training mode, as in the steps below.
        set_learning_rates(0)
        generator.train(), critic.train()
        warmup_start, totals, counted = time.perf_counter(), {}, 0
        # One log line per as many critic iterations as a logging interval of generator steps holds.
        log_every = train_config.log_every * train_config.n_critic
        for iteration in tqdm(range(1, train_config.critic_warmup + 1), desc="critic warm-up", unit="iteration",
                              disable=not progress, dynamic_ncols=True):
            # Polled here too, so that a long warm-up can be canceled and keeps a worker's heartbeat.
            if should_stop and should_stop(0):
                save(0)
                logger.info("stopped during the critic warm-up, after %d iterations; checkpoint %s",
                            iteration - 1, checkpoint_path)
                return TrainResult("stopped", 0, checkpoint_path, history)
            # Summed as tensors, so a GPU synchronises once per log line rather than every iteration.
            for key, value in critic_step(0).items():
                totals[key] = totals.get(key, 0.0) + value.detach()
            counted += 1
            if iteration % log_every == 0 or iteration == train_config.critic_warmup:
                means = {key: value.item() / counted for key, value in totals.items()}
                head = f" class_loss real {means['class_loss_real']:.4f}" if "class_loss_real" in means else ""
                logger.info("critic warm-up %d/%d critic_loss %.4f penalty %.4f wasserstein %.4f%s",
                            iteration, train_config.critic_warmup, means["critic_loss"], means["gradient_penalty"],
                            means["wasserstein"], head)
                totals, counted = {}, 0
        logger.info("critic warm-up: %d iterations in %.0f s", train_config.critic_warmup,
                    time.perf_counter() - warmup_start)
    interval = {"critic_loss": 0.0, "generator_loss": 0.0, "gradient_penalty": 0.0, "wasserstein": 0.0}
    interval_start, interval_steps = time.perf_counter(), 0
    bar = tqdm(total=steps, initial=step, desc="train", unit="step", disable=not progress, dynamic_ncols=True)
    generator.train(), critic.train()

    try:
        while step < steps:
            if should_stop and should_stop(step):
                save(step)
                logger.info("stopped at step %d; checkpoint %s", step, checkpoint_path)
                return TrainResult("stopped", step, checkpoint_path, history)
            set_learning_rates(step)

            for _ in range(train_config.n_critic):
                critic_values = critic_step(step + 1)

            # Generator: minimise -D(G(z, y), y) for uniformly drawn labels.
            latent = torch.randn(train_config.batch_size, model_config.latent_dim, device=device)
            labels_fake = torch.randint(0, model_config.num_classes, (train_config.batch_size,), device=device)
            with forward_precision():
                generated_scores, fake_logits = critic.score_and_classify(generator(latent, labels_fake), labels_fake)
            loss_generator = generator_loss(generated_scores.float())
            if fake_logits is not None:
                # Also make the requested digit recognisable to the critic's head.
                loss_class_fake = F.cross_entropy(fake_logits.float(), labels_fake)
                loss_generator = loss_generator + train_config.generator_classifier_weight * loss_class_fake
            check_finite(step + 1, generator_loss=loss_generator)
            generator_optimizer.zero_grad(set_to_none=True)
            loss_generator.backward()
            generator_optimizer.step()
            update_ema(generator_ema, generator, min(train_config.ema_decay, (1 + step) / (10 + step)))
            step += 1

            # Book-keeping: one .item() sync per step, a log line per interval.
            values = {"critic_loss": critic_values["critic_loss"].item(), "generator_loss": loss_generator.item(),
                      "gradient_penalty": critic_values["gradient_penalty"].item(),
                      "wasserstein": critic_values["wasserstein"].item()}
            if fake_logits is not None:
                values["class_loss_real"] = critic_values["class_loss_real"].item()
                values["class_loss_fake"] = loss_class_fake.item()
            for key, value in values.items():
                interval[key] = interval.get(key, 0.0) + value
            interval_steps += 1
            bar.update(1)
            if step % train_config.log_every == 0 or step == steps:
                seconds = (time.perf_counter() - interval_start) / interval_steps
                record = {"step": step, **{k: v / interval_steps for k, v in interval.items()}, "seconds_per_step": seconds}
                history.append(record)
                bar.set_postfix(critic=f"{record['critic_loss']:.3f}", w=f"{record['wasserstein']:.3f}")
                classes = ""
                if "class_loss_real" in record:
                    classes = f" class_loss real {record['class_loss_real']:.4f} fake {record['class_loss_fake']:.4f}"
                logger.info("step %d/%d critic_loss %.4f generator_loss %.4f penalty %.4f wasserstein %.4f%s %.3fs/step",
                            step, steps, record["critic_loss"], record["generator_loss"],
                            record["gradient_penalty"], record["wasserstein"], classes, seconds)
                if on_log:
                    on_log(record)
                interval = dict.fromkeys(interval, 0.0)
                interval_start, interval_steps = time.perf_counter(), 0
            if step % steps_per_epoch == 0 or step % train_config.checkpoint_every == 0 or step == steps:
                save_started = time.perf_counter()
                save(step)
                # Seconds per step count training only, not checkpointing or its callbacks.
                interval_start += time.perf_counter() - save_started

    finally:
        bar.close()
    return TrainResult("finished", step, checkpoint_path, history)


def export_release(checkpoint_path, release_path, latent_scale=None):
    """Write a sampling-only checkpoint (EMA generator, configs, loss history) from a full or sampling one.

    ``latent_scale`` is stored for sampling; None keeps the source's (1 for a training checkpoint).
    Returns the checkpoint's step and the latent scale written.
    """
    state = ckpt.load_checkpoint(checkpoint_path)
    if latent_scale is None:
        latent_scale = state.get("latent_scale", 1.0)
    model_config = config_from_dict(ModelConfig, state["model_config"])
    generator_ema, _ = build_models(model_config)
    generator_ema.load_state_dict(state["generator_ema"])
    ckpt.save_checkpoint(
        release_path, model_config=model_config, train_config=config_from_dict(TrainConfig, state["train_config"]),
        generator_ema=generator_ema, step=state["step"], epoch=state["epoch"],
        history=state["history"], latent_scale=latent_scale,
    )
    return state["step"], float(latent_scale)
