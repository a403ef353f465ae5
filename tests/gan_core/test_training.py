"""The training loop on real MNIST with tiny settings: checkpoints, resume, stop, and non-finite losses."""

import pytest
import torch

from gan_core import train as train_cli
from gan_core.checkpoint import load_checkpoint, load_generator
from gan_core.config import ModelConfig, TrainConfig
from gan_core.training import NonFiniteLossError, export_release, train

TINY_MODEL = ModelConfig(latent_dim=16, generator_width=8, critic_width=8)


def tiny_config(**overrides):
    values = {"max_steps": 4, "batch_size": 8, "n_critic": 2, "log_every": 1, "checkpoint_every": 2, "device": "cpu"}
    return TrainConfig(**{**values, **overrides})


def test_train_writes_checkpoint_history_and_grids(tmp_path):
    result = train(TINY_MODEL, tiny_config(), tmp_path, progress=False)

    assert (result.status, result.step) == ("finished", 4)
    assert [record["step"] for record in result.history] == [1, 2, 3, 4]
    assert set(result.history[0]) == {"step", "critic_loss", "generator_loss", "gradient_penalty", "wasserstein",
                                      "seconds_per_step"}
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert state["step"] == 4
    assert state["model_config"]["latent_dim"] == 16
    assert state["train_config"]["n_critic"] == 2
    assert sorted(path.name for path in (tmp_path / "samples").iterdir()) == [
        "latest.png", "step_0000002.png", "step_0000004.png"]


def test_keep_checkpoints_copies_each_one(tmp_path):
    train(TINY_MODEL, tiny_config(keep_checkpoints=True), tmp_path, progress=False)
    copies = sorted((tmp_path / "checkpoints").iterdir())
    assert [path.name for path in copies] == ["step_0000002.pt", "step_0000004.pt"]
    assert [load_checkpoint(path)["step"] for path in copies] == [2, 4]


def test_checkpoints_are_not_kept_by_default(tmp_path):
    train(TINY_MODEL, tiny_config(), tmp_path, progress=False)
    assert not (tmp_path / "checkpoints").exists()


def test_resume_continues_from_checkpoint(tmp_path):
    train(TINY_MODEL, tiny_config(max_steps=2), tmp_path, progress=False)
    result = train(TINY_MODEL, tiny_config(max_steps=4), tmp_path, resume=True, progress=False)
    assert result.step == 4
    assert [record["step"] for record in result.history] == [1, 2, 3, 4]


def test_should_stop_saves_and_returns(tmp_path):
    result = train(TINY_MODEL, tiny_config(max_steps=100, checkpoint_every=1000), tmp_path,
                   should_stop=lambda step: step >= 3, progress=False)
    assert (result.status, result.step) == ("stopped", 3)
    assert load_checkpoint(tmp_path / "checkpoint.pt")["step"] == 3


def test_non_finite_loss_raises_with_step(tmp_path):
    config = tiny_config(max_steps=200, generator_lr=1e30, critic_lr=1e30, checkpoint_every=1000)
    with pytest.raises(NonFiniteLossError, match="non-finite loss at generator step") as raised:
        train(TINY_MODEL, config, tmp_path, progress=False)
    assert 1 <= raised.value.step <= 200
    assert not (tmp_path / "checkpoint.pt").exists()


def test_export_release_samples_like_ema(tmp_path):
    train(TINY_MODEL, tiny_config(max_steps=2), tmp_path, progress=False)
    export_release(tmp_path / "checkpoint.pt", tmp_path / "release.pt")
    state = load_checkpoint(tmp_path / "release.pt")
    assert "critic" not in state
    assert "generator" not in state
    generator, _ = load_generator(tmp_path / "release.pt")
    assert not generator.training
    with torch.no_grad():
        assert generator(torch.zeros(1, 16), torch.tensor([3])).shape == (1, 1, 28, 28)


def test_cli_dry_run(tmp_path):
    assert train_cli.main(["--out", str(tmp_path), "--dry-run", "--no-progress", "--generator-width", "8",
                           "--critic-width", "8", "--batch-size", "8"]) == 0
    assert load_checkpoint(tmp_path / "checkpoint.pt")["step"] == 1
    log = (tmp_path / "train.log").read_text()
    assert "critic_loss" in log
    assert f"command: python -m gan_core.train --out {tmp_path} --dry-run --no-progress" in log


def test_cli_rejects_bad_n_critic(tmp_path):
    with pytest.raises(SystemExit, match="n_critic must be at least 1"):
        train_cli.main(["--out", str(tmp_path), "--n-critic", "0"])


