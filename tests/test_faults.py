"""Never lose a run, never show a traceback: bad input, damaged data, divergence, out of memory,
interrupted saves, hostile checkpoints, Ctrl-C twice, and runs or readers that race each other."""

from __future__ import annotations

import json
import math
import os
import random
import re
import signal
import string
import struct
import subprocess
import sys
import threading
import time
import tomllib
import urllib.error
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from mlp_tui.cli.main import app
from mlp_tui.core.config import (
    ACTIVATIONS,
    DEVICES,
    FIELDS,
    LOSSES,
    META_KEYS,
    OPTIMIZERS,
    ConfigError,
    RunConfig,
    build_config,
)
from mlp_tui.core.datasets import DATASET_NAMES, IDX_FILES
from mlp_tui.core.events import Event, RunFailed, RunFinished
from mlp_tui.core.presets import load_preset_file
from mlp_tui.engine import trainer as engine
from mlp_tui.runs.follow import MetricsTail
from mlp_tui.runs.store import CHECKPOINT_FORMAT, RunStore, load_checkpoint, new_run_dir, read_events

CPU = torch.device("cpu")
runner = CliRunner()
FAST = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def invoke(*args: str | Path) -> Result:
    result = runner.invoke(app, [str(a) for a in args])
    # typer.Exit ends as SystemExit; anything else means an exception escaped the command.
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return result


def usage_error(result) -> str:
    assert result.exit_code == 2, result.output
    assert result.output.startswith("mlp-tui: error: "), result.output
    return result.output


# == 1a. preset files: any bytes at all give a config or a ConfigError naming file and key =========

_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)


def _toml_string(text: str) -> str:
    out = []
    for c in text:
        if c in '"\\':
            out.append("\\" + c)
        elif ord(c) < 0x20 or c == "\x7f":
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_string(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    return value.isoformat()  # a date


_scalars = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.integers(min_value=-3, max_value=20_000),  # near the edges of the ranges
    st.floats(),
    st.floats(min_value=-2, max_value=2),
    st.booleans(),
    _TEXT,
    st.sampled_from([*ACTIVATIONS, *LOSSES, *OPTIMIZERS, *DEVICES, "cuda:0", "cuda:01", "cuda:٣", "ce"]),
    st.dates(),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=8,
)
_keys = st.one_of(st.sampled_from([*FIELDS, *META_KEYS]), _TEXT, st.sampled_from(["lrr", "hidden_size", "Epochs"]))
_documents = st.dictionaries(_keys, _values, max_size=5).map(
    lambda doc: "".join(f"{_toml_string(k)} = {_toml_value(v)}\n" for k, v in doc.items())
)


@st.composite
def preset_bytes(draw) -> bytes:
    kind = draw(st.sampled_from(["document", "truncated", "mangled", "text", "bytes"]))
    if kind == "text":
        return draw(st.text(max_size=200)).encode("utf-8", "surrogatepass")
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    text = draw(_documents)
    if kind == "truncated" and text:
        text = text[: draw(st.integers(0, len(text) - 1))]
    elif kind == "mangled" and text:
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(["=", "[", "]", '"', "\n", "{", ",", "= =", "[[x]]"])) + text[at:]
    return text.encode("utf-8")


