"""Reads of model versions."""

from dataclasses import dataclass

from django.conf import settings

from .models import ModelVersion


@dataclass(frozen=True)
class ModelSource:
    """Checkpoint path for a worker to load, with the version string that jobs record."""

    path: str
    version: str | None  # None: derive "<file stem>-<sha256 prefix>" from the file


def active_model_source() -> ModelSource:
    """Return the active model version, or the shipped default when none is active."""
    active = ModelVersion.objects.filter(is_active=True).first()
    if active is not None:
        return ModelSource(active.checkpoint.path, active.version)
    return ModelSource(settings.GAN["MODEL_PATH"], None)
