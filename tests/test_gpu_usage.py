"""The GPU's utilisation and memory in the headers: read through NVML (a fake pynvml here, so no
GPU and no nvidia-ml-py needed), carried on BatchProgress, and shown by the app, `watch` and
headless; on a CPU, or without nvidia-ml-py, nothing of it appears."""

from __future__ import annotations

import io
import sys
import types
from dataclasses import replace

import pytest
import torch

from mlp_tui.core.events import BatchProgress, RunStarted, from_dict
from mlp_tui.engine import gpu_usage
from mlp_tui.engine.gpu_usage import GpuReading, GpuUsage
from mlp_tui.text.report import batch_line, device_words, gpu_words
from mlp_tui.views.console.headless import PlainPrinter, RichPrinter
from mlp_tui.views.state import RunProgress
from mlp_tui.views.tui.widgets.status_header import StatusHeader

GIB = 2**30
H100 = "CUDA NVIDIA H100 80GB HBM3"


class FakeNvml(types.ModuleType):
    """What the run reads of pynvml, counting the reads; `fail_at` names a call that raises."""

    class NVMLError(Exception):
        pass

    def __init__(self, fail_at: str = "") -> None:
        super().__init__("pynvml")
        self.fail_at, self.reads = fail_at, 0
        self.opened: list[int | str] = []

    def _call(self, name: str) -> None:
        if name == self.fail_at:
            raise self.NVMLError(name)

    def nvmlInit(self) -> None:
        self._call("init")

    def nvmlDeviceGetHandleByIndex(self, index: int) -> str:
        self.opened.append(index)
        return f"handle {index}"

    def nvmlDeviceGetHandleByUUID(self, uuid: str) -> str:
        self._call("uuid")
        self.opened.append(uuid)
        return f"handle {uuid}"

    def nvmlDeviceGetUtilizationRates(self, handle: str) -> types.SimpleNamespace:
        self.reads += 1
        self._call("read")
        return types.SimpleNamespace(gpu=87, memory=40)

    def nvmlDeviceGetMemoryInfo(self, handle: str) -> types.SimpleNamespace:
        return types.SimpleNamespace(used=int(1.2 * GIB), total=80 * GIB, free=0)


@pytest.fixture
def no_torch_uuid(monkeypatch):
    """torch names no UUID (as on this GPU-less machine): the reader goes by CUDA_VISIBLE_DEVICES."""
    monkeypatch.setattr(gpu_usage, "_torch_device", lambda device: (device.index, None))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


def reader(monkeypatch, nvml: FakeNvml, device: str = "cuda:0") -> GpuUsage | None:
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    return GpuUsage.for_device(torch.device(device))


# -- the reader -------------------------------------------------------------------------------------


def test_reads_the_figures_at_most_once_a_second(monkeypatch, no_torch_uuid):
    nvml = FakeNvml()
    usage = reader(monkeypatch, nvml)
    assert usage is not None and nvml.opened == [0]
    now = [100.0]
    usage.clock = lambda: now[0]
    assert usage.read() == GpuReading(87, int(1.2 * GIB), 80 * GIB)
    now[0] += 0.5
    assert usage.read() == GpuReading(87, int(1.2 * GIB), 80 * GIB)
    assert nvml.reads == 1, "a second read within a second asks NVML again"
    now[0] += 0.6
    usage.read()
    assert nvml.reads == 2


def test_cuda_visible_devices_names_the_gpu(monkeypatch, no_torch_uuid):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,1")
    nvml = FakeNvml()
    assert reader(monkeypatch, nvml, "cuda:1") is not None
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-1234")
    assert reader(monkeypatch, nvml, "cuda:0") is not None
    assert nvml.opened == [1, "GPU-1234"]
    assert reader(monkeypatch, nvml, "cuda:1") is None, "a device CUDA_VISIBLE_DEVICES does not list"


def test_torch_uuid_names_the_gpu_first(monkeypatch):
    monkeypatch.setattr(gpu_usage, "_torch_device", lambda device: (0, "abcd-ef"))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2")
    nvml = FakeNvml()
    assert reader(monkeypatch, nvml) is not None and nvml.opened == ["GPU-abcd-ef"]
    nvml = FakeNvml(fail_at="uuid")  # NVML does not know it (a MIG slice): CUDA_VISIBLE_DEVICES then
    assert reader(monkeypatch, nvml) is not None and nvml.opened == [2]


def test_nvml_that_will_not_start_means_no_reader(monkeypatch, no_torch_uuid):
    assert reader(monkeypatch, FakeNvml(fail_at="init")) is None


