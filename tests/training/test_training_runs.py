"""Training runs started from the admin and run by a real train worker, with tiny settings."""

import os
import signal
import time
from pathlib import Path

import pytest
import torch
from django.conf import settings

from backend.training import services
from backend.training.models import ModelVersion, RunStatus, TrainingRun
from gan_core.checkpoint import load_checkpoint, load_generator
from worker.model_cache import model_version_for

from .conftest import TINY_RUN, pool_children

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CHANGELIST = "/admin/training/trainingrun/"


def wait_for_run(run_id, predicate, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = TrainingRun.objects.get(pk=run_id)
        if predicate(run):
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} is {run.status} at step {run.step} after {timeout} s")


def create_run(**fields):
    return services.training_run_create(run=TrainingRun(**{**TINY_RUN, **fields}))


def run_action(admin_client, action, run):
    return admin_client.post(CHANGELIST, {"action": action, "_selected_action": [run.pk]}, follow=True)


def test_admin_form_run_completes(admin_client, train_worker):
    form = {**TINY_RUN, "name": "tiny", "dataset": "mnist", "conditional_norm": "on", "precision": "bfloat16",
            "_save": "Save"}
    response = admin_client.post(f"{CHANGELIST}add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]

    run = wait_for_run(TrainingRun.objects.get().pk, lambda run: run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED))
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert (run.step, run.total_steps) == (6, 6)
    assert [record["step"] for record in run.history] == [1, 2, 3, 4, 5, 6]
    assert run.latest_grid and Path(run.latest_grid.path).exists()
    versions = list(run.versions.order_by("step"))
    assert [version.step for version in versions] == [3, 6]
    assert all(0 <= version.metrics["agreement"] <= 1 for version in versions)
    assert "frechet_distance" in versions[0].metrics
    # A checkbox left out of the form is off.
    state = load_checkpoint(versions[0].checkpoint.path)
    assert (state["model_config"]["conditional_norm"], state["model_config"]["auxiliary_classifier"]) == (True, False)
    assert state["train_config"]["precision"] == "bfloat16"

    page = admin_client.get(f"{CHANGELIST}{run.pk}/change/").content.decode()
    assert "<svg" in page
    assert "<progress" in page
    assert "step 6 of 6" in page
    assert run.latest_grid.url in page
    listing = admin_client.get(CHANGELIST).content.decode()
    assert "succeeded" in listing
    assert "step 6 of 6" in listing


def test_cancel_then_resume(admin_client, train_worker):
    run = create_run(max_steps=60, checkpoint_every=1000, log_every=5)
    wait_for_run(run.pk, lambda run: run.step >= 10)

    run_action(admin_client, "cancel_runs", run)
    # The worker stops at its next step and saves a checkpoint, which becomes a model version.
    wait_for_run(run.pk, lambda run: run.versions.exists(), timeout=30)
    canceled = TrainingRun.objects.get(pk=run.pk)
    assert canceled.status == RunStatus.CANCELED
    stopped_step = canceled.versions.get().step
    assert 10 <= stopped_step < 60

    response = run_action(admin_client, "resume_runs", run)
    assert "resume from step" in response.content.decode()
    finished = wait_for_run(run.pk, lambda run: run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED))
    assert finished.status == RunStatus.SUCCEEDED, finished.error
    assert finished.step == 60
    steps = [record["step"] for record in finished.history]
    assert steps == sorted(set(steps))
    assert steps[-1] == 60
    assert "resuming" in train_worker.log_file.read_text()


def test_resume_rejects_running_run(admin_client):
    run = TrainingRun.objects.create(**TINY_RUN, status=RunStatus.SUCCEEDED)
    response = run_action(admin_client, "resume_runs", run)
    assert "only canceled or failed runs can be resumed" in response.content.decode()


def test_non_finite_loss_fails_run_naming_step(train_worker):
    run = create_run(max_steps=100, generator_lr=1e3, critic_lr=1e3, checkpoint_every=1000)
    failed = wait_for_run(run.pk, lambda run: run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED))
    assert failed.status == RunStatus.FAILED
    assert "non-finite loss at generator step" in failed.error
    assert not failed.versions.exists()


def test_worker_killed_mid_run_resumes_then_fails(start_train_worker):
    worker = start_train_worker(GAN_TRAIN_HEARTBEAT_STALE_SECONDS="2", GAN_TRAIN_MAX_ATTEMPTS="2")
    run = create_run(max_steps=100_000, checkpoint_every=20, log_every=10)
    wait_for_run(run.pk, lambda run: run.versions.exists(), timeout=60)

    (child,) = pool_children(worker)
    os.kill(child, signal.SIGKILL)
    resumed = wait_for_run(run.pk, lambda run: run.attempts == 2 and run.status == RunStatus.RUNNING, timeout=60)
    assert resumed.error == ""

    time.sleep(1)
    for child in pool_children(worker):
        os.kill(child, signal.SIGKILL)
    failed = wait_for_run(run.pk, lambda run: run.status != RunStatus.RUNNING, timeout=60)
    assert failed.status == RunStatus.FAILED
    assert "gave up after 2 attempts" in failed.error


