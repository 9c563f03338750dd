"""Comparisons trained on a cluster: members stream their run directories back to the driver,
a lost worker is tried again from its last checkpoint, and commands and stops reach the members.
The cluster here is a small in-process fake of the interface Ray implements (test_ray.py runs
the real one)."""

from __future__ import annotations

import csv
import os
import threading
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from mlp_tui.cli.main import app
from mlp_tui.core.config import build_config
from mlp_tui.core.events import RunStarted
from mlp_tui.runs.compare.backends import ClusterSpec
from mlp_tui.runs.compare.backends.cluster import ClusterRunner, MemberLost
from mlp_tui.runs.compare.backends.pool import member_job
from mlp_tui.runs.compare.backends.remote_member import STOP, stream_member
from mlp_tui.runs.compare.backends.streaming import DirectoryWatch, apply_changes, read_files
from mlp_tui.runs.compare.driver import drive
from mlp_tui.runs.compare.grid import build_grid, parse_axis
from mlp_tui.runs.compare.plan import Plan, new_comparison
from mlp_tui.runs.store import RunStore, read_events

# What differs between two trainings of the same run: when, how fast, and where.
TIMING = {"t", "time", "seconds", "samples_per_s", "run_dir"}


class FakeCluster:
    """Runs each member's stream in-process, as a Ray worker would run it; can lose a worker
    (the stream breaks off, as when the process is killed) after a given number of epochs."""

    def __init__(self, lose: dict[str, int] | None = None) -> None:
        self.lose = dict(lose or {})  # member name -> epochs written before its worker dies (once)
        self.mailbox: dict[str, str] = {}
        self.stopped = False
        self.submitted: list[tuple[str, bool]] = []  # (name, resumed) in the order handed out
        # One member at a time: the cluster, not the driver, decides who runs when. (Members
        # share this process here; on Ray each has a worker process of its own.)
        self.room = threading.Semaphore(1)

    def describe(self) -> str:
        return "a fake cluster"

    def check_data(self, datasets, data_dir) -> None:
        pass

    def post(self, name: str, command: str) -> None:
        self.mailbox[name] = command

    def stop_all(self) -> None:
        self.stopped = True

    def submit(self, name: str, job, files: dict[str, bytes]) -> Iterator[dict]:
        self.submitted.append((name, job.resume is not None))
        return self._run(name, job, files)

    def _run(self, name, job, files) -> Iterator[dict]:
        with self.room:
            commands = lambda: STOP if self.stopped else self.mailbox.pop(name, None)  # noqa: E731
            stream = stream_member(job, files, commands)
            assert isinstance(stream, Generator)  # closed below, so its own `finally` runs
            epochs = 0
            try:
                for message in stream:
                    for change in message.get("files", []):
                        if change.name == "metrics.jsonl":
                            epochs += change.data.count(b'"epoch_end"')
                    yield message
                    if name in self.lose and epochs >= self.lose[name]:
                        del self.lose[name]
                        raise MemberLost("WorkerCrashedError: the worker was killed")
            finally:
                stream.close()


def tiny_plan(epochs: int = 3, seeds: int = 2) -> Plan:
    # One thread everywhere: members on the pool and on the cluster compare bit for bit.
    base = build_config({"hidden": (16,), "epochs": epochs, "subset": 1500, "batch_size": 64, "device": "cpu",
                         "threads": 1})  # fmt: skip
    return Plan(build_grid([("tiny", base)], [parse_axis("loss=nll,mse")], {}), seeds, ["loss=nll,mse"], "test")


def comparable(path: Path) -> list[dict]:
    """A member's story without timing (batch progress is thinned by time, so it goes too)."""
    return [{k: v for k, v in r.items() if k not in TIMING} for r in read_events(path / "metrics.jsonl")
            if r["event"] != "batch_progress"]  # fmt: skip


def weights(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)["model"]


@pytest.fixture(autouse=True)
def _quick_looks(monkeypatch):
    """Workers look at their scratch copy often: a tiny member's epochs take a few ms, and the
    tests want them to arrive one by one, as a real member's do."""
    from mlp_tui.runs.compare.backends import remote_member

    monkeypatch.setattr(remote_member, "SYNC_S", 0.02)


def run_on(backend, plan, folder, mnist_root, **kwargs):
    return drive(folder, plan, backend=backend, data_dir=mnist_root, **kwargs)


# -- streaming a run directory --------------------------------------------------------------