@FAST
@given(raw=preset_bytes())
@example(raw=b"a = " + b"[" * 3000 + b"]" * 3000)  # nested past the parser's recursion limit
@example(raw=b'device = "cuda:01"\n')
@example(raw='device = "cuda:\u0663"\n'.encode())
@example(raw=b"hidden = [16, true]\n")
@example(raw=b"[lr]\nx = 1\n")
@example(raw=b'"dataset" = []\n')  # a bad dataset, and tables named after datasets
@example(raw=b"hidden = [8]\n[fashion-mnist]\naugment = 2\n")
@example(raw=b'dataset = "fashion-mnist"\n[fashion-mnist]\ndropout = 0.1\n')
@example(raw=b'expected = {"" = {}}\n')  # figures for a dataset with no name
def test_any_preset_file_gives_a_config_or_an_error_naming_file_and_key(tmp_path_factory, raw):
    folder = tmp_path_factory.getbasetemp() / "fuzzed-presets"
    folder.mkdir(exist_ok=True)
    path = folder / "fuzzed preset.toml"
    path.write_bytes(raw)
    try:
        parsed = tomllib.loads(raw.decode("utf-8"))
    except Exception:
        parsed = None  # not TOML at all
    try:
        preset = load_preset_file(path)
    except ConfigError as exc:
        message = str(exc)
        assert str(path) in message, message
        if parsed is not None:  # a key problem: the message names the key
            # a key, or a dataset's table and the key in it ("[fashion-mnist]: key 'augment'")
            assert any(f"key '{key}'" in message or f"[{key}]: key '" in message for key in parsed), message
        return
    assert parsed is not None
    assert set(parsed) <= set(FIELDS) | set(META_KEYS) | set(DATASET_NAMES)  # [fashion-mnist]: its settings
    assert isinstance(preset.config, RunConfig)
    # What was accepted builds again from its own canonical form.
    assert build_config(preset.config.to_dict()) == preset.config


# == 1b. command-line values: always exit 2 with one clear line or a usage error ===================

_letters = st.text(st.sampled_from(string.ascii_letters), min_size=1, max_size=10)


def _not_a_choice(choices, aliases=()):
    return _letters.filter(lambda s: s.strip().lower() not in (*choices, *aliases))


def _num(strategy):
    return strategy.map(repr)


_bad_hidden = st.one_of(
    st.lists(st.integers(1, 16384), max_size=3)
    .flatmap(
        lambda good: st.tuples(st.just(good), st.integers(-(10**6), 0) | st.integers(16385, 10**9), st.integers(0, 3))
    )
    .map(lambda t: ",".join(map(str, [*t[0][: t[2]], t[1], *t[0][t[2] :]]))),
    st.lists(st.integers(1, 64), min_size=17, max_size=20).map(lambda v: ",".join(map(str, v))),
    st.tuples(st.integers(1, 512), _letters).map(lambda t: f"{t[0]},{t[1]}"),
    st.floats(0.01, 1000).filter(lambda f: f != int(f)).map(repr),
    _letters,
)

BAD_VALUES = {
    "--lr": st.one_of(_num(st.floats(max_value=0.0)), st.sampled_from(["nan", "inf", "-inf", "0"]), _letters),
    "--epochs": st.one_of(
        _num(st.integers(max_value=0)), _num(st.integers(min_value=100_001)), _letters, st.just("1.5")
    ),
    "--batch-size": st.one_of(_num(st.integers(max_value=0)), _letters, st.just("2.5")),
    "--hidden": _bad_hidden,
    "--dropout": st.one_of(
        _num(st.floats(min_value=1.0)), _num(st.floats(max_value=0.0, exclude_max=True)), st.just("nan"), _letters
    ),
    "--loss": _not_a_choice(LOSSES, ("ce", "cross_entropy", "crossentropy")),
    "--optimizer": _not_a_choice(OPTIMIZERS),
    "--activation": _not_a_choice(ACTIVATIONS),
    "--device": st.one_of(
        _not_a_choice(DEVICES), st.sampled_from(["cuda:01", "cuda:\u0663", "cuda:99999999999999999999", "cuda:-1"])
    ),
    "--val-split": st.one_of(
        _num(st.floats(min_value=0.5, exclude_min=True)),
        _num(st.floats(max_value=0.0, exclude_max=True)),
        st.just("nan"),
        _letters,
    ),
    "--elastic": st.one_of(
        _num(st.floats(min_value=4.0, exclude_min=True)),
        _num(st.floats(max_value=0.0, exclude_max=True)),
        st.just("nan"),
        _letters,
    ),
}


@st.composite
def bad_options(draw) -> dict[str, str]:
    flags = draw(st.lists(st.sampled_from(sorted(BAD_VALUES)), min_size=1, max_size=3, unique=True))
    return {flag: draw(BAD_VALUES[flag]) for flag in flags}


