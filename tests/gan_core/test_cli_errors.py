"""Bad arguments to the gan_core commands: one line naming the argument, no traceback, no file damaged."""

import json
import re

import pytest
import torch

from gan_core import classifier, evaluate, export, sample
from gan_core import train as train_cli
from gan_core.checkpoint import file_digest, save_checkpoint
from gan_core.classifier import ClassifierFileError, load_classifier
from gan_core.config import ModelConfig, TrainConfig
from gan_core.models import build_models

COMMANDS = {"export": export.main, "sample": sample.main, "evaluate": evaluate.main,
            "classifier": classifier.main, "train": train_cli.main}

# {source}: a sampling checkpoint; {folder}: an existing folder; {missing}: a path with no file.
USAGE_ERRORS = [
    ("export", ["{missing}", "{folder}/out.pt"], r"SOURCE: no file at .*missing\.pt; pass a checkpoint"),
    ("export", ["{source}", "{source}"], r"OUT: .*source\.pt is SOURCE, and writing it would destroy that file"),
    ("export", ["{source}", "{folder}"], r"OUT: .* is a folder; pass a file path"),
    ("export", ["{source}", "{source}/out.pt"], r"OUT: cannot create the folder .*source\.pt"),
    ("export", ["{source}", "{folder}/out.pt", "--latent-scale", "3"], r"latent scale must be .* at most 2"),
    ("export", ["{source}", "{folder}/out.pt", "--latent-scale", "1e308"], r"at most 2 .*got 1e\+308"),
    ("sample", ["{source}", "{source}"], r"OUT: .*source\.pt does not end in \.png"),
    ("sample", ["{missing}", "{folder}/out.png"], r"CHECKPOINT: no file at .*missing\.pt; pass a checkpoint from"),
    ("sample", ["{source}", "{folder}"], r"OUT: .* is a folder"),
    ("evaluate", ["{source}", "--json", "{source}"], r"--json: .*source\.pt does not end in \.json; pass a \.json file name"),
    ("evaluate", ["{source}", "--json", "{folder}/mnist_classifier.pt"], r"--json: .* does not end in \.json"),
    ("sample", ["{source}", "{folder}/fashion_mnist.pt"], r"OUT: .*fashion_mnist\.pt does not end in \.png"),
    ("export", ["{source}", "{folder}/model.png"], r"OUT: .*model\.png does not end in \.pt"),
    ("evaluate", ["{source}", "--json", "{folder}"], r"--json: .* is a folder"),
    ("evaluate", ["{missing}"], r"CHECKPOINT: no file at .*missing\.pt"),
    ("evaluate", ["{source}", "--classifier", "{missing}"], r"--classifier: no file at .*; pass weights from"),
    ("evaluate", ["{source}", "--per-digit", "1"], r"--per-digit must be between 2 and 10,000, got 1"),
    ("evaluate", ["{source}", "--per-digit", "-3"], r"--per-digit must be between 2 and 10,000, got -3"),
    ("evaluate", ["{source}", "--togr-epochs", "-1"], r"--togr-epochs must be 0 \(skip\) or a number of epochs"),
    ("evaluate", ["{source}", "--latent-scale", "2.5"], r"--latent-scale: latent scale must be .* at most 2"),
    ("classifier", ["--out", "{folder}/c.pt", "--epochs", "0"], r"--epochs must be at least 1, got 0"),
    ("classifier", ["--out", "{folder}/c.pt", "--threads", "-2"], r"--threads must be 0 \(torch's default\) or a number"),
    ("classifier", ["--out", "{folder}"], r"--out: .* is a folder"),
    ("train", ["--out", "{folder}/run", "--dry-run", "--threads", "-1"], r"--threads must be 0 \(torch's default\)"),
]


def fill(argv, source, folder):
    values = {"source": source, "folder": folder, "missing": folder / "missing.pt"}
    return [arg.format(**values) for arg in argv]


@pytest.mark.parametrize("command, argv, message", USAGE_ERRORS)
def test_bad_argument_is_one_usage_line(source, tmp_path, capsys, command, argv, message):
    before = file_digest(source)
    with pytest.raises(SystemExit) as raised:
        COMMANDS[command](fill(argv, source, tmp_path))
    assert raised.value.code == 2
    error = capsys.readouterr().err
    assert re.search(message, error), error
    assert "Traceback" not in error
    assert file_digest(source) == before
    assert sorted(path.name for path in tmp_path.iterdir()) == []


