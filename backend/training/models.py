"""Training runs started from the admin, and the model versions they produce."""

import functools

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver


class RunStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


class Device(models.TextChoices):
    AUTO = "auto", "auto (CUDA when available)"
    CPU = "cpu", "CPU"
    CUDA = "cuda", "CUDA"


class Precision(models.TextChoices):
    FLOAT32 = "float32", "float32"
    BFLOAT16 = "bfloat16", "bfloat16 autocast (1.9x faster per step on a CPU with AMX)"


class Dataset(models.TextChoices):
    MNIST = "mnist", "MNIST"
    FASHION_MNIST = "fashion-mnist", "Fashion-MNIST"


class TrainingRun(models.Model):
    """One training of the conditional WGAN-GP. The defaults follow the shipped recipe, at 12,000 steps and in float32."""

    name = models.CharField(max_length=100, blank=True, help_text="Label shown in lists; optional.")
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED, db_index=True)

    dataset = models.CharField(max_length=16, choices=Dataset.choices, default=Dataset.MNIST)
    max_steps = models.PositiveIntegerField(
        default=12000, help_text="Generator steps to train for; 0 means train for the number of epochs instead.")
    epochs = models.PositiveIntegerField(
        default=27, help_text="Passes over the 60,000 training images; used only when max steps is 0.")
    batch_size = models.PositiveIntegerField(default=64)
    generator_lr = models.FloatField("generator learning rate", default=2e-4)
    critic_lr = models.FloatField("critic learning rate", default=2e-4)
    n_critic = models.PositiveIntegerField(default=5, help_text="Critic steps per generator step.")
    gp_weight = models.FloatField("gradient penalty weight", default=10.0)
    latent_dim = models.PositiveIntegerField("latent size", default=128)
    conditional_norm = models.BooleanField(
        "conditional batch norm", default=True,
        help_text="Let the digit set the gain and bias of every batch norm in the generator.")
    auxiliary_classifier = models.BooleanField(
        default=True, help_text="Give the critic a head that classifies the digit; the generator is also trained "
                                "to make that head recognise the digit it was asked for.")
    seed = models.PositiveIntegerField(default=0)
    device = models.CharField(max_length=8, choices=Device.choices, default=Device.AUTO)
    precision = models.CharField(
        max_length=8, choices=Precision.choices, default=Precision.FLOAT32,
        help_text="Number format of the forward passes; weights and optimiser state stay float32.")
    checkpoint_every = models.PositiveIntegerField(
        default=1000, help_text="Generator steps between checkpoints; each checkpoint becomes a model version.")
    log_every = models.PositiveIntegerField(default=50, help_text="Generator steps between loss records.")
    start_from = models.ForeignKey(
        "ModelVersion", verbose_name="start from version", null=True, blank=True, on_delete=models.PROTECT,
        related_name="continued_by",
        help_text="Train this version's generator further instead of starting from random weights. The critic "
                  "starts afresh, so set critic warm-up too. The model fields must match the version's.")
    start_from_default = models.BooleanField(
        "start from the default model", default=False,
        help_text="Train the dataset's default checkpoint further (the shipped weights unless GAN_MODEL_PATH or "
                  "GAN_FASHION_MODEL_PATH names another). Leave the version above empty.")
    critic_warmup = models.PositiveIntegerField(
        "critic warm-up", default=0,
        help_text="Critic iterations against the frozen generator before the first generator step, so that a new "
                  "critic has learned before it guides a trained generator. 2,000 took about 2 minutes on 2 CPU cores.")

    step = models.PositiveIntegerField(default=0)
    total_steps = models.PositiveIntegerField(default=0)
    # One record per log interval: step, critic_loss, generator_loss, gradient_penalty, wasserstein.
    history = models.JSONField(default=list, blank=True)
    latest_grid = models.FileField(upload_to="training/grids/", blank=True, max_length=255)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # The executing worker refreshes this; a run whose heartbeat is stale has lost its worker.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Where and when the current attempt started, for the ETA.
    attempt_start_step = models.PositiveIntegerField(default=0)
    attempt_started_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.name or f"run {self.pk}"

    def model_config(self):
        """Return the run's gan_core ModelConfig. Fields that the admin does not show keep their defaults."""
        from gan_core.config import ModelConfig

        return ModelConfig(latent_dim=self.latent_dim, conditional_norm=self.conditional_norm,
                           auxiliary_classifier=self.auxiliary_classifier)

    def train_config(self):
        """Return the run's gan_core TrainConfig; it raises ValueError for settings that cannot train."""
        from gan_core.config import TrainConfig

        initial_checkpoint = self.initial_checkpoint()
        return TrainConfig(
            dataset=self.dataset, epochs=self.epochs, max_steps=self.max_steps, batch_size=self.batch_size,
            generator_lr=self.generator_lr, critic_lr=self.critic_lr, n_critic=self.n_critic, gp_weight=self.gp_weight,
            seed=self.seed, device=self.device, precision=self.precision, log_every=self.log_every,
            checkpoint_every=self.checkpoint_every, init_generator=str(initial_checkpoint or ""),
            critic_warmup=self.critic_warmup,
        )

    def initial_checkpoint(self):
        """Return the path of the checkpoint whose generator this run starts from, or None for random weights."""
        if self.start_from is not None:
            return self.start_from.checkpoint.path
        if self.start_from_default:
            from .selectors import default_model_path

            return default_model_path(self.dataset)
        return None

    def clean(self):
        super().clean()
        self.check_settings()
        if self.start_from is not None and self.start_from_default:
            raise ValidationError({"start_from_default": "choose either a version to start from or the default "
                                                         "model, not both; clear one of them"})
        if self.start_from is not None and self.start_from.dataset != self.dataset:
            raise ValidationError({"start_from": f"version {self.start_from.version} was trained on "
                                                 f"{self.start_from.get_dataset_display()}; choose a "
                                                 f"{self.get_dataset_display()} version or change the dataset"})
        path = self.initial_checkpoint()
        if path is not None:
            self.check_initial_checkpoint(path)

    def check_settings(self):
        """Raise a ValidationError on the field whose value gan_core's configurations reject.

        Without this a run with, say, 0 steps between checkpoints would be queued and fail in the worker.
        """
        settings_fields = ("dataset", "epochs", "max_steps", "batch_size", "generator_lr", "critic_lr", "n_critic",
                           "gp_weight", "latent_dim", "seed", "device", "precision", "log_every", "checkpoint_every",
                           "critic_warmup")
        if any(getattr(self, name) is None for name in settings_fields):
            return  # the form has already reported the empty or malformed field
        try:
            self.model_config()
            self.train_config()
        except ValueError as error:
            name = str(error).split(" ", 1)[0]
            raise ValidationError({name: str(error)} if name in settings_fields else str(error)) from error

    def check_initial_checkpoint(self, path):
        """Raise a ValidationError naming each model field that differs from the starting checkpoint's."""
        from gan_core.checkpoint import CheckpointError, load_checkpoint, model_config_differences

        field = "start_from" if self.start_from is not None else "start_from_default"
        try:
            state = load_checkpoint(path)
        except (OSError, CheckpointError) as error:
            raise ValidationError({field: f"the starting model could not be read: {error}"}) from error
        labels = {"latent_dim": "latent size", "conditional_norm": "conditional batch norm",
                  "auxiliary_classifier": "auxiliary classifier"}
        different = model_config_differences(self.model_config(), state)
        if different:
            raise ValidationError({field: "the starting model was built with "
                                   + "; ".join(f"{labels.get(name, name)} {theirs!r} (this run {ours!r})"
                                               for name, (theirs, ours) in different.items())
                                   + "; set these fields to the starting model's values"})