def _offline(*args):
    raise urllib.error.URLError("offline (test)")


@FAST
@given(options=bad_options())
def test_bad_option_values_exit_2_without_a_traceback(tmp_path_factory, options):
    base = tmp_path_factory.getbasetemp()
    empty, runs = base / "empty-data", base / "no-runs"
    empty.mkdir(exist_ok=True)
    args = ["run", "--headless", "--preset", "tiny", "--data-dir", empty, "--runs", runs]
    args += [f"{flag}={value}" for flag, value in options.items()]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("mlp_tui.engine.data._download", _offline)  # if a value slipped through, still no network
        result = invoke(*args)
    out = result.output
    assert result.exit_code == 2, (options, out)
    assert out.startswith("mlp-tui: error: option --") and out.count("\n") == 1, out  # the parser's refusals too
    # Refused for the option, not for the empty data folder that comes later.
    assert any(flag in out for flag in options), (options, out)
    assert "MNIST" not in out, (options, out)
    assert not runs.exists()


@pytest.mark.parametrize("device", ["cuda:01", "cuda:\u0663", "cuda:99999999999999999999"])
def test_device_names_torch_cannot_parse_are_refused_as_bad_input(tmp_path, device):
    """These once passed validation and then crashed in torch.device with a traceback."""
    output = usage_error(invoke("run", "--headless", "--preset", "tiny", "--data-dir", tmp_path, "--device", device))
    assert output.startswith("mlp-tui: error: option --device:")
    assert "cuda:N" in output


def test_preset_nested_too_deeply_is_a_config_error(tmp_path):
    path = tmp_path / "deep.toml"
    path.write_text("hidden = " + "[" * 5000 + "]" * 5000 + "\n")
    output = usage_error(invoke("run", "--headless", "--preset", path))
    assert str(path) in output and "not valid TOML" in output


# == 2. data faults: the file is named, exit 2 =================================================


def _data_dir_with(tmp_path: Path, mnist_root: Path, damaged: str, content: bytes) -> tuple[Path, Path]:
    """A data folder with the real MNIST files linked in, except `damaged`, written as given."""
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in IDX_FILES:
        if name != damaged:
            (raw / name).symlink_to(mnist_root / "MNIST" / "raw" / name)
    (raw / damaged).write_bytes(content)
    return tmp_path / "data", raw / damaged


def _run_on(data: Path, tmp_path: Path):
    return invoke("run", "--preset", "tiny", "--headless", "--data-dir", data, "--runs", tmp_path / "runs")


def _labels(mnist_root: Path, name: str) -> bytes:
    return (mnist_root / "MNIST" / "raw" / name).read_bytes()


def test_wrong_magic_number_exits_2_naming_the_file(tmp_path, mnist_root):
    good = _labels(mnist_root, "t10k-labels-idx1-ubyte")
    data, damaged = _data_dir_with(tmp_path, mnist_root, "t10k-labels-idx1-ubyte", struct.pack(">i", 2051) + good[4:])
    output = usage_error(_run_on(data, tmp_path))
    assert str(damaged) in output and "number of dimensions: 3, expected 1" in output
    assert not (tmp_path / "runs").exists()


def test_fewer_labels_than_images_exits_2_naming_the_labels_file(tmp_path, mnist_root):
    """A self-consistent labels file with 59,000 labels for 60,000 images."""
    good = _labels(mnist_root, "train-labels-idx1-ubyte")
    short = struct.pack(">ii", 2049, 59000) + good[8 : 8 + 59000]
    data, damaged = _data_dir_with(tmp_path, mnist_root, "train-labels-idx1-ubyte", short)
    output = usage_error(_run_on(data, tmp_path))
    assert output.startswith(
        f"mlp-tui: error: {damaged}: count: 59,000 labels, but train-images-idx3-ubyte holds 60,000"
    )


