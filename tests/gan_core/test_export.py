"""The latent scale a sampling checkpoint stores: written by gan_core.export, used wherever the model samples."""

import re

import numpy as np
import pytest
import torch
from PIL import Image

from gan_core import evaluate, export, sample
from gan_core.checkpoint import CheckpointError, load_checkpoint, load_generator, save_checkpoint
from gan_core.config import ModelConfig, TrainConfig
from gan_core.models import build_models
from gan_core.sampling import generate, interpolate, latent_for_seed, to_uint8
from worker.model_cache import get_model

DIGITS = [0, 3, 7, 9, 1]
SEEDS = [5, 11, 2**40, 0, 123_456]


def run_export(*argv):
    assert export.main([str(arg) for arg in argv]) == 0


def test_export_stores_applied_scale(source, tmp_path):
    out = tmp_path / "scaled.pt"
    run_export(source, out, "--latent-scale", "0.5")
    plain, _ = load_generator(source)
    scaled, state = load_generator(out)
    assert (plain.latent_scale, scaled.latent_scale, state["step"]) == (1.0, 0.5, 7)

    images = generate(scaled, DIGITS, SEEDS)
    assert not torch.equal(images, generate(plain, DIGITS, SEEDS))
    # The scale multiplies the seed's latent and changes nothing else.
    latent = torch.stack([latent_for_seed(seed, plain.config.latent_dim) for seed in SEEDS])
    expected = plain(0.5 * latent, torch.tensor(DIGITS))
    torch.testing.assert_close(images, expected, rtol=0, atol=1e-5)


def test_scaled_images_deterministic_per_seed(source, tmp_path):
    out = tmp_path / "scaled.pt"
    run_export(source, out, "--latent-scale", "0.975")
    first, _ = load_generator(out)
    again, _ = load_generator(out)
    batch = generate(first, DIGITS, SEEDS)
    assert torch.equal(batch, generate(again, DIGITS, SEEDS))
    for index, (digit, seed) in enumerate(zip(DIGITS, SEEDS)):
        assert torch.equal(generate(first, [digit], [seed])[0], batch[index])


def test_interpolation_uses_scale(source, tmp_path):
    out = tmp_path / "scaled.pt"
    run_export(source, out, "--latent-scale", "0.5")
    scaled, _ = load_generator(out)
    frames = interpolate(scaled, start_digit=3, end_digit=8, start_seed=1, end_seed=2, frames=3)
    torch.testing.assert_close(frames[0], generate(scaled, [3], [1])[0], rtol=0, atol=1e-5)
    torch.testing.assert_close(frames[-1], generate(scaled, [8], [2])[0], rtol=0, atol=1e-5)


def test_export_keeps_source_scale(source, tmp_path):
    scaled, copy, reset = tmp_path / "scaled.pt", tmp_path / "copy.pt", tmp_path / "reset.pt"
    run_export(source, scaled, "--latent-scale", "0.8")
    run_export(scaled, copy)
    run_export(scaled, reset, "--latent-scale", "1")
    assert load_checkpoint(copy)["latent_scale"] == 0.8
    assert load_generator(reset)[0].latent_scale == 1.0


def test_checkpoint_without_scale_uses_one(source, tmp_path):
    state = load_checkpoint(source)
    del state["latent_scale"]
    old = tmp_path / "old.pt"
    torch.save(state, old)
    old_generator, _ = load_generator(old)
    assert old_generator.latent_scale == 1.0
    assert torch.equal(generate(old_generator, DIGITS, SEEDS), generate(load_generator(source)[0], DIGITS, SEEDS))


def test_worker_loads_the_scale(source, tmp_path):
    out = tmp_path / "scaled.pt"
    run_export(source, out, "--latent-scale", "0.9")
    assert get_model(out).generator.latent_scale == 0.9


@pytest.mark.parametrize("value", ["0", "-0.5", "nan", "inf", "half"])
def test_export_rejects_bad_scale(source, tmp_path, capsys, value):
    out = tmp_path / "bad.pt"
    with pytest.raises(SystemExit) as raised:
        export.main([str(source), str(out), "--latent-scale", value])
    assert raised.value.code == 2
    assert "--latent-scale" in capsys.readouterr().err
    assert not out.exists()


