"""`compare --ray` on a real (local) Ray instance: the same files as the local pool, and a killed
worker's member continued from its checkpoint. Skipped where the ray extra is not installed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from mlp_tui.runs.store import read_events
from test_cluster import comparable, weights

ray = pytest.importorskip("ray", reason='the ray extra is not installed: pip install -e ".[ray]"')

TIMEOUT_S = 300


@pytest.fixture(scope="session")
def ray_address():
    """One Ray instance for the session; the comparisons join it as `--ray ADDRESS` would."""
    context = ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield context.address_info["gcs_address"]
    ray.shutdown()


def compare(cmd, env, mnist_root: Path, runs: Path, *extra: str, epochs: int = 2, subset: int = 2000, **kwargs):
    args = ["compare", "--preset", "tiny", "--vary", "loss=nll,mse", "--seeds", "2", "--epochs", str(epochs),
            "--subset", str(subset), "--headless", "--data-dir", str(mnist_root), "--runs", str(runs), "--threads", "1",
            *extra]  # fmt: skip
    return subprocess.run(cmd + args, env=env, capture_output=True, text=True, timeout=TIMEOUT_S, **kwargs)


def test_an_address_where_nothing_answers_exits_2_with_a_message(tmp_path, cli_env, mlp_tui_cmd):
    out = compare(mlp_tui_cmd, cli_env, Path("unused"), tmp_path / "runs", "--ray", "127.0.0.1:1")  # no Ray there
    assert out.returncode == 2, out.stdout + out.stderr
    assert "--ray 127.0.0.1:1: nothing answers there" in out.stderr and "Traceback" not in out.stdout + out.stderr
    assert not (tmp_path / "runs").exists()


def test_a_comparison_on_ray_gives_the_files_of_the_local_pool(ray_address, mnist_root, tmp_path, cli_env, mlp_tui_cmd):
    on_ray = compare(mlp_tui_cmd, cli_env, mnist_root, tmp_path / "ray", "--ray", ray_address)
    assert on_ray.returncode == 0, on_ray.stdout + on_ray.stderr
    assert "training on the Ray cluster at" in on_ray.stdout and "1 CPU per run" in on_ray.stdout
    assert on_ray.stdout.count(" completed  test ") == 4
    local = compare(mlp_tui_cmd, cli_env, mnist_root, tmp_path / "local")
    assert local.returncode == 0, local.stderr

    [remote_dir], [local_dir] = list((tmp_path / "ray").iterdir()), list((tmp_path / "local").iterdir())
    members = sorted(p.name for p in local_dir.iterdir() if p.is_dir())
    assert members == sorted(p.name for p in remote_dir.iterdir() if p.is_dir())
    for name in members:
        here, there = local_dir / name, remote_dir / name
        assert {p.name for p in here.iterdir()} == {p.name for p in there.iterdir()}
        assert (here / "config.toml").read_text() == (there / "config.toml").read_text()
        assert comparable(here) == comparable(there), name
        for checkpoint in ("best.pt", "last.pt"):
            assert all((weights(here / checkpoint)[k] == v).all() for k, v in weights(there / checkpoint).items())
        assert str(there) in read_events(there / "metrics.jsonl")[0]["run_dir"]  # named where users find it

    def rows(stdout: str) -> list[str]:  # the leaderboard table, without the seconds per run
        return [
            re.sub(r"\s+\d+(\.\d+)? s\b", "", line) for line in stdout.splitlines() if line.startswith(("1  ", "2  "))
        ]

    assert rows(on_ray.stdout) == rows(local.stdout) and len(rows(local.stdout)) == 2


def test_a_killed_ray_worker_is_continued_from_its_checkpoint(ray_address, mnist_root, tmp_path, cli_env, mlp_tui_cmd):
    runs = tmp_path / "runs"
    args = ["compare", "--preset", "tiny", "--seeds", "2", "--epochs", "20", "--subset", "20000", "--headless",
            "--data-dir", str(mnist_root), "--runs", str(runs), "--ray", ray_address]  # fmt: skip
    driver = subprocess.Popen(
        mlp_tui_cmd + args, env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + TIMEOUT_S
    victim = None
    while victim is None:
        assert driver.poll() is None and time.monotonic() < deadline, driver.communicate()
        log = next(runs.glob("*/workers.log"), None)
        for line in log.read_text().splitlines() if log is not None else []:
            found = re.search(r" (\S+): training on \S+ \(pid (\d+)\)", line)
            if log is None or found is None:
                continue
            metrics = log.parent / found.group(1) / "metrics.jsonl"
            if metrics.exists() and metrics.read_text().count('"epoch_end"') >= 2:
                victim = found.group(1), int(found.group(2))
        time.sleep(0.05)
    name, pid = victim
    os.kill(pid, signal.SIGKILL)
    out, err = driver.communicate(timeout=TIMEOUT_S)
    assert driver.returncode == 0, out + err
    assert out.count(" completed  test ") == 2
    folder = next(runs.iterdir())
    assert f"{name}: worker lost" in (folder / "workers.log").read_text()
    records = read_events(folder / name / "metrics.jsonl")
    starts = [r["start_epoch"] for r in records if r["event"] == "run_started"]
    assert len(starts) == 2 and starts[1] >= 2, starts  # from its checkpoint, not from scratch
    assert records[-1]["event"] == "run_finished" and records[-1]["status"] == "completed"
    assert sorted({r["epoch"] for r in records if r["event"] == "epoch_end"}) == list(range(1, 21))


def test_a_head_that_is_not_there_is_said_at_once(tmp_path, cli_env, mlp_tui_cmd):
    out = subprocess.run([*mlp_tui_cmd, "compare", "--preset", "tiny", "--vary", "loss=nll,mse", "--headless",
                          "--runs", str(tmp_path / "runs"), "--ray", "127.0.0.1:1"],
                         env=cli_env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 2 and "--ray 127.0.0.1:1: nothing answers there" in out.stderr
    assert not (tmp_path / "runs").exists()