def test_label_count_in_the_header_that_does_not_match_exits_2_naming_the_file(tmp_path, mnist_root):
    """Right size, but the header says 59,999 labels: a plain reader fails with a bare
    "shape '[59999]' is invalid" that names no file, or silently drops the last label."""
    good = _labels(mnist_root, "train-labels-idx1-ubyte")
    data, damaged = _data_dir_with(
        tmp_path, mnist_root, "train-labels-idx1-ubyte", struct.pack(">ii", 2049, 59999) + good[8:]
    )
    output = usage_error(_run_on(data, tmp_path))
    assert output.startswith(f"mlp-tui: error: {damaged}: length: 1 byte after the 59,999 labels")


def test_data_dir_that_is_a_file_exits_2_without_trying_to_download(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr("mlp_tui.engine.data._download", lambda *args: calls.append(args))
    not_a_folder = tmp_path / "mnist.tar"
    not_a_folder.write_bytes(b"not a folder")
    output = usage_error(_run_on(not_a_folder, tmp_path))
    assert str(not_a_folder) in output and "not a folder" in output
    assert "--data-dir" in output
    assert calls == [], "tried to download into a file"
    assert not (tmp_path / "runs").exists()


# == 3. divergence through the command line ======================================================


def test_divergent_run_exits_1_naming_epoch_and_batch_and_keeps_no_bad_weights(tmp_path, mnist_root):
    run_dir = tmp_path / "run"
    result = invoke(
        "run", "--preset", "tiny", "--headless", "--optimizer", "sgd", "--lr", "1e6", "--subset", "2000",
        "--epochs", "3", "--data-dir", mnist_root, "--run-dir", run_dir,
    )  # fmt: skip
    out = result.output
    assert result.exit_code == 1, out
    found = re.search(r"mlp-tui: run failed: training diverged: loss became \S+ at epoch (\d+), batch (\d+)", out)
    assert found, out
    assert "smaller learning rate" in out and "--lr 1e+05" in out
    records = read_events(run_dir / "metrics.jsonl")
    assert records[-1]["event"] == "run_failed" and records[-1]["reason"] == "nan"
    assert (records[-1]["epoch"], records[-1]["batch"]) == (int(found[1]), int(found[2]))
    for name in ("best.pt", "last.pt"):
        if (run_dir / name).exists():
            weights = load_checkpoint(run_dir / name)["model"]
            assert all(torch.isfinite(t).all() for t in weights.values()), f"{name} holds non-finite weights"


# == 4. a save killed half-way never leaves a damaged checkpoint ===================================

SAVER = """
import sys, torch
from pathlib import Path
from typing import Any
from mlp_tui.runs.store import CHECKPOINT_FORMAT, atomic_save
path, base = Path(sys.argv[1]), torch.arange(2_000_000, dtype=torch.float32)
print("ready", flush=True)
i = 0
while True:
    i += 1
    atomic_save({"format": CHECKPOINT_FORMAT, "i": i, "w": base + i, "tail": torch.full((1000,), float(i))}, path)
"""
TEMP = re.compile(r"^\.last\.pt\..+\.tmp$")


def test_sigkill_during_saves_leaves_the_old_or_the_new_checkpoint(tmp_path, cli_env):
    target = tmp_path / "last.pt"
    rng = random.Random(0)
    env = dict(cli_env, OMP_NUM_THREADS="1")
    saw_temp_at_kill = 0
    for round_ in range(5):
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(target)], stdout=subprocess.PIPE, text=True, env=env)
        assert proc.stdout is not None
        try:
            assert proc.stdout.readline().strip() == "ready"
            if round_ % 2 == 0:  # the moment a temp file appears (a later one, by chance): mid-write
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline:
                    if any(TEMP.match(n) for n in os.listdir(tmp_path)) and (round_ == 0 or rng.random() < 0.02):
                        break
                    time.sleep(0.001)
            else:
                time.sleep(rng.uniform(0.05, 1.5))
            saw_temp_at_kill += any(TEMP.match(n) for n in os.listdir(tmp_path))
            proc.kill()
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(30)
        names = os.listdir(tmp_path)
        assert all(n == "last.pt" or TEMP.match(n) for n in names), names
        if target.exists():
            checkpoint = load_checkpoint(target)
            i = checkpoint["i"]
            assert torch.equal(checkpoint["w"], torch.arange(2_000_000, dtype=torch.float32) + i)
            assert torch.equal(checkpoint["tail"], torch.full((1000,), float(i)))
    assert target.exists(), "no save ever completed"
    assert saw_temp_at_kill, "no kill landed during a write"


