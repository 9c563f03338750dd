"""`--threads auto|N`: the thread count that trains fastest now, and fixed counts that reproduce.

The tuner's decisions are tested on a simulated clock (batches that take as long as a busy or a
quiet machine makes them at each count); the option, the headers and reproducibility on real
runs."""

from __future__ import annotations

import io
import subprocess

import pytest
import torch

from mlp_tui.core.config import ConfigError, build_config
from mlp_tui.core.events import ThreadsChanged
from mlp_tui.engine import threads
from mlp_tui.engine.threads import EXPLORE_FACTOR, ThreadTuner
from mlp_tui.runs.store import read_events
from mlp_tui.views.console.headless import PlainPrinter
from mlp_tui.views.console.runs_table import threads_cell

QUIET = {1: 1.0e-3, 2: 0.6e-3}  # seconds per batch: two threads 1.6x faster
BUSY = {1: 1.0e-3, 2: 30e-3}  # another process on a core: the second thread waits for it
IDLE = {id(QUIET): 1.0, id(BUSY): 0.0}  # cores idle beside ours (the machine has two)
HZ = 100  # the kernel's clock ticks per second, as /proc/stat counts them


class Machine:
    """A simulated clock and /proc/stat: batches take as long as the load makes them."""

    def __init__(self, reads_idle: bool = True) -> None:
        self.now, self.idle, self.total = 0.0, 0.0, 0.0
        self.reads_idle = reads_idle

    def read_idle(self):
        return (int(self.idle), int(self.total)) if self.reads_idle else None

    def tuner(self, setting: str = "auto", cap: int = 2, **kwargs) -> ThreadTuner:
        return ThreadTuner(setting, cap=cap, idle=self.read_idle, **kwargs)

    def batch(self, load: dict[int, float]) -> int:
        used = torch.get_num_threads()
        lap = load[used]
        self.now += lap
        self.total += lap * HZ * 2
        self.idle += lap * HZ * max(0.0, IDLE[id(load)] - (used - 1))
        return used

    def train(self, tuner: ThreadTuner, load, epochs: int = 1, batches: int = 400, new_epoch: bool = True):
        """Epochs of batches; the changes made and the batches run at each count."""
        changes, counts = [], {1: 0, 2: 0}
        for _ in range(epochs):
            if new_epoch:
                tuner.new_epoch()
            for _ in range(batches):
                counts[self.batch(load)] += 1
                choice = tuner.after_batch()
                if choice is not None:
                    changes.append(choice)
        return changes, counts


@pytest.fixture(params=[True, False], ids=["reads-idle-cores", "timing-only"])
def machine(request, monkeypatch):
    """Where the idle cores can be read (Linux) and where only the clock tells; torch's threads
    put back afterwards."""
    sim = Machine(reads_idle=request.param)
    monkeypatch.setattr(threads, "perf_counter", lambda: sim.now)
    before = torch.get_num_threads()
    yield sim
    torch.set_num_threads(before)


def test_a_fixed_count_is_used_and_never_changed(machine):
    tuner = machine.tuner("2", cap=8)
    assert torch.get_num_threads() == 2 and tuner.label() == "CPU (2 threads)"
    changes, counts = machine.train(tuner, BUSY, epochs=2)
    assert changes == [] and counts[1] == 0


def test_auto_keeps_every_core_on_a_quiet_machine(machine):
    tuner = machine.tuner()
    assert tuner.label() == "CPU (2 threads, auto)"
    changes, counts = machine.train(tuner, QUIET, epochs=3)
    assert changes == [] and torch.get_num_threads() == 2
    assert counts[1] < 0.25 * counts[2]  # one thread was only tried, a few batches an epoch


def test_auto_moves_to_one_thread_on_a_busy_machine_and_says_why(machine):
    tuner = machine.tuner()
    changes, counts = machine.train(tuner, BUSY, epochs=3)
    assert [(c.previous, c.threads) for c in changes] == [(2, 1)]
    if machine.reads_idle:
        assert changes[0].why == "the other cores are busy (0.0 of 1 idle)"
    else:
        assert changes[0].why.startswith("1 trains ") and changes[0].why.endswith("x faster than 2 now")
    assert tuner.label(since="epoch 1") == "CPU (1 thread, auto since epoch 1)"
    # Trying two threads again costs the slow batches it takes: none where the idle cores can be
    # read, a few where not, so the run keeps within a few per cent of one thread's pace.
    spent = counts[1] * BUSY[1] + counts[2] * BUSY[2]
    assert spent < 1.1 * (counts[1] + counts[2]) * BUSY[1], counts


