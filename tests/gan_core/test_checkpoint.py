"""Reading checkpoints that are not gan_core's: a clear error naming the file, never torch's advice."""

import pytest
import torch

from gan_core.checkpoint import CheckpointError, load_checkpoint
from worker.model_cache import ModelUnavailableError, get_model


@pytest.mark.parametrize("content, message", [
    (b"not a checkpoint", r"is not a checkpoint written by gan_core \(UnpicklingError\); pass a file from"),
    (b"", r"is not a checkpoint written by gan_core \(EOFError\)"),
])
def test_foreign_file_is_rejected(tmp_path, content, message):
    path = tmp_path / "model.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message) as raised:
        load_checkpoint(path)
    assert str(path) in str(raised.value)
    assert "weights_only" not in str(raised.value)


def test_other_format_is_rejected(tmp_path):
    path = tmp_path / "model.pt"
    torch.save({"format_version": 99}, path)
    with pytest.raises(CheckpointError, match="unsupported checkpoint format 99, expected 1"):
        load_checkpoint(path)


def test_tensor_file_is_rejected(tmp_path):
    path = tmp_path / "model.pt"
    torch.save(torch.zeros(3), path)
    with pytest.raises(CheckpointError, match="unsupported checkpoint format 'Tensor'"):
        load_checkpoint(path)


def test_missing_file_stays_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.pt")


def test_worker_reports_unloadable_model(tmp_path):
    path = tmp_path / "broken.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelUnavailableError, match=f"model checkpoint {path} could not be loaded: .*not a checkpoint"):
        get_model(path)
