"""The README's main command: everything starts, the demo grid is written, and Ctrl-C stops every process."""

import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
from PIL import Image

from backend.processes import REPO_ROOT, free_port

pytestmark = pytest.mark.e2e


def launcher_env(tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "DATABASE_URL")}
    env.update(GAN_VAR_DIR=str(tmp_path), PYTHONUNBUFFERED="1")
    env.pop("DJANGO_MEDIA_ROOT", None)
    return env


def descendants(pid):
    """Return the pids of every process below ``pid``."""
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        listing = subprocess.run(["ps", "-o", "pid=", "--ppid", str(parent)], capture_output=True, text=True)
        children = [int(line) for line in listing.stdout.split()]
        found += children
        frontier += children
    return found


def test_launcher_writes_demo_grid(tmp_path):
    port = free_port()
    result = subprocess.run(
        [sys.executable, "-m", "backend.launcher", "--exit", "--count", "2", "--port", str(port),
         "--grpc-port", str(free_port())],
        cwd=REPO_ROOT, env=launcher_env(tmp_path), capture_output=True, text=True, timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    grid = tmp_path / "demo" / "digits.png"
    assert str(grid) in result.stdout
    assert result.stdout.count(f"http://127.0.0.1:{port}/api/jobs/") == 10
    with Image.open(grid) as image:
        assert image.mode == "L"
        assert image.size == (4 * (2 * 30 + 2), 4 * (10 * 30 + 2))


def test_ctrl_c_stops_every_process(tmp_path):
    port = free_port()
    launcher = subprocess.Popen(
        [sys.executable, "-m", "backend.launcher", "--count", "1", "--port", str(port),
         "--grpc-port", str(free_port())],
        cwd=REPO_ROOT, env=launcher_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    children = []
    try:
        deadline = time.monotonic() + 240
        for line in launcher.stdout:
            if "Press Ctrl-C to stop" in line or time.monotonic() > deadline:
                break
        children = descendants(launcher.pid)
        assert len(children) >= 3  # redis-server, the Celery worker, gunicorn (and their pools)

        launcher.send_signal(signal.SIGINT)
        assert launcher.wait(timeout=60) == 0
        time.sleep(0.5)
        alive = [pid for pid in children if os.path.exists(f"/proc/{pid}") and "Z" not in
                 open(f"/proc/{pid}/stat").read().split()[2]]
        assert alive == []
    finally:
        if launcher.poll() is None:
            launcher.kill()
        # After a failure above, stop what the launcher left behind, so later tests start clean.
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_failed_demo_stops_with_one_line(tmp_path):
    env = launcher_env(tmp_path)
    env["GAN_MODEL_PATH"] = str(tmp_path / "no-such-model.pt")
    result = subprocess.run(
        [sys.executable, "-m", "backend.launcher", "--exit", "--count", "1", "--port", str(free_port()),
         "--grpc-port", str(free_port())],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=240,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    stopped = [line for line in result.stderr.splitlines() if "ERROR" in line and "stopped:" in line]
    assert len(stopped) == 1, result.stderr
    assert "503" in stopped[0]
    assert "GAN_MODEL_PATH" in stopped[0]


def test_demo_waits_out_throttling(tmp_path):
    env = launcher_env(tmp_path)
    env["GAN_THROTTLE_ANON"] = "8/min"  # the demo's 10 jobs exceed it: two requests wait 7.5 s each
    result = subprocess.run(
        [sys.executable, "-m", "backend.launcher", "--exit", "--count", "1", "--port", str(free_port()),
         "--grpc-port", str(free_port())],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "demo" / "digits.png").exists()
    assert "throttled; retrying" in result.stderr


@pytest.mark.parametrize("argv, message", [
    (["--port", "70000"], "--port must be a TCP port from 1 to 65535, got 70000"),
    (["--grpc-port", "0"], "--grpc-port must be a TCP port from 1 to 65535, got 0"),
    (["--count", "0"], r"--count must be from 1 to 64 \(the API's images per job\), got 0"),
    (["--count", "65"], "--count must be from 1 to 64"),
    (["--seed", "-1"], r"--seed must be from 0 to 2\^63 - 1, got -1"),
    (["--seed", str(2**63)], r"--seed must be from 0 to 2\^63 - 1"),
    (["--workers", "0"], "--workers must be at least 1, got 0"),
    (["--timeout", "nan"], "--timeout must be a number of seconds above 0, got nan"),
    (["--timeout", "-5"], "--timeout must be a number of seconds above 0, got -5.0"),
])
def test_launcher_rejects_bad_options_before_starting(argv, message, capsys):
    from backend.launcher import parse_args

    with pytest.raises(SystemExit) as raised:
        parse_args(argv)
    assert raised.value.code == 2
    assert re.search(message, capsys.readouterr().err)


def test_launcher_bounds_match_the_api():
    from backend import launcher
    from backend.jobs.services import MAX_COUNT
    from gan_core.sampling import MAX_SEED

    assert launcher.MAX_DEMO_COUNT == MAX_COUNT
    assert launcher.MAX_SEED == MAX_SEED


def test_port_in_time_wait_counts_as_free():
    """A restart soon after a stop keeps the port: only a listening socket makes it taken."""
    from backend.launcher import port_is_free

    port = free_port()
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", port))
        server.listen()
        assert not port_is_free(port)
        with socket.create_connection(("127.0.0.1", port)) as client:
            connection, _ = server.accept()
            connection.close()  # the server's end closes first, so it is the one left in TIME_WAIT
            client.recv(1)
    assert port_is_free(port)