def test_export_rejects_foreign_source(tmp_path):
    foreign = tmp_path / "foreign.pt"
    foreign.write_bytes(b"not a checkpoint")
    with pytest.raises(SystemExit, match="SOURCE: .*is not a checkpoint written by gan_core"):
        export.main([str(foreign), str(tmp_path / "out.pt")])
    assert not (tmp_path / "out.pt").exists()


@pytest.mark.parametrize("value", [0, -1.0, float("nan"), "0.9", True])
def test_checkpoint_with_bad_scale_rejected(source, tmp_path, value):
    state = load_checkpoint(source)
    state["latent_scale"] = value
    path = tmp_path / "bad.pt"
    torch.save(state, path)
    with pytest.raises(CheckpointError, match=f"{path}: latent scale must be .* python -m gan_core.export"):
        load_generator(path)


def test_save_rejects_bad_scale(tmp_path):
    generator, _ = build_models(ModelConfig())
    with pytest.raises(ValueError, match="latent scale must be a finite number above 0"):
        save_checkpoint(tmp_path / "x.pt", model_config=generator.config, train_config=TrainConfig(),
                        generator_ema=generator, latent_scale=0.0)
    assert not (tmp_path / "x.pt").exists()


@pytest.mark.parametrize("value", ["0", "-1", "nan"])
def test_evaluate_rejects_bad_scale(tmp_path, capsys, value):
    with pytest.raises(SystemExit) as raised:
        evaluate.main([str(tmp_path / "missing.pt"), "--latent-scale", value])
    assert raised.value.code == 2
    assert "--latent-scale: latent scale must be a finite number above 0" in capsys.readouterr().err


def test_evaluate_table_shows_scale():
    metrics = {"samples": 10, "agreement": 1.0, "frechet_distance": 1.0, "frechet_distance_floor": 1.0,
               "per_digit": {}, "latent_scale": 0.975}
    assert "latent scale 0.975" in evaluate.format_table(metrics).splitlines()[0]


def tile(grid, row, column, size=28, padding=2):
    top, left = padding + row * (size + padding), padding + column * (size + padding)
    return grid[top : top + size, left : left + size]


def test_sample_grid_matches_generate(source, tmp_path, capsys):
    scaled, png = tmp_path / "scaled.pt", tmp_path / "grid" / "samples.png"
    run_export(source, scaled, "--latent-scale", "0.975")
    capsys.readouterr()
    assert sample.main([str(scaled), str(png), "--digits", "7,2", "--per-digit", "3", "--first-seed", "40"]) == 0
    assert "2 rows x 3 seeds from 40, latent scale 0.975" in capsys.readouterr().out
    grid = np.asarray(Image.open(png))
    assert grid.shape == (2 + 2 * 30, 2 + 3 * 30)
    generator, _ = load_generator(scaled)
    for row, digit in enumerate([7, 2]):
        for column, seed in enumerate([40, 41, 42]):
            assert np.array_equal(tile(grid, row, column), to_uint8(generate(generator, [digit], [seed])[0]))


def test_sample_previews_another_scale(source, tmp_path, capsys):
    png = tmp_path / "preview.png"
    assert sample.main([str(source), str(png), "--digits", "4", "--per-digit", "2", "--latent-scale", "0.5"]) == 0
    assert "latent scale 0.5" in capsys.readouterr().out
    generator, _ = load_generator(source)
    generator.latent_scale = 0.5
    grid = np.asarray(Image.open(png))
    assert np.array_equal(tile(grid, 0, 1), to_uint8(generate(generator, [4], [1])[0]))


@pytest.mark.parametrize("argv, message", [
    (["--latent-scale", "0"], "--latent-scale: latent scale must be a finite number above 0"),
    (["--digits", "3,10"], r"--digits: \[10\] outside 0-9"),
    (["--digits", "three"], "--digits: .*expected class numbers separated by commas"),
    (["--per-digit", "0"], "--per-digit must be between 1 and 100"),
    (["--first-seed", "-1"], "--first-seed must be between 0 and 2"),
])
def test_sample_rejects_bad_options(source, tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as raised:
        sample.main([str(source), str(tmp_path / "out.png"), *argv])
    assert raised.value.code == 2
    assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / "out.png").exists()