def test_a_machine_that_gets_busy_loses_its_second_thread_within_the_epoch(machine):
    tuner = machine.tuner()
    machine.train(tuner, QUIET, batches=400)
    assert torch.get_num_threads() == 2
    # Mid-epoch another job starts: the throughput drops far below half, a round starts at once.
    changes, _ = machine.train(tuner, BUSY, batches=300, new_epoch=False)
    assert [(c.previous, c.threads) for c in changes] == [(2, 1)]


def test_a_machine_that_gets_quiet_again_gets_its_cores_back(machine):
    tuner = machine.tuner()
    machine.train(tuner, BUSY, batches=400)
    assert torch.get_num_threads() == 1
    # The other job ends. One thread runs as fast as before, so only a new try of two threads
    # can tell: it comes once the last losing try is paid back (here: within a few epochs).
    changes, _ = machine.train(tuner, QUIET, epochs=5, batches=400)
    assert [(c.previous, c.threads) for c in changes] == [(1, 2)]


def test_a_losing_try_is_repeated_only_after_it_has_been_paid_back(machine):
    tuner = machine.tuner()
    _, counts = machine.train(tuner, BUSY, epochs=100, batches=20)  # short epochs: a try each would cost a lot
    excess = counts[2] * (BUSY[2] - BUSY[1])  # what the slow batches cost beyond one thread's pace
    first_try = BUSY[2] - BUSY[1]
    assert excess <= machine.now / EXPLORE_FACTOR + first_try, counts
    if not machine.reads_idle:
        assert counts[2] >= 2  # tried again now and then: the machine may have got quiet


def test_pauses_are_not_counted_as_slow_batches(machine):
    tuner = machine.tuner()
    tuner.new_epoch()
    machine.now += 60.0  # paused for a minute before the first batch
    tuner.paused(60.0)
    changes, _ = machine.train(tuner, QUIET, batches=200, new_epoch=False)
    assert changes == [] and torch.get_num_threads() == 2


def test_auto_on_one_core_or_a_gpu_does_not_tune(machine):
    assert not machine.tuner(cap=1).auto
    assert not machine.tuner(cap=4, device_type="cuda").auto


def test_omp_num_threads_caps_auto(machine, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert not ThreadTuner("auto", idle=machine.read_idle).auto and torch.get_num_threads() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert ThreadTuner("auto", idle=machine.read_idle).cap == 2


def test_the_idle_cores_are_read_from_the_kernel():
    cpus = threads.cpu_set()
    reading = threads.read_idle(cpus)
    if reading is None:
        pytest.skip("no /proc/stat here")
    idle, total = reading
    assert 0 <= idle <= total


def test_the_option_takes_auto_or_a_count_from_the_command_line_and_presets():
    assert build_config({"threads": 2}).threads == "2" and build_config({"threads": "Auto"}).threads == "auto"
    assert build_config({}).threads == "auto"
    for bad in ("0", "two", 1.5, True, -1):
        with pytest.raises(ConfigError, match="expected auto or a number of threads"):
            build_config({"threads": bad}, source="preset.toml")


def test_headless_says_when_auto_changed_the_count_and_runs_lists_it():
    out = io.StringIO()
    PlainPrinter(out).handle(ThreadsChanged(epoch=2, batch=40, threads=1, previous=2,
                                            why="1 trains 3.0x faster than 2 now",
                                            device="CPU (1 thread, auto since epoch 2)"))  # fmt: skip
    assert out.getvalue() == "CPU threads 2 -> 1 (auto, epoch 2, after batch 40: 1 trains 3.0x faster than 2 now)\n"
    assert threads_cell("CPU (1 thread, auto since epoch 2)") == "1 auto (epoch 2+)"
    assert threads_cell("CPU (2 threads, auto)") == "2 auto" and threads_cell("CPU (4 threads)") == "4"
    assert threads_cell("CUDA NVIDIA H100") == "CUDA" and threads_cell(None) == "-"


def test_the_same_seed_and_thread_count_give_the_same_numbers(mnist_root, tmp_path, cli_env, mlp_tui_cmd):
    """Two processes, two threads each: equal to the last bit (the guarantee the README states)."""
    finished = []
    for name in ("a", "b"):
        run_dir = tmp_path / name
        proc = subprocess.run(
            [*mlp_tui_cmd, "run", "--preset", "tiny", "--headless", "--epochs", "1", "--subset", "3000",
             "--threads", "2", "--data-dir", str(mnist_root), "--run-dir", str(run_dir)],
            env=cli_env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "device CPU (2 threads)" in proc.stdout
        assert "--threads 2" in proc.stdout  # the reproduce line keeps the count
        finished.append(next(r for r in read_events(run_dir / "metrics.jsonl") if r["event"] == "run_finished"))
    assert finished[0]["test_loss"] == finished[1]["test_loss"]
    assert finished[0]["test_accuracy"] == finished[1]["test_accuracy"]
