"""Reads of model versions."""

from dataclasses import dataclass

from django.conf import settings

from .models import ModelVersion


@dataclass(frozen=True)
class ModelSource:
    """Checkpoint path for a worker to load, with the version string that jobs record."""

    path: str
    version: str | None  # None: derive "<file stem>-<sha256 prefix>" from the file


def default_model_path(dataset="mnist") -> str:
    """The shipped (or configured) checkpoint of ``dataset``, used while no version of it is active."""
    return settings.GAN["FASHION_MODEL_PATH" if dataset == "fashion-mnist" else "MODEL_PATH"]


def active_model_source(dataset="mnist") -> ModelSource:
    """Return the dataset's active model version, or its default checkpoint when none is active."""
    active = ModelVersion.objects.filter(is_active=True, dataset=dataset).first()
    if active is not None:
        return ModelSource(active.checkpoint.path, active.version)
    return ModelSource(default_model_path(dataset), None)


def quality_floor(dataset="mnist") -> float:
    return settings.TRAINING["FASHION_QUALITY_FLOOR" if dataset == "fashion-mnist" else "QUALITY_FLOOR"]


def classifier_path(dataset="mnist") -> str:
    return settings.TRAINING["FASHION_CLASSIFIER_PATH" if dataset == "fashion-mnist" else "CLASSIFIER_PATH"]