def test_short_visibility_timeout_never_runs_twice(start_train_worker):
    worker = start_train_worker(processes=2, CELERY_VISIBILITY_TIMEOUT="2", CELERY_UNACKED_RESTORE_INTERVAL="1",
                                CELERY_UNACKED_RESTORE_THROTTLE="1", GAN_TRAIN_HEARTBEAT_STALE_SECONDS="60")
    run = create_run(max_steps=150, checkpoint_every=1000, log_every=10)
    finished = wait_for_run(run.pk, lambda run: run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED), timeout=180)

    assert finished.status == RunStatus.SUCCEEDED, finished.error
    assert finished.attempts == 1
    steps = [record["step"] for record in finished.history]
    assert steps == list(range(10, 151, 10))
    log = worker.log_file.read_text()
    assert "running elsewhere with a fresh heartbeat" in log


def test_activation_switches_generate_version(admin_client, celery_worker_process, tmp_path, client):
    shipped = Path(settings.GAN["MODEL_PATH"])
    grid = b"\x89PNG\r\n\x1a\n"
    good = services.model_version_save(run=None, name="good", step=1, checkpoint_path=shipped, grid_png=grid,
                                       metrics={"agreement": 0.99})
    weak = services.model_version_save(run=None, name="weak", step=1, checkpoint_path=shipped, grid_png=grid,
                                       metrics={"agreement": 0.40})

    response = admin_client.post("/admin/training/modelversion/", {"action": "activate", "_selected_action": [weak.pk]},
                                 follow=True)
    assert "below the quality floor" in response.content.decode()
    assert not ModelVersion.objects.filter(is_active=True).exists()

    response = admin_client.post("/admin/training/modelversion/", {"action": "activate", "_selected_action": [good.pk]},
                                 follow=True)
    assert "is now active" in response.content.decode()
    job = generate_and_wait(client)
    assert job["model_version"] == good.version

    services.model_version_activate(version_id=weak.pk, override=True)
    assert generate_and_wait(client)["model_version"] == weak.version

    response = admin_client.post("/admin/training/modelversion/",
                                 {"action": "deactivate", "_selected_action": [good.pk, weak.pk]}, follow=True)
    assert f"Version {weak.version} is no longer active; new MNIST jobs use the default model." in response.content.decode()
    assert not ModelVersion.objects.filter(is_active=True).exists()
    assert generate_and_wait(client)["model_version"] == model_version_for(shipped)


def generate_and_wait(client, timeout=30):
    job_id = client.post("/api/generate", data='{"digit": 1, "seed": 3}', content_type="application/json").json()["id"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} not finished after {timeout} s")


def test_run_past_max_hours_fails(start_train_worker):
    start_train_worker(GAN_TRAIN_MAX_HOURS="0.001")  # 3.6 seconds
    run = create_run(max_steps=100_000, checkpoint_every=100_000, log_every=10)
    failed = wait_for_run(run.pk, lambda run: run.status != RunStatus.RUNNING and run.attempts > 0, timeout=90)
    assert failed.status == RunStatus.FAILED
    assert "exceeded the maximum run time of 0.001 h" in failed.error
    assert failed.step < 100_000


def parameters_of(checkpoint_path):
    generator, _ = load_generator(checkpoint_path)
    return dict(generator.named_parameters())


def admin_add(admin_client, **fields):
    # conditional_norm and auxiliary_classifier as in TINY_RUN's runs, which take the model defaults.
    form = {**TINY_RUN, "dataset": "mnist", "conditional_norm": "on", "auxiliary_classifier": "on", "_save": "Save",
            **fields}
    return admin_client.post(f"{CHANGELIST}add/", form)


def form_errors(response):
    assert response.status_code == 200, "the form was accepted"
    return {name: " ".join(errors) for name, errors in response.context["adminform"].form.errors.items()}