# == 5. a run whose checkpoint was replaced by a pickled payload is not resumed ====================


class RunsCode:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _stopped_run(run_dir: Path) -> None:
    run_dir.mkdir()
    now = time.time()
    with open(run_dir / "metrics.jsonl", "w") as f:
        f.write(
            json.dumps({"event": "run_started", "preset": "tiny", "config": RunConfig().to_dict(), "t": now}) + "\n"
        )
        f.write(json.dumps({"event": "run_finished", "status": "interrupted", "t": now}) + "\n")
    (run_dir / "config.toml").write_text("epochs = 10\n")


@pytest.mark.parametrize("name", ["last.pt", "best.pt"])
def test_resume_refuses_a_checkpoint_with_a_pickled_callable(tmp_path, name):
    run_dir = tmp_path / "run"
    _stopped_run(run_dir)
    honest = {"format": CHECKPOINT_FORMAT, "config": RunConfig().to_dict(), "epoch": 1, "model": {"w": torch.zeros(3)}}
    torch.save(honest, run_dir / "last.pt")
    torch.save(honest, run_dir / "best.pt")
    marker = tmp_path / "pwned"
    torch.save(honest | {"hook": RunsCode(marker)}, run_dir / name)
    before = (run_dir / "metrics.jsonl").read_bytes()
    output = usage_error(invoke("run", "--resume", run_dir, "--headless", "--runs", tmp_path))
    assert f"{run_dir / name}: refused" in output
    assert not marker.exists(), "loading the checkpoint ran code"
    assert (run_dir / "metrics.jsonl").read_bytes() == before, "the refused run was written to"


# == 6. a second Ctrl-C while saving exits at once and tears nothing ===============================

# The real command line, with every checkpoint save after the first Ctrl-C made slow (and
# announced), so that the second Ctrl-C certainly lands in the middle of writing last.pt.
SLOW_SAVE_CLI = """
import sys, time
import mlp_tui.engine.control, mlp_tui.runs.store
stopping = []
real_stop = mlp_tui.engine.control.Control.stop
def stop(self, reason="stopped"):
    stopping.append(reason)
    real_stop(self, reason)
mlp_tui.engine.control.Control.stop = stop
real_atomic = mlp_tui.runs.store._atomic
def slow_atomic(path, write):
    def slow_write(f):
        write(f)
        if stopping and path.suffix == ".pt":
            print(f"saving {path.name}", flush=True)
            time.sleep(20)
    real_atomic(path, slow_write)
mlp_tui.runs.store._atomic = slow_atomic
from mlp_tui.cli.main import app
app(sys.argv[1:], prog_name="mlp-tui")
"""


def test_second_ctrl_c_during_the_save_exits_at_once_and_checkpoints_load(tmp_path, mnist_root, cli_env):
    run_dir = tmp_path / "run"
    args = [
        "run", "--preset", "dropout", "--headless", "--epochs", "50", "--subset", "20000",
        "--data-dir", str(mnist_root), "--run-dir", str(run_dir),
    ]  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_SAVE_CLI, *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(cli_env, PYTHONUNBUFFERED="1"),
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.stdout is not None
    lines, interrupted = [], False
    try:
        deadline = time.monotonic() + 120
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("epoch") and not interrupted:
                proc.send_signal(signal.SIGINT)
                interrupted = True
            elif line.startswith("saving last.pt"):
                break
            assert time.monotonic() < deadline, "".join(lines)
        assert lines and lines[-1].startswith("saving last.pt"), "".join(lines)
        before = {p.name: p.read_bytes() for p in run_dir.glob("*.pt")}
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=15)
        waited = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out = "".join(lines) + proc.stdout.read()
    assert code == 130, out
    assert waited < 10, f"took {waited:.1f} s to exit after the second Ctrl-C (the save sleeps 20 s)"
    assert "Traceback" not in out and "KeyboardInterrupt" not in out
    assert "Test loss" not in out, "the run went on to its summary after the second Ctrl-C"
    # The interrupted save never reached last.pt: the checkpoints are those of the finished epoch.
    assert {p.name: p.read_bytes() for p in run_dir.glob("*.pt")} == before
    assert set(before) == {"best.pt", "last.pt"}
    for name in before:
        checkpoint = load_checkpoint(run_dir / name)
        assert checkpoint["epoch"] >= 1
    assert load_checkpoint(run_dir / "last.pt")["partial_epoch"] is False
    leftovers = [p.name for p in run_dir.iterdir() if p.name.endswith(".tmp")]
    assert all(TEMP.match(n) for n in leftovers), leftovers
    assert read_events(run_dir / "metrics.jsonl")[-1]["event"] != "run_finished"