@pytest.mark.parametrize("flag, value", [("--max-steps", "-1"), ("--epochs", "0")])
def test_cli_rejects_negative_lengths(tmp_path, flag, value):
    with pytest.raises(SystemExit, match=flag.lstrip("-").replace("-", "_")):
        train_cli.main(["--out", str(tmp_path), flag, value, "--no-progress"])


def auxiliary_run(tmp_path, critic_classifier_weight):
    model = ModelConfig(latent_dim=16, generator_width=8, critic_width=16, auxiliary_classifier=True)
    config = tiny_config(max_steps=30, batch_size=32, n_critic=5, log_every=10, checkpoint_every=30, critic_lr=1e-3,
                         critic_classifier_weight=critic_classifier_weight)
    return train(model, config, tmp_path, progress=False)


def test_classifier_head_learns_real_digits(tmp_path):
    """The head's cross-entropy on real digits falls from chance (ln 10 = 2.30) only when it is in the critic loss."""
    trained = auxiliary_run(tmp_path / "on", 1.0)
    untrained = auxiliary_run(tmp_path / "off", 0.0)

    assert trained.history[-1]["class_loss_real"] < 2.15
    assert untrained.history[-1]["class_loss_real"] > 2.25
    assert "class_loss_fake" in trained.history[-1]
    assert load_checkpoint(tmp_path / "on" / "checkpoint.pt")["model_config"]["auxiliary_classifier"]


def test_cli_rejects_negative_classifier_weight(tmp_path):
    with pytest.raises(SystemExit, match="generator_classifier_weight must be 0 or more"):
        train_cli.main(["--out", str(tmp_path), "--generator-classifier-weight", "-1", "--no-progress"])


def test_bfloat16_autocast_trains_float32_weights(tmp_path):
    """Autocast changes the forward passes only: the losses track float32's and the weights stay float32."""
    runs = {precision: train(TINY_MODEL, tiny_config(max_steps=2, precision=precision), tmp_path / precision,
                             progress=False) for precision in ("float32", "bfloat16")}
    for key in ("critic_loss", "generator_loss", "wasserstein"):
        expected = runs["float32"].history[0][key]
        assert runs["bfloat16"].history[0][key] == pytest.approx(expected, rel=0.05, abs=0.02), key
    state = load_checkpoint(tmp_path / "bfloat16" / "checkpoint.pt")
    assert state["train_config"]["precision"] == "bfloat16"
    weights = [*state["generator_ema"].values(), *state["critic"].values()]
    assert {tensor.dtype for tensor in weights if tensor.is_floating_point()} == {torch.float32}


def test_cli_rejects_unknown_precision(tmp_path):
    with pytest.raises(SystemExit, match="precision must be one of float32, bfloat16, got 'float16'"):
        train_cli.main(["--out", str(tmp_path), "--precision", "float16", "--no-progress"])


def parameter_values(state_dict, model):
    """The entries of ``state_dict`` that are parameters of ``model`` (not batch-norm statistics)."""
    names = {name for name, _ in model.named_parameters()}
    return {name: tensor for name, tensor in state_dict.items() if name in names}


def test_init_generator_loads_release_weights(tmp_path, caplog):
    """With the generator's learning rate at 0, its weights stay exactly those of the release it started from."""
    train(TINY_MODEL, tiny_config(max_steps=2), tmp_path / "first", progress=False)
    export_release(tmp_path / "first" / "checkpoint.pt", tmp_path / "release.pt")
    release = load_checkpoint(tmp_path / "release.pt")["generator_ema"]
    generator, _ = load_generator(tmp_path / "release.pt")

    config = tiny_config(max_steps=1, generator_lr=0.0, init_generator=str(tmp_path / "release.pt"), critic_warmup=3)
    with caplog.at_level("INFO", logger="gan_core.training"):
        train(TINY_MODEL, config, tmp_path / "second", progress=False)
    state = load_checkpoint(tmp_path / "second" / "checkpoint.pt")
    for key in ("generator", "generator_ema"):
        continued = parameter_values(state[key], generator)
        assert continued.keys() == parameter_values(release, generator).keys()
        for name, tensor in parameter_values(release, generator).items():
            assert torch.equal(continued[name], tensor), (key, name)
    assert "start from the EMA weights of" in caplog.text
    assert "critic warm-up: 3 iterations" in caplog.text
    assert "critic warm-up 3/3 critic_loss" in caplog.text