def test_a_failed_read_ends_the_readings_without_raising(monkeypatch, no_torch_uuid):
    nvml = FakeNvml(fail_at="read")
    usage = reader(monkeypatch, nvml)
    assert usage is not None
    assert usage.read() is None
    nvml.fail_at = ""
    usage.clock = lambda: 1e9
    assert usage.read() is None and nvml.reads == 1, "NVML asked again after it failed"


def test_no_nvidia_ml_py_or_no_gpu_means_no_reader(monkeypatch, no_torch_uuid):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # `import pynvml` raises ImportError
    assert GpuUsage.for_device(torch.device("cuda:0")) is None
    nvml = FakeNvml()
    assert reader(monkeypatch, nvml, "cpu") is None and nvml.opened == []


# -- what a user sees -------------------------------------------------------------------------------


def progress(busy: int | None = 87, used: int | None = int(1.2 * GIB), total: int | None = 80 * GIB) -> BatchProgress:
    return BatchProgress(epoch=1, epochs=5, batch=40, batches=100, loss=0.5, accuracy=0.8, samples_per_s=90000.0,
                         lr=0.01, logged=True, gpu_busy=busy, gpu_memory=used, gpu_memory_total=total)  # fmt: skip


def started(device: str = H100, step: str | None = "captured") -> RunStarted:
    return RunStarted(config={"epochs": 5}, preset="tiny", device=device, summary="", parameters=1000,
                      train_size=10000, val_size=100, test_size=100, run_dir="runs/tiny-run", step=step)  # fmt: skip


def test_the_wording():
    assert gpu_words(progress()) == "GPU 87 % busy, 1.2 of 80 GiB in use"
    assert gpu_words(progress(used=int(0.5 * GIB), total=8 * GIB)) == "GPU 87 % busy, 0.5 of 8.0 GiB in use"
    assert gpu_words(progress(None, None, None)) == "" and gpu_words(None) == ""
    assert device_words(H100, "eager (--compile)") == f"{H100}, step: eager (--compile)"
    assert device_words("CPU (2 threads)", None) == "CPU (2 threads)"
    assert gpu_words(progress()).isascii()


def test_the_figures_survive_metrics_jsonl():
    event = progress()
    assert from_dict(event.to_dict()) == event
    old = {k: v for k, v in event.to_dict().items() if not k.startswith("gpu")}  # written before they existed
    assert from_dict(old) == progress(None, None, None)


def test_headless_says_the_step_and_the_gpu():
    stream = io.StringIO()
    printer = PlainPrinter(stream, width=200)
    printer.handle(started())
    printer.handle(progress())
    lines = stream.getvalue().splitlines()
    assert lines[0].endswith(f"device {H100}, step: captured")
    assert lines[-1].endswith("90,000 img/s  GPU 87 % busy, 1.2 of 80 GiB in use")


def test_headless_on_a_cpu_says_nothing_new():
    stream = io.StringIO()
    printer = PlainPrinter(stream, width=200)
    printer.handle(started("CPU (2 threads)", None))
    printer.handle(progress(None, None, None))
    out = stream.getvalue()
    assert out.splitlines()[0].endswith("device CPU (2 threads)")
    assert out.splitlines()[-1].endswith("90,000 img/s") and "step" not in out and "GPU" not in out


def test_the_live_bar_shows_the_gpu():
    from rich.console import Console

    written = io.StringIO()
    console = Console(file=written, force_terminal=True, width=140, color_system=None)
    printer = RichPrinter(console=console)
    printer.handle(started())
    printer.handle(replace(progress(), logged=False))
    printer.close()
    assert "ETA" in written.getvalue() and "GPU 87 % busy, 1.2 of 80 GiB in use" in written.getvalue()


def header(run: RunProgress, width: int = 200) -> str:
    return StatusHeader.run_line(run, width).plain


def test_the_app_and_watch_header_shows_the_step_and_the_gpu_while_it_trains():
    run = RunProgress().apply(started()).apply(progress())
    assert run.step == "captured"
    assert header(run) == (f"lr 0.01  ·  GPU 87 % busy, 1.2 of 80 GiB in use  ·  {H100}, step: captured  ·  "
                           "runs/tiny-run")  # fmt: skip
    # At 80 columns the figures stay; what does not fit is cut at a word's end.
    assert header(run, 78).startswith("lr 0.01  ·  GPU 87 % busy, 1.2 of 80 GiB in use  ·  CUDA NVIDIA H100")
    assert len(header(run, 78)) <= 78
    assert "GPU" not in header(run.pausing()), "a paused run's GPU idles: its last figures are old"


def test_the_header_on_a_cpu_says_nothing_new():
    cpu = RunProgress().apply(started("CPU (2 threads)", None)).apply(progress(None, None, None))
    assert header(cpu) == "lr 0.01  ·  CPU (2 threads)  ·  runs/tiny-run"
    assert batch_line(progress(None, None, None)).endswith("90,000 img/s")