# == 7. resources: out of memory, a device that is not there =======================================


@pytest.mark.parametrize(
    "error",
    [
        torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
        RuntimeError(
            "[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: you tried to "
            "allocate 8589934592 bytes. Error code 12 (Cannot allocate memory)"
        ),
    ],
    ids=["cuda", "cpu"],
)
def test_out_of_memory_saves_last_and_suggests_a_smaller_batch(synthetic, make_config, tmp_path, error):
    config = make_config(epochs=3, batch_size=128)
    store = RunStore(tmp_path / "run")
    events: list[Event] = []
    trainer = engine.Trainer(config, synthetic, CPU, emit=events.append, store=store)
    real_loss, calls = trainer.step.lossf, [0]
    failing_call = trainer.steps_per_epoch + 3  # epoch 2, batch 3

    def loss(out, target):
        calls[0] += 1
        if calls[0] == failing_call:
            raise error
        return real_loss(out, target)

    trainer.step.lossf = loss
    result = trainer.run()
    store.close()
    assert isinstance(result, RunFailed) and result.reason == "out-of-memory", result
    assert result.epoch == 2
    assert "ran out of memory at batch size 128" in result.message and "--batch-size 32" in result.message
    assert events[-1] == result and read_events(tmp_path / "run" / "metrics.jsonl")[-1]["event"] == "run_failed"
    assert not (tmp_path / "run" / "error.log").exists()

    last = load_checkpoint(tmp_path / "run" / "last.pt")
    assert last["epoch"] == 1 and last["partial_epoch"] is True
    assert last["mid_epoch"]["batches_done"] == 2, "the two batches of epoch 2 done before the fault are kept"
    # Nothing is lost: the run continues from there to the end.
    again_store = RunStore(tmp_path / "run")
    again = engine.Trainer(config, synthetic, CPU, store=again_store)
    again.restore(last, load_checkpoint(tmp_path / "run" / "best.pt"))
    finished = again.run()
    again_store.close()
    assert isinstance(finished, RunFinished) and finished.status == "completed" and finished.epochs_done == 3


