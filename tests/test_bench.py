"""Every benchmark still runs, at tiny sizes. Figures are never asserted."""

import subprocess
import sys

from backend.processes import REPO_ROOT


def test_generator_benchmark_runs():
    result = subprocess.run([sys.executable, "-m", "bench.generator", "--quick", "--threads", "1"], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "| generator, batch 64 |" in result.stdout
    assert "arithmetic limit" in result.stdout
