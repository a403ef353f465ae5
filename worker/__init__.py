"""The Celery app and its tasks. Start a worker with ``celery -A worker worker -Q generate``."""

from .celery import app

__all__ = ["app"]
