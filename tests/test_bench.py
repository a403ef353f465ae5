"""Every benchmark still runs, at tiny sizes. Figures are never asserted."""

import shutil
import subprocess
import sys

import pytest

from backend.processes import REPO_ROOT
from bench.baseline_torchserve import require_java, venv_tool


def run_benchmark(module, *arguments, timeout):
    """Run ``python -m MODULE ARGUMENTS`` from the repository root; return its stdout, failing on a non-zero exit."""
    result = subprocess.run([sys.executable, "-m", module, *arguments], cwd=REPO_ROOT, capture_output=True, text=True,
                            check=False, timeout=timeout)
    assert result.returncode == 0, f"{module} exited with {result.returncode}:\n{result.stderr[-5000:]}"
    return result.stdout


def missing_wrk():
    return None if shutil.which("wrk") else "wrk is not installed (Debian package wrk)"


def missing_torchserve():
    try:
        venv_tool("torchserve")
        venv_tool("torch-model-archiver")
        require_java()
    except FileNotFoundError as error:
        return str(error)
    return missing_wrk()


def skip_if(reason):
    if reason:
        pytest.skip(reason)


def test_generator_benchmark_runs():
    output = run_benchmark("bench.generator", "--quick", "--threads", "1", timeout=300)

    assert "| generator, batch 64 |" in output
    assert "arithmetic limit" in output


def test_rest_benchmark_runs(tmp_path):
    skip_if(missing_wrk())

    output = run_benchmark("bench.rest", "--quick", "--json", str(tmp_path / "rest.json"), timeout=300)

    assert "| ours (Django + Celery, Prefer: wait) | 1 |" in output
    assert "| ours (Django + Celery, Prefer: wait) | 2 |" in output
    assert (tmp_path / "rest.json").exists()


def test_compare_benchmark_runs_sync_and_ours():
    skip_if(missing_wrk())

    output = run_benchmark("bench.compare", "--quick", "--only", "sync,ours", timeout=400)

    assert "| generator + PNG, batch 1 (gan_core.sampling) |" in output
    assert "| sync (gunicorn, 2 sync workers) | 2 |" in output
    assert "| ours (Django + Celery, Prefer: wait) | 2 |" in output
    assert "| req/s at concurrency 2 |" in output


def test_compare_benchmark_runs_torchserve():
    skip_if(missing_torchserve())

    output = run_benchmark("bench.compare", "--quick", "--only", "torchserve,torchserve-batched", timeout=400)

    assert "| TorchServe, batch 1 | 1 |" in output
    assert "| TorchServe, batch 8, max delay 5 ms | 2 |" in output


def test_stream_benchmark_runs(tmp_path):
    output = run_benchmark("bench.stream", "--quick", "--json", str(tmp_path / "stream.json"), timeout=300)

    assert "| GenerateStream, request to last image |" in output
    assert "| stream / generator alone, batch 64 |" in output
    assert (tmp_path / "stream.json").exists()


def test_memory_benchmark_runs(tmp_path):
    output = run_benchmark("bench.memory", "--quick", "--json", str(tmp_path / "memory.json"), timeout=300)

    assert "| pool process RSS after the first job (model loaded) |" in output
    assert "| RSS growth |" in output
    assert "| 20 |" in output
    assert (tmp_path / "memory.json").exists()


def test_batching_benchmark_runs(tmp_path):
    output = run_benchmark("bench.batching", "--quick", "--json", str(tmp_path / "batching.json"), timeout=300)

    assert "| batching off (GAN_BATCH_MAX_JOBS=1) |" in output
    assert "| batching on (defaults: 32 jobs, 10 ms) |" in output
    assert (tmp_path / "batching.json").exists()


def test_time_to_quality_benchmark_runs(tmp_path):
    run = tmp_path / "run"
    subprocess.run([sys.executable, "-m", "gan_core.train", "--out", str(run), "--max-steps", "4", "--batch-size", "8",
                    "--n-critic", "1", "--log-every", "1", "--checkpoint-every", "2", "--latent-dim", "16",
                    "--generator-width", "8", "--critic-width", "8", "--keep-checkpoints", "true", "--no-progress",
                    "--threads", "1"], cwd=REPO_ROOT, check=True, capture_output=True, timeout=300)

    output = run_benchmark("bench.time_to_quality", str(run), "--quick", "--threads", "1", timeout=300)

    assert "| 2 |" in output
    assert "| 4 |" in output
    assert "- 95% agreement:" in output
    assert "- 99% agreement:" in output


def test_train_step_benchmark_runs(tmp_path):
    output = run_benchmark("bench.train_step", "--quick", "--threads", "1", "--json", str(tmp_path / "step.json"),
                           timeout=300)

    assert "| float32 |" in output
    assert "| bfloat16 |" in output
    assert (tmp_path / "step.json").exists()
