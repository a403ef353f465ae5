import subprocess

import pytest

from backend.processes import start_worker, stop_process
from tests.conftest import wait_for_worker

# Small enough to train in seconds on two CPU cores.
TINY_RUN = {"max_steps": 6, "epochs": 1, "batch_size": 16, "generator_lr": 2e-4, "critic_lr": 2e-4, "n_critic": 1,
            "gp_weight": 10.0, "latent_dim": 16, "seed": 0, "device": "cpu", "precision": "float32", "checkpoint_every": 3,
            "log_every": 1, "critic_warmup": 0}


@pytest.fixture(scope="session")
def train_worker_env(worker_env, tmp_path_factory):
    return dict(worker_env, GAN_RUNS_DIR=str(tmp_path_factory.mktemp("runs")), GAN_TRAIN_EVAL_PER_DIGIT="10")


@pytest.fixture
def start_train_worker(train_worker_env, celery_app_on_test_redis, tmp_path):
    """Start a real worker on the train queue with extra environment; every one started is stopped afterwards."""
    started = []

    def start(processes=1, **overrides):
        log_file = tmp_path / f"train-worker-{len(started)}.log"
        process = start_worker(dict(train_worker_env, **overrides), queues="train", processes=processes,
                               log_file=log_file)
        process.log_file = log_file
        started.append(process)
        wait_for_worker(celery_app_on_test_redis)
        return process

    yield start
    for process in started:
        stop_process(process)


@pytest.fixture
def train_worker(start_train_worker):
    """A train worker with the default settings, for this test only.

    Each test gets its own, so no worker from another test takes its runs.
    """
    return start_train_worker()


def pool_children(process):
    listing = subprocess.run(["ps", "-o", "pid=", "--ppid", str(process.pid)], capture_output=True, text=True)
    return [int(pid) for pid in listing.stdout.split()]