def test_run_continues_a_model_version(admin_client, train_worker):
    first = create_run(name="first")
    first = wait_for_run(first.pk, lambda run: run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED))
    assert first.status == RunStatus.SUCCEEDED, first.error
    version = first.versions.get(step=6)

    # With the generator's learning rate at 0, the continued run's generator stays the version's.
    response = admin_add(admin_client, name="continued", start_from=version.pk, critic_warmup=2, generator_lr=0.0)
    assert response.status_code == 302, response.content.decode()[:2000]
    continued = TrainingRun.objects.get(name="continued")
    continued = wait_for_run(continued.pk, lambda run: run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED))
    assert continued.status == RunStatus.SUCCEEDED, continued.error
    state = load_checkpoint(continued.versions.get(step=6).checkpoint.path)
    assert state["train_config"]["init_generator"] == version.checkpoint.path
    assert state["train_config"]["critic_warmup"] == 2
    expected = parameters_of(version.checkpoint.path)
    got = parameters_of(continued.versions.get(step=6).checkpoint.path)
    assert got.keys() == expected.keys()
    assert all(torch.equal(got[name], expected[name]) for name in expected)

    # The same version under another model or dataset is rejected, naming the field.
    errors = form_errors(admin_add(admin_client, name="wider", start_from=version.pk, latent_dim=32))
    assert "latent size 16 (this run 32)" in errors["start_from"]
    errors = form_errors(admin_add(admin_client, name="fashion", start_from=version.pk, dataset="fashion-mnist"))
    assert "was trained on MNIST" in errors["start_from"]
    errors = form_errors(admin_add(admin_client, name="both", start_from=version.pk, start_from_default="on"))
    assert "not both" in errors["start_from_default"]
    assert not TrainingRun.objects.filter(name__in=["wider", "fashion", "both"]).exists()


def test_default_model_config_checked(admin_client):
    """The shipped MNIST model has latent size 128, so a run of latent size 16 cannot start from it."""
    errors = form_errors(admin_add(admin_client, name="tiny", start_from_default="on"))
    assert "latent size 128 (this run 16)" in errors["start_from_default"]
    assert "set these fields to the starting model's values" in errors["start_from_default"]
    assert not TrainingRun.objects.exists()


def test_start_from_unreadable_default_model(admin_client, settings, tmp_path):
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    settings.GAN = {**settings.GAN, "MODEL_PATH": str(broken)}
    errors = form_errors(admin_add(admin_client, name="tiny", start_from_default="on"))
    assert f"the starting model could not be read: {broken} is not a checkpoint written by gan_core" in errors[
        "start_from_default"]
    assert not TrainingRun.objects.exists()


@pytest.mark.parametrize("field, value, message", [
    ("batch_size", "0", "batch_size must be at least 1, got 0"),
    ("n_critic", "0", "n_critic must be at least 1, got 0"),
    ("checkpoint_every", "0", "checkpoint_every must be at least 1 generator step, got 0"),
    ("log_every", "0", "log_every must be at least 1 generator step, got 0"),
    ("generator_lr", "-1", "generator_lr must be 0 or more, got -1.0"),
    ("critic_lr", "-0.001", "critic_lr must be 0 or more"),
    ("gp_weight", "-1", "gp_weight must be 0 or more, got -1.0"),
    ("latent_dim", "0", "latent_dim must be at least 1, got 0"),
])
def test_admin_form_rejects_untrainable_settings(admin_client, field, value, message):
    errors = form_errors(admin_add(admin_client, name="bad", **{field: value}))
    assert message in errors[field]
    assert not TrainingRun.objects.exists()


def test_admin_form_rejects_zero_epochs_without_steps(admin_client):
    errors = form_errors(admin_add(admin_client, name="bad", max_steps="0", epochs="0"))
    assert "epochs must be at least 1, got 0" in errors["epochs"]
    assert not TrainingRun.objects.exists()


def test_deleting_a_version_removes_its_files(admin_client):
    shipped = Path(settings.GAN["MODEL_PATH"])
    version = services.model_version_save(run=None, name="doomed", step=1, checkpoint_path=shipped,
                                          grid_png=b"\x89PNG\r\n\x1a\n", metrics={"agreement": 0.99})
    services.model_version_activate(version_id=version.pk)
    files = [Path(version.checkpoint.path), Path(version.grid.path)]
    assert all(path.exists() for path in files)

    response = admin_client.post("/admin/training/modelversion/",
                                 {"action": "delete_selected", "_selected_action": [version.pk], "post": "yes"},
                                 follow=True)
    assert response.status_code == 200
    assert (f"Version {version.version} was the active one; new MNIST jobs now use the default model."
            in response.content.decode())
    assert not ModelVersion.objects.filter(pk=version.pk).exists()
    assert not any(path.exists() for path in files)
    assert shipped.exists()


def test_delete_page_warns_for_active_version(admin_client):
    shipped = Path(settings.GAN["MODEL_PATH"])
    version = services.model_version_save(run=None, name="single", step=1, checkpoint_path=shipped,
                                          grid_png=b"\x89PNG\r\n\x1a\n", metrics={"agreement": 0.99})
    services.model_version_activate(version_id=version.pk)
    response = admin_client.post(f"/admin/training/modelversion/{version.pk}/delete/", {"post": "yes"}, follow=True)
    assert "was the active one; new MNIST jobs now use the default model." in response.content.decode()
    assert not ModelVersion.objects.exists()