def test_fresh_run_weights_differ(tmp_path):
    """Without init_generator the weights differ from the release, so the check above can fail."""
    train(TINY_MODEL, tiny_config(max_steps=2), tmp_path / "first", progress=False)
    export_release(tmp_path / "first" / "checkpoint.pt", tmp_path / "release.pt")
    release = load_checkpoint(tmp_path / "release.pt")["generator_ema"]
    train(TINY_MODEL, tiny_config(max_steps=1, generator_lr=0.0, seed=1), tmp_path / "second", progress=False)
    fresh = load_checkpoint(tmp_path / "second" / "checkpoint.pt")["generator"]
    assert not all(torch.equal(fresh[name], release[name]) for name in release if release[name].is_floating_point())


def test_cli_rejects_init_generator_of_another_model(tmp_path):
    train(TINY_MODEL, tiny_config(max_steps=1), tmp_path / "first", progress=False)
    with pytest.raises(SystemExit, match=r"generator_width \(checkpoint 8, this run 16\).*pass the checkpoint's values"):
        train_cli.main(["--out", str(tmp_path / "second"), "--no-progress", "--latent-dim", "16",
                        "--generator-width", "16", "--critic-width", "8", "--max-steps", "1",
                        "--init-generator", str(tmp_path / "first" / "checkpoint.pt")])


@pytest.mark.parametrize("name, content, message", [
    ("missing.pt", None, "init_generator: checkpoint not found at .*pass a file written by gan_core.train"),
    ("notes.txt", b"not a checkpoint", "is not a checkpoint written by gan_core .UnpicklingError.; pass a file"),
])
def test_cli_rejects_unreadable_init_generator(tmp_path, name, content, message):
    if content is not None:
        (tmp_path / name).write_bytes(content)
    with pytest.raises(SystemExit, match=message):
        train_cli.main(["--out", str(tmp_path / "run"), "--no-progress", "--max-steps", "1",
                        "--init-generator", str(tmp_path / name)])


def test_cli_rejects_negative_critic_warmup(tmp_path):
    with pytest.raises(SystemExit, match="critic_warmup must be 0 or a positive number"):
        train_cli.main(["--out", str(tmp_path), "--critic-warmup", "-5", "--no-progress"])


def test_cli_stop_after_then_resume(tmp_path):
    flags = ["--out", str(tmp_path), "--no-progress", "--latent-dim", "16", "--generator-width", "8",
             "--critic-width", "8", "--batch-size", "8", "--n-critic", "1", "--max-steps", "200",
             "--checkpoint-every", "1000", "--export", str(tmp_path / "release.pt")]
    # A deadline of 0.06 s passes long before 200 steps of data loading and training.
    assert train_cli.main([*flags, "--stop-after", "0.001"]) == 0
    stopped_at = load_checkpoint(tmp_path / "checkpoint.pt")["step"]
    assert stopped_at < 200
    assert not (tmp_path / "release.pt").exists()
    assert f"stopped after 0.001 minutes at step {stopped_at}" in (tmp_path / "train.log").read_text()

    assert train_cli.main([*flags, "--resume"]) == 0
    assert load_checkpoint(tmp_path / "checkpoint.pt")["step"] == 200
    assert load_checkpoint(tmp_path / "release.pt")["step"] == 200


@pytest.mark.parametrize("value", ["-1", "nan", "inf"])
def test_cli_rejects_bad_stop_after(tmp_path, value):
    with pytest.raises(SystemExit, match=f"--stop-after must be 0 .no limit. or a number of minutes, got -?{value}"):
        train_cli.main(["--out", str(tmp_path), "--stop-after", value, "--no-progress"])


def test_cli_rejects_export_over_run_checkpoint(tmp_path, capsys):
    checkpoint = tmp_path / "checkpoint.pt"
    with pytest.raises(SystemExit) as raised:
        train_cli.main(["--out", str(tmp_path), "--dry-run", "--no-progress", "--export", str(checkpoint)])
    assert raised.value.code == 2
    assert f"--export: {checkpoint} is the run's checkpoint, and writing it would destroy that file" in capsys.readouterr().err
    assert not (tmp_path / "checkpoint.pt").exists()


def test_warmup_polls_should_stop(tmp_path):
    polls = []

    def stop_on_third_poll(step):
        polls.append(step)
        return len(polls) == 3

    config = tiny_config(critic_warmup=1000)
    result = train(TINY_MODEL, config, tmp_path, should_stop=stop_on_third_poll, progress=False)
    assert (result.status, result.step) == ("stopped", 0)
    assert polls == [0, 0, 0]
    assert load_checkpoint(tmp_path / "checkpoint.pt")["step"] == 0