@pytest.fixture
def foreign(tmp_path):
    path = tmp_path / "foreign.pt"
    path.write_bytes(b"not a checkpoint")
    return path


def test_evaluate_names_a_foreign_checkpoint(foreign):
    with pytest.raises(SystemExit, match=r"CHECKPOINT: .*foreign\.pt is not a checkpoint written by gan_core"):
        evaluate.main([str(foreign)])


def test_evaluate_rejects_classifier_as_checkpoint():
    with pytest.raises(SystemExit, match="CHECKPOINT: .* contains evaluation-classifier weights, not a generator"):
        evaluate.main([str(evaluate.default_classifier("mnist"))])


def test_evaluate_names_a_foreign_classifier(source, foreign):
    with pytest.raises(SystemExit, match=r"--classifier: .*foreign\.pt is not a classifier written by"):
        evaluate.main([str(source), "--classifier", str(foreign)])


def test_load_classifier_rejects_generator(source):
    with pytest.raises(ClassifierFileError, match="no state_dict in it; a generator checkpoint goes in CHECKPOINT"):
        load_classifier(source)


def test_evaluate_writes_json_into_a_new_folder(source, tmp_path, capsys):
    out = tmp_path / "new" / "folder" / "metrics.json"
    assert evaluate.main([str(source), "--per-digit", "2", "--json", str(out)]) == 0
    metrics = json.loads(out.read_text(), parse_constant=lambda name: pytest.fail(f"{name} is not JSON"))
    assert metrics["samples"] == 20
    assert metrics["latent_scale"] == 1.0
    assert "latent scale 1" in capsys.readouterr().out


def test_non_finite_figures_become_null():
    cleaned = evaluate.finite_or_none({"a": float("nan"), "b": [1.0, float("inf")], "c": {"d": 2}})
    assert cleaned == {"a": None, "b": [1.0, None], "c": {"d": 2}}


def test_failed_save_leaves_no_temporary_file(tmp_path):
    generator, _ = build_models(ModelConfig())
    target = tmp_path / "taken"
    target.mkdir()
    with pytest.raises(OSError):
        save_checkpoint(target, model_config=generator.config, train_config=TrainConfig(), generator_ema=generator)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["taken"]



@pytest.mark.parametrize("argv, message", [
    (["--checkpoint-every", "0"], "checkpoint_every must be at least 1 generator step, got 0"),
    (["--log-every", "0"], "log_every must be at least 1 generator step, got 0"),
    (["--generator-lr", "-1"], "generator_lr must be 0 or more, got -1.0"),
    (["--critic-lr", "nan"], "critic_lr must be 0 or more, got nan"),
    (["--gp-weight", "-1"], "gp_weight must be 0 or more"),
    (["--beta2", "1"], r"beta2 must be in \[0, 1\)"),
    (["--device", "gpu"], "device must be auto, cpu, cuda, cuda:N or mps, got 'gpu'"),
])
def test_train_rejects_settings_that_cannot_train(tmp_path, argv, message):
    with pytest.raises(SystemExit, match=f"invalid training option: {message}"):
        train_cli.main(["--out", str(tmp_path / "run"), "--dry-run", "--no-progress", *argv])
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("argv, message", [
    (["--latent-dim", "0"], "latent_dim must be at least 1, got 0"),
    (["--generator-width", "0"], "generator_width must be at least 1, got 0"),
])
def test_train_rejects_unbuildable_model_shapes(tmp_path, argv, message):
    with pytest.raises(SystemExit, match=f"invalid model option: {message}"):
        train_cli.main(["--out", str(tmp_path / "run"), "--dry-run", "--no-progress", *argv])


@pytest.mark.skipif(torch.cuda.is_available(), reason="the machine has a CUDA device")
def test_train_names_a_missing_cuda_device(tmp_path):
    with pytest.raises(SystemExit, match="device 'cuda' was requested but this machine has 0 CUDA devices"):
        train_cli.main(["--out", str(tmp_path / "run"), "--dry-run", "--no-progress", "--device", "cuda"])


def test_export_keeps_foreign_out_file(source, tmp_path, capsys):
    classifier_weights = tmp_path / "classifier.pt"
    classifier_weights.write_bytes(b"weights of something else")
    with pytest.raises(SystemExit) as raised:
        export.main([str(source), str(classifier_weights)])
    assert raised.value.code == 2
    assert "exists and is not a gan_core checkpoint, so it is not replaced" in capsys.readouterr().err
    assert classifier_weights.read_bytes() == b"weights of something else"