class ModelVersion(models.Model):
    """A sampling checkpoint that generate jobs can use; at most one is active per dataset."""

    name = models.CharField(max_length=100, unique=True)
    dataset = models.CharField(max_length=16, choices=Dataset.choices, default=Dataset.MNIST, db_index=True)
    run = models.ForeignKey(TrainingRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="versions")
    step = models.PositiveIntegerField(default=0)
    checkpoint = models.FileField(upload_to="models/", max_length=255)
    # "<name>-<sha256 prefix of the file>", recorded on every job made with this version.
    version = models.CharField(max_length=100, unique=True)
    grid = models.ImageField(upload_to="models/grids/", blank=True, max_length=255)
    # agreement, per_digit agreement, frechet_distance and its real-data floor (gan_core.evaluate).
    metrics = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["dataset"], condition=models.Q(is_active=True),
                                    name="one_active_version_per_dataset"),
        ]

    def __str__(self):
        return self.version


@receiver(post_delete, sender=ModelVersion)
def delete_version_files(sender, instance, **kwargs):
    """Remove a deleted version's checkpoint and grid from media, once the deletion is committed.

    Each version owns copies of its files (``services.model_version_save`` copies them in), so
    nothing else refers to them.
    """
    for field in (instance.checkpoint, instance.grid):
        if field.name:
            transaction.on_commit(functools.partial(field.storage.delete, field.name))