def test_a_fault_while_saving_the_epochs_best_weights_resumes_at_the_next_epoch(
    synthetic, make_config, tmp_path, monkeypatch
):
    """Epoch 2 is trained and validated, then saving its best weights fails: the resumed run
    trains epoch 3 from its first batch (not 'mid-way' with epoch 2's sums), each epoch once."""
    config = make_config(epochs=3, batch_size=128)
    store = RunStore(tmp_path / "run")
    trainer = engine.Trainer(config, synthetic, CPU, store=store)
    real_save, saves = store.save_checkpoint, []

    def save(kind, state):
        saves.append(kind)
        if kind == "best" and state["epoch"] == 2:
            raise RuntimeError("the best weights could not be saved")
        real_save(kind, state)

    monkeypatch.setattr(store, "save_checkpoint", save)
    trainer.best_key = (0.0, float("-inf"))  # every epoch's validation is a new best
    result = trainer.run()
    store.close()
    assert isinstance(result, RunFailed) and "could not be saved" in result.message
    last = load_checkpoint(tmp_path / "run" / "last.pt")
    assert last["epoch"] == 2 and "mid_epoch" not in last
    again_store = RunStore(tmp_path / "run")
    again = engine.Trainer(config, synthetic, CPU, store=again_store)
    again.restore(last, load_checkpoint(tmp_path / "run" / "best.pt"))
    finished = again.run()
    again_store.close()
    assert isinstance(finished, RunFinished) and finished.epochs_done == 3
    ends = [r for r in read_events(tmp_path / "run" / "metrics.jsonl") if r["event"] == "epoch_end"]
    assert [r["epoch"] for r in ends] == [1, 3]  # epoch 2's end was never recorded: it failed in its saves
    steps = again.steps_per_epoch
    assert ends[-1]["train_loss"] > 0 and again.step.batch_losses[:steps].ne(0).all()  # every batch of epoch 3 ran


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")
@pytest.mark.parametrize(
    "device, says",
    [
        ("cuda", "no CUDA GPU is available"),
        ("cuda:1", "no CUDA GPU is available"),
        ("mps", "Apple MPS is not available"),
    ],
)
def test_a_device_that_is_not_there_exits_2_suggesting_auto_or_cpu(tmp_path, device, says):
    if device == "mps" and torch.backends.mps.is_available():
        pytest.skip("this machine has MPS")
    output = usage_error(invoke("run", "--preset", "tiny", "--headless", "--device", device, "--data-dir", tmp_path,
                                "--runs", tmp_path / "runs"))  # fmt: skip
    assert f"--device {device}: {says}" in output
    assert "--device auto or cpu" in output
    assert not (tmp_path / "runs").exists()


# == 8. concurrency ===============================================================================


def test_runs_started_at_the_same_moment_never_share_a_directory(tmp_path):
    n = 20
    barrier = threading.Barrier(n)
    made, errors = [], []

    def start():
        try:
            barrier.wait(10)
            made.append(new_run_dir("tiny", tmp_path))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert len(made) == n and len(set(made)) == n
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in made)


def test_processes_started_together_never_share_a_directory(tmp_path, cli_env):
    """Separate processes (no shared lock), each making dirs at the same wall-clock instant."""
    start_at = time.time() + 3
    code = (
        "import sys, time\nfrom mlp_tui.runs.store import new_run_dir\n"
        f"while time.time() < {start_at}: pass\n"
        "for _ in range(5): print(new_run_dir('tiny', sys.argv[1]))\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=cli_env)
        for _ in range(4)
    ]
    paths = []
    for proc in procs:
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0
        paths += out.split()
    assert len(paths) == 20 and len(set(paths)) == 20
    assert len(list(tmp_path.iterdir())) == 20


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_reader_tailing_metrics_while_they_are_written_sees_every_record_once(tmp_path, seed):
    rng = random.Random(seed)
    path = tmp_path / "metrics.jsonl"
    records = [
        {"event": "batch_progress", "n": i, "text": "ünïcödé ✓ 数字 " * rng.randint(0, 3), "loss": rng.random()}
        for i in range(400)
    ]
    data = b"".join(json.dumps(r, ensure_ascii=False).encode("utf-8") + b"\n" for r in records)
    done = threading.Event()

    def writer():
        with open(path, "ab") as f:
            at = 0
            while at < len(data):
                size = rng.randint(1, 40)  # splits lines, and UTF-8 characters, anywhere
                f.write(data[at : at + size])
                f.flush()
                at += size
                if rng.random() < 0.05:
                    time.sleep(0.001)
        done.set()

    tail = MetricsTail(path)
    seen: list[dict[str, Any]] = []
    thread = threading.Thread(target=writer)
    thread.start()
    deadline = time.monotonic() + 30
    while not (done.is_set() and len(seen) >= len(records)):
        seen += tail.read()
        assert time.monotonic() < deadline, f"saw {len(seen)} of {len(records)}"
    thread.join()
    seen += tail.read()
    assert seen == records
