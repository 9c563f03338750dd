"""A saved run's model, loaded again: re-test it on its dataset (`mlp-tui eval`) or read one image
(`mlp-tui predict`). No UI library here; the command line prints what these return."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from mlp_tui.core.config import CLI_SOURCE, RunConfig, build_config
from mlp_tui.core.datasets import dataset_info
from mlp_tui.core.errors import DeviceError
from mlp_tui.core.events import Evaluation, RunFinished
from mlp_tui.engine.data import load_test_split
from mlp_tui.engine.model import build_model, configure_device, device_name, pick_device, probabilities
from mlp_tui.engine.splits import test_part
from mlp_tui.runs.checkpoint import CheckpointError
from mlp_tui.runs.layout import BEST_CHECKPOINT, LAST_CHECKPOINT, REPORT_FILE
from mlp_tui.runs.store import load_run_checkpoint
from mlp_tui.text.report import Holdout, final_report, pct


@dataclass
class LoadedRun:
    run_dir: Path
    checkpoint: Path
    note: str | None  # said to the user, e.g. that last.pt stands in for a missing best.pt
    config: RunConfig
    model: torch.nn.Module
    device: torch.device
    device_label: str
    epoch: int  # epochs of training behind these weights
    val_accuracy: float | None
    preset: str
    holdout: Holdout | None = None  # set by evaluate_run: what it tested on, what chose the epoch

    def header(self) -> str:
        return (
            f"run {self.run_dir}  checkpoint {self.checkpoint.name} (epoch {self.epoch})  "
            f"model {self.config.architecture} on {dataset_info(self.config.dataset).title}  device {self.device_label}"
        )


def checkpoint_path(run_dir: Path) -> tuple[Path, str | None]:
    """best.pt, else last.pt with a note saying so."""
    run_dir = Path(run_dir)
    best, last = run_dir / BEST_CHECKPOINT, run_dir / LAST_CHECKPOINT
    if best.is_file():
        return best, None
    if last.is_file():
        return last, f"note: {run_dir} has no {best.name}; using {last.name} (the weights at the last save)"
    raise CheckpointError(
        f"{run_dir}: no checkpoint ({best.name} or {last.name}); the run ended before its first epoch finished"
    )


def load_run(run_dir: Path, device: str | None = None) -> LoadedRun:
    """The run's best weights in the model its checkpoint's config describes, in eval mode.

    Raises CheckpointError (missing, damaged, or weights that do not fit the config), ConfigError
    (a config the checkpoint carries that is not valid), DeviceError."""
    path, note = checkpoint_path(run_dir)
    checkpoint = load_run_checkpoint(path)
    values, state = checkpoint["config"], checkpoint["model"]
    config = build_config(values, source=f"{path} (its config)")
    if device is not None:  # the user's choice: there, or an error
        config = build_config({"device": device}, source=CLI_SOURCE, base=config)
        target = pick_device(config.device)
    else:
        target, moved = _run_device(config.device)
        if moved:
            note = (f"{note}; " if note else "note: ") + moved
    model = build_model(config)
    try:
        model.load_state_dict(state)
    except RuntimeError:
        raise CheckpointError(_mismatch(path, config, model, state)) from None
    except (TypeError, ValueError, AttributeError) as exc:
        raise CheckpointError(f"{path}: the saved weights cannot be used ({type(exc).__name__}: {exc})") from None
    configure_device(target, config.deterministic)
    model.to(target).eval()
    if checkpoint.get("partial_epoch"):
        extra = "its last epoch was cut short"
        note = f"{note}; {extra}" if note else f"note: {path.name}: {extra}"
    epoch = checkpoint.get("epoch")
    return LoadedRun(
        run_dir=Path(run_dir),
        checkpoint=path,
        note=note,
        config=config,
        model=model,
        device=target,
        device_label=device_name(target),
        epoch=int(epoch) if isinstance(epoch, int) else 0,
        val_accuracy=checkpoint.get("val_accuracy", checkpoint.get("best_val_accuracy")),
        preset=str(checkpoint.get("preset", "?")),
    )


def _run_device(name: str) -> tuple[torch.device, str | None]:
    """The device the run asked for, so its numbers are repeated where they were made; where
    that device is not here (a GPU run looked at on a laptop), the best one that is."""
    try:
        return pick_device(name), None
    except DeviceError:
        fallback = pick_device("auto")
        return fallback, f"the run used {name}, which is not here: running on {device_name(fallback)}"


def weights_architecture(state: dict[str, Any]) -> str:
    """The layer widths the saved weights have, e.g. 784-16-10 (from the Linear weight shapes)."""

    def order(key: str) -> tuple[int, str]:
        head = key.split(".")[0]
        return (int(head), key) if head.isdigit() else (1 << 30, key)

    keys = [k for k in sorted(state, key=order) if k.endswith("weight") and getattr(state[k], "ndim", 0) == 2]
    if not keys:
        return "no linear layers"
    widths = [int(state[keys[0]].shape[1])] + [int(state[k].shape[0]) for k in keys]
    batch_norm = any(k.endswith("running_mean") for k in state)
    biased = any(k.removesuffix("weight") + "bias" in state for k in keys)
    extras = [name for name, on in (("batch norm", batch_norm), ("no bias", not biased)) if on]
    return "-".join(str(n) for n in widths) + (f" with {' and '.join(extras)}" if extras else "")


def _mismatch(path: Path, config: RunConfig, model: torch.nn.Module, state: dict[str, Any]) -> str:
    extras = [name for name, on in (("input dropout", config.input_dropout), ("batch norm", config.batch_norm),
                                    ("dropout", config.dropout), ("no bias", not config.bias)) if on]  # fmt: skip
    wanted = config.architecture + (f" with {' and '.join(extras)}" if extras else "")
    found = weights_architecture(state)
    text = f"{path}: its weights are for a {found} network, but its config describes a {wanted} network"
    if found.split()[0] == config.architecture:  # same widths: the layers differ in kind or place
        text += (
            f" (weighted layers at positions {_positions(state)} in the checkpoint, "
            f"{_positions(model.state_dict())} in the model its config builds)"
        )
    return text + "; the checkpoint is inconsistent (edited, or written by another version)"


def _positions(state: dict[str, Any]) -> str:
    heads = {k.split(".")[0] for k in state if k.endswith(".weight")}
    return ", ".join(sorted(heads, key=lambda h: (not h.isdigit(), int(h) if h.isdigit() else 0, h)))


def evaluate_run(run: LoadedRun, data_dir: str | Path | None) -> tuple[RunFinished, Evaluation]:
    """Test-set loss, accuracy, per-class counts, confusion and mistakes of the loaded weights."""
    from mlp_tui.engine.trainer import evaluate  # the training loop's own evaluation, so numbers match the run's

    config = run.config
    whole_x, whole_y = load_test_split(config.dataset, data_dir, device=run.device)
    # A run validated on test images is tested on the rest of them, as it was when it trained.
    test_x, test_y = test_part(whole_x, whole_y, val_from=config.val_from, val_split=config.val_split, seed=config.seed)
    held = len(whole_x) - len(test_x) if config.val_from == "test" else (0 if run.val_accuracy is None else None)
    run.holdout = Holdout(config.monitor, config.val_from, held, len(test_x))
    started = time.perf_counter()
    result = evaluate(run.model, test_x, test_y, config, "test", run.epoch)
    finished = RunFinished(
        status="evaluated",
        epochs_done=run.epoch,
        best_epoch=run.epoch if run.checkpoint.name == BEST_CHECKPOINT else None,
        best_val_accuracy=run.val_accuracy,
        test_loss=result.loss,
        test_accuracy=result.accuracy,
        seconds=time.perf_counter() - started,
    )
    return finished, result.event


def eval_report(
    run: LoadedRun,
    finished: RunFinished,
    test: Evaluation,
    *,
    width: int = 100,
    ascii: bool = False,
    recorded: tuple[float, str | None] | None = None,
) -> str:
    """The test report, and how it compares with the test accuracy the run recorded itself
    (`recorded`: that accuracy and the device the run said it used)."""
    lines = [run.header()]
    if run.note:
        lines.append(run.note)
    lines += ["", final_report(finished, test, width=width, ascii=ascii, holdout=run.holdout).rstrip()]
    if recorded is not None and run.checkpoint.name == BEST_CHECKPOINT:
        accuracy, device = recorded
        if pct(accuracy) == pct(finished.test_accuracy):
            lines += ["", f"The same as the run recorded ({pct(accuracy)}: {REPORT_FILE}, `mlp-tui runs`)."]
        elif device and device.split(" (")[0] != run.device_label.split(" (")[0]:  # a kind, not thread counts
            lines += ["", f"The run recorded {pct(accuracy)}, tested on {device}; this test ran on {run.device_label}, "
                          "and another kind of device rounds a few close calls differently (--device chooses "
                          "where eval runs)."]  # fmt: skip
        else:
            lines += ["", f"The run recorded {pct(accuracy)}: {BEST_CHECKPOINT} has changed since (a resumed run, "
                          "a copy), or an older mlp-tui tested it."]  # fmt: skip
    return "\n".join(lines) + "\n"


@torch.inference_mode()
def predict(run: LoadedRun, pixels: bytes) -> list[float]:
    """Class probabilities for one 28x28 uint8 digit (row-major bytes)."""
    x = torch.frombuffer(bytearray(pixels), dtype=torch.uint8).reshape(1, -1).to(run.device)
    output = run.model(x)
    return probabilities(output, run.config)[0].float().cpu().tolist()