def test_a_streamed_copy_of_a_run_directory_is_the_same_directory(tmp_path):
    scratch, driver = tmp_path / "scratch", tmp_path / "driver"
    scratch.mkdir()
    (scratch / "metrics.jsonl").write_bytes(b'{"event": "old"}\n')  # came from the driver: not sent back
    apply_changes(driver, [])
    (driver / "metrics.jsonl").write_bytes(b'{"event": "old"}\n')
    watch = DirectoryWatch(scratch)
    assert watch.changes() == []
    store = RunStore(scratch, location=driver)
    store.write_config(build_config({}), "p")
    store.append(RunStarted(config={}, preset="p", device="cpu", summary="", parameters=1, train_size=1, val_size=0,
                            test_size=1, run_dir=str(store.location)))  # fmt: skip
    store.save_checkpoint("last", {"model": {"w": torch.ones(3)}})
    (scratch / "process.json").write_text("{}")  # who trains it is each copy's own
    (scratch / "control").write_text("pause\n")
    apply_changes(driver, watch.changes())
    store.save_checkpoint("last", {"model": {"w": torch.zeros(3)}})  # replaced, as checkpoints are
    store.append(RunStarted(config={}, preset="p", device="cpu", summary="", parameters=1, train_size=1, val_size=0,
                            test_size=1))  # fmt: skip
    changes = watch.changes()
    assert [c.name for c in changes] == ["last.pt", "metrics.jsonl"]  # checkpoints before the events naming them
    offset = changes[1].offset
    assert offset is not None and offset > len(b'{"event": "old"}\n')  # only the new lines travel
    apply_changes(driver, changes)
    store.close()
    assert read_files(driver) == read_files(scratch)
    assert not (driver / "process.json").exists() and not (driver / "control").exists()
    assert "driver" in (driver / "config.toml").read_text()  # named as users find it
    assert read_events(driver / "metrics.jsonl")[1]["run_dir"] == str(driver)
    assert watch.changes() == []


# -- a comparison on a (fake) cluster ------------------------------------------------------


def test_a_cluster_comparison_leaves_the_same_directory_as_the_local_pool(mnist_root, tmp_path):
    plan = tiny_plan(epochs=8)
    local = new_comparison(plan, tmp_path / "local")
    run_on(None, plan, local, mnist_root, jobs=2)
    cluster = FakeCluster(lose={"02-mse-seed1": 1})
    remote = new_comparison(plan, tmp_path / "remote")
    heard = []
    board = run_on(
        ClusterRunner(cluster, ClusterSpec("fake")), plan, remote, mnist_root, on_done=lambda r, b: heard.append(r)
    )
    assert sorted(r.status for r in heard) == ["completed"] * 4
    assert [name for name, _ in cluster.submitted[:4]] == [
        "01-nll-seed0",
        "02-mse-seed0",
        "01-nll-seed1",
        "02-mse-seed1",
    ]

    for member in plan.members(local):
        there = remote / member.path.name
        assert {p.name for p in member.path.iterdir()} == {p.name for p in there.iterdir()}
        assert (member.path / "config.toml").read_text() == (there / "config.toml").read_text()
        for name in ("best.pt", "last.pt"):
            for key, tensor in weights(member.path / name).items():
                assert torch.equal(tensor, weights(there / name)[key]), f"{there.name}/{name}: {key} differs"
        story = comparable(there)
        if there.name == "02-mse-seed1":  # its worker was lost after an epoch: tried again from last.pt
            assert cluster.submitted[-1] == ("02-mse-seed1", True)
            starts = [r["start_epoch"] for r in story if r["event"] == "run_started"]
            assert len(starts) == 2 and starts[0] == 0 and 1 <= starts[1] < 8
            # Nothing past that checkpoint had reached the driver: the story goes on where it broke off.
            story = [r for r in story if not (r["event"] == "run_started" and r["start_epoch"])]
            assert "trying again from its last checkpoint" in (remote / "workers.log").read_text()
        assert story == comparable(member.path), there.name

    def rows(folder: Path) -> list[dict]:
        return [
            {k: v for k, v in r.items() if k != "seconds_per_run"}
            for r in csv.DictReader((folder / "leaderboard.csv").open())
        ]

    assert rows(local) == rows(remote)
    assert board.finished == 4


