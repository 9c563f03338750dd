"""How busy the run's CUDA GPU is and how much of its memory is in use, read through NVML
(`nvidia-ml-py`, an optional dependency: the `gpu` extra). Without it, or on another device,
there is no reader and the views show nothing of it."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import torch

READ_EVERY_S = 1.0  # NVML's utilisation is itself a mean over about a second: reading faster says nothing new


class GpuReading(NamedTuple):
    busy: int  # percent of the last sample period a kernel ran
    used: int  # bytes of memory in use on the device (every process's, not only this run's)
    total: int  # bytes


class GpuUsage:
    """Reads one GPU through NVML, at most once per READ_EVERY_S; the first failure ends it
    (a reading is never worth a run: it returns None from then on instead of raising)."""

    def __init__(self, nvml: Any, handle: Any, clock: Callable[[], float] = time.monotonic) -> None:
        self.nvml, self.handle, self.clock = nvml, handle, clock
        self.last: GpuReading | None = None
        self.read_at = -float("inf")
        self.broken = False

    @classmethod
    def for_device(cls, device: torch.device) -> GpuUsage | None:
        """A reader of `device`, or None: not CUDA, no nvidia-ml-py, or NVML will not start."""
        if device.type != "cuda":
            return None
        try:
            import pynvml as nvml
        except ImportError:
            return None
        try:
            nvml.nvmlInit()
            handle = _handle(nvml, device)
        except (nvml.NVMLError, OSError):  # no driver library, a driver too old, a device it cannot see
            return None
        return None if handle is None else cls(nvml, handle)

    def read(self) -> GpuReading | None:
        """(utilisation %, memory used, memory total), as of at most READ_EVERY_S ago."""
        if self.broken:
            return None
        now = self.clock()
        if now - self.read_at >= READ_EVERY_S:
            try:
                rates = self.nvml.nvmlDeviceGetUtilizationRates(self.handle)
                memory = self.nvml.nvmlDeviceGetMemoryInfo(self.handle)
                self.last = GpuReading(int(rates.gpu), int(memory.used), int(memory.total))
            except Exception:  # NVMLError (a MIG slice has no utilisation, the GPU fell off the bus) or worse
                self.broken, self.last = True, None
                return None
            self.read_at = now
        return self.last


def _handle(nvml: Any, device: torch.device) -> Any:
    """The NVML handle of torch's `device`. By its UUID where torch says it: NVML numbers GPUs by
    PCI bus, CUDA fastest first unless CUDA_DEVICE_ORDER says otherwise. Else CUDA_VISIBLE_DEVICES'
    entry for it (an index or a UUID), else the same index."""
    index, uuid = _torch_device(device)
    if index is None:
        return None
    if uuid:
        try:
            return nvml.nvmlDeviceGetHandleByUUID(f"GPU-{uuid}")
        except nvml.NVMLError:
            pass  # a MIG slice, say: its own UUID is not the GPU's
    visible = [v.strip() for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if v.strip()]
    if not visible:
        return nvml.nvmlDeviceGetHandleByIndex(index)
    if index >= len(visible):
        return None
    entry = visible[index]
    return nvml.nvmlDeviceGetHandleByIndex(int(entry)) if entry.isdigit() else nvml.nvmlDeviceGetHandleByUUID(entry)


def _torch_device(device: torch.device) -> tuple[int | None, str | None]:
    """The device's CUDA index and UUID as torch sees them (None: torch cannot say)."""
    try:
        index = torch.cuda.current_device() if device.index is None else device.index
    except (RuntimeError, AssertionError):  # no CUDA here after all
        return device.index, None
    try:
        uuid = getattr(torch.cuda.get_device_properties(index), "uuid", None)
    except (RuntimeError, AssertionError):
        return index, None
    return index, (str(uuid) if uuid is not None else None)
