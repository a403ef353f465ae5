"""The body of a train task: claim the run, train with progress reporting, publish model versions."""

import logging
import tempfile
import time
from pathlib import Path

from django.conf import settings

from backend.training import services
from backend.training.models import RunStatus, TrainingRun
from backend.training.selectors import classifier_path
from gan_core.checkpoint import load_generator
from gan_core.classifier import load_classifier
from gan_core.evaluate import evaluate
from gan_core.training import (CHECKPOINT_NAME, IncompatibleCheckpointError, NonFiniteLossError, export_release,
                               total_steps, train)

logger = logging.getLogger(__name__)

MNIST_TRAINING_IMAGES = 60_000
# Seconds between heartbeats, which also bounds how long a cancel takes to be seen.
HEARTBEAT_SECONDS = 1.0


class RunBusyError(Exception):
    """Another execution owns the run and its heartbeat is fresh."""


def configs_for(run: TrainingRun):
    return run.model_config(), run.train_config()


class RunReporter:
    """Callbacks that connect ``gan_core.training.train`` to the run's database row."""

    def __init__(self, run: TrainingRun, steps: int):
        self.run_id, self.steps, self.dataset = run.pk, steps, run.dataset
        self.last_heartbeat = 0.0
        self.deadline = time.monotonic() + settings.TRAINING["MAX_HOURS"] * 3600
        self.classifier = None

    def should_stop(self, step):
        if time.monotonic() - self.last_heartbeat < HEARTBEAT_SECONDS:
            return False
        self.last_heartbeat = time.monotonic()
        if self.last_heartbeat > self.deadline:
            # Past this point Redis could hand the task to another worker (the visibility
            # timeout is sized for MAX_HOURS), so the run ends here instead.
            hours = settings.TRAINING["MAX_HOURS"]
            services.training_run_fail(run_id=self.run_id, reason=f"exceeded the maximum run time of {hours} h at "
                                       f"step {step}; resume it to continue from its last checkpoint")
            return True
        status = services.training_run_heartbeat(run_id=self.run_id, step=step, total_steps=self.steps)
        if status != RunStatus.RUNNING:
            logger.info("training run %s is %s; stopping at step %d", self.run_id, status, step)
            return True
        return False

    def on_log(self, record):
        services.training_run_record(run_id=self.run_id, record=record)

    def on_checkpoint(self, checkpoint_path, step, grid_path):
        grid_png = Path(grid_path).read_bytes()
        services.training_run_store_grid(run_id=self.run_id, png=grid_png)
        with tempfile.TemporaryDirectory() as folder:
            release = Path(folder) / "release.pt"
            export_release(checkpoint_path, release)
            generator, _ = load_generator(release)
            if self.classifier is None:
                self.classifier = load_classifier(classifier_path(self.dataset))
            metrics = evaluate(generator, self.classifier, per_digit=settings.TRAINING["EVAL_PER_DIGIT"],
                               dataset=self.dataset)
            run = TrainingRun.objects.get(pk=self.run_id)
            services.model_version_save(run=run, name=f"run{self.run_id}-step{step}", step=step,
                                        checkpoint_path=release, grid_png=grid_png, metrics=metrics)


def run_training(run_id):
    """Train one run to its end, its cancellation or its failure.

    Raises :class:`RunBusyError` when another live execution owns the run; the task
    retries later, so a redelivered message never runs the same run twice at once.
    """
    claimed = services.training_run_claim(run_id=run_id)
    if claimed == "busy":
        raise RunBusyError(f"training run {run_id} is running elsewhere with a fresh heartbeat")
    if claimed == "done":
        logger.info("training run %s has nothing to run", run_id)
        return
    run = claimed
    model_config, train_config = configs_for(run)
    steps = total_steps(train_config, MNIST_TRAINING_IMAGES // train_config.batch_size)
    out_dir = Path(settings.TRAINING["RUNS_DIR"]) / str(run.pk)
    resume = (out_dir / CHECKPOINT_NAME).exists()
    logger.info("training run %s started (attempt %d, %s, %d steps)", run.pk, run.attempts,
                "resuming" if resume else "from scratch", steps)
    services.training_run_heartbeat(run_id=run.pk, step=run.step, total_steps=steps)

    reporter = RunReporter(run, steps)
    try:
        result = train(model_config, train_config, out_dir, resume=resume, should_stop=reporter.should_stop,
                       on_log=reporter.on_log, on_checkpoint=reporter.on_checkpoint, progress=False)
    except (NonFiniteLossError, IncompatibleCheckpointError) as error:
        # A retry would fail the same way. A non-finite loss recurs from the same checkpoint, and a
        # starting checkpoint that was removed or replaced stays unusable.
        services.training_run_fail(run_id=run.pk, reason=str(error))
        return
    if result.status == "finished":
        services.training_run_heartbeat(run_id=run.pk, step=result.step, total_steps=steps)
        services.training_run_finish(run_id=run.pk)