def test_commands_reach_members_on_the_cluster_and_a_stop_keeps_what_finished(mnist_root, tmp_path):
    plan = tiny_plan(epochs=500, seeds=2)  # long enough for the commands to reach it on the way
    folder = new_comparison(plan, tmp_path / "runs")
    cluster = FakeCluster()
    stop = threading.Event()
    from mlp_tui.runs.status import write_command

    told: dict[str, bool] = {}

    def on_the_way() -> bool:  # polled by the driver: once a member trains, turn its rate and stop all
        for member in plan.members(folder):
            events = read_events(member.path / "metrics.jsonl") if (member.path / "metrics.jsonl").exists() else []
            epochs = sum(r["event"] == "epoch_end" for r in events)
            if epochs >= 1 and not told.get(member.path.name):
                told[member.path.name] = True
                write_command(member.path, "lr 0.0005")
            if any(r["event"] == "lr_changed" for r in events):
                stop.set()
        return stop.is_set()

    results = []
    run_on(ClusterRunner(cluster, ClusterSpec("fake")), plan, folder, mnist_root, should_stop=on_the_way,
           on_done=lambda r, b: results.append(r))  # fmt: skip
    changed = [
        m
        for m in plan.members(folder)
        if (m.path / "metrics.jsonl").exists()
        and any(r["event"] == "lr_changed" and r["lr"] == 0.0005 for r in read_events(m.path / "metrics.jsonl"))
    ]
    assert changed, "a learning rate written to a member's control file never reached it"
    # The member training stopped saved; the others never started.
    assert [r.status for r in results] == ["stopped"]
    trained = [m for m in plan.members(folder) if m.path.exists()]
    assert len(trained) == 1 and (trained[0].path / "last.pt").is_file()
    # `compare --resume` continues the stopped one from its checkpoint and starts the others.
    members = plan.members(folder)
    jobs = {m.path.name: job for m in members if (job := member_job(m, mnist_root, 1)) is not None}
    assert len(jobs) == len(members), "every member has something left to do"
    assert jobs[trained[0].path.name].resume == trained[0].path
    assert [j.resume for name, j in jobs.items() if name != trained[0].path.name] == [None] * 3


def test_ray_options_are_checked_before_anything_is_made(tmp_path, monkeypatch):
    runner = CliRunner()
    base = ["compare", "--preset", "tiny", "--vary", "loss=nll,mse", "--headless", "--runs", str(tmp_path / "runs")]
    out = runner.invoke(app, [*base, "--cpus-per-run", "2"])
    assert out.exit_code == 2 and "--cpus-per-run and --gpus-per-run are for --ray" in out.output
    out = runner.invoke(app, [*base, "--ray", "auto", "--jobs", "2"])
    assert out.exit_code == 2 and "--jobs is for this machine's pool" in out.output

    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    out = runner.invoke(app, [*base, "--ray", "auto"])
    assert out.exit_code == 2, out.output
    assert "--ray needs Ray" in out.output and 'pip install -e ".[ray]"' in out.output
    assert not (tmp_path / "runs").exists()


def test_nothing_imports_ray_without_ray(tmp_path, cli_env, mlp_tui_cmd):
    import subprocess
    import sys

    code = ("import sys; import mlp_tui.cli.main, mlp_tui.runs.compare.driver, mlp_tui.runs.compare.backends.cluster, "
            "mlp_tui.views.tui.app; print('ray' in sys.modules)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], env=cli_env, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


BROKEN_RAY = {  # what an installed but broken Ray raises while it loads
    "ImportError": 'raise ImportError("libray_core.so: cannot open shared object file")',
    "AttributeError": "raise AttributeError(\"module 'grpc' has no attribute 'aio'\")",
}


@pytest.mark.parametrize("error", sorted(BROKEN_RAY))
def test_a_broken_ray_is_named_with_the_install_command_not_a_traceback(error, tmp_path, cli_env, mlp_tui_cmd):
    import subprocess
    import sys

    (tmp_path / "broken" / "ray").mkdir(parents=True)
    (tmp_path / "broken" / "ray" / "__init__.py").write_text(BROKEN_RAY[error] + "\n")
    env = dict(cli_env, PYTHONPATH=os.pathsep.join(filter(None, [str(tmp_path / "broken"), cli_env.get("PYTHONPATH")])))
    runs = tmp_path / "runs"
    args = ["compare", "--preset", "tiny", "--vary", "loss=nll,mse", "--headless", "--runs", str(runs), "--ray", "auto"]
    headless = subprocess.run(mlp_tui_cmd + args, env=env, capture_output=True, text=True, timeout=120)
    # The app's driver process, as the app starts it for a comparison on Ray.
    folder = new_comparison(tiny_plan(), tmp_path / "app-runs")
    driver = subprocess.run([sys.executable, "-m", "mlp_tui.runs.compare.driver", str(folder), "--ray", "auto"],
                            env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    for out in (headless, driver):
        assert out.returncode == 2, out.stdout + out.stderr
        assert "Traceback" not in out.stdout + out.stderr
        assert out.stderr.startswith(f"mlp-tui: error: --ray: Ray is installed but cannot be imported ({error}: ")
        assert 'pip install -e ".[ray]"' in out.stderr
    assert not runs.exists(), "a failed start leaves nothing behind"
    assert not any(m.path.exists() for m in tiny_plan().members(folder))
