"""Layer health: what each layer is doing, measured cheaply, and warnings in plain words.

During the epoch the gradient norms are sampled every few batches into a device buffer (no
host sync per batch); the weights are copied once, before the epoch's last step, for the
update-to-weight ratio. At the epoch's end one forward pass over a fixed probe batch of
validation images measures the activations: dead units (never active), saturated units
(sigmoid/tanh pinned near their limits), mean and spread; the weights show whether a layer's
units are all identical (zero initialisation).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from mlp_tui.core.config import RunConfig
from mlp_tui.core.events import MAX_DEAD_LISTED, EpochEnd, HealthWarning, LayerHealth, LayerStats, from_dict

SAMPLE_EVERY = 8  # batches between gradient-norm samples
PROBE_SIZE = 512
SATURATING = {"sigmoid": (0.02, 0.98), "tanh": (-0.96, 0.96)}  # outputs beyond these are pinned
SATURATED_SHARE = 0.9  # a unit pinned on this share of the probe images is saturated
IDENTICAL_TOLERANCE = 1e-6  # units whose weights differ by less than this (relative) are identical

# When a warning starts. Chosen so that the textbook failures trip them and the built-in
# presets do not (tests/test_insight.py provokes each and runs the dropout preset clean).
DEAD_WARN = 0.5
SATURATED_WARN = 0.5
VANISHING_RATIO = 1e-2  # layer 1's gradient norm against the output layer's
UPDATE_HIGH, UPDATE_LOW = 1e-1, 1e-5  # update-to-weight ratio; healthy is about 1e-3 (Adam's first steps on
# a narrow net reach a few per cent: that is not yet exploding)
RISING_EPOCHS = 3  # epochs since validation loss was lowest
RISE_MARGIN = 1.1  # and it is now this much above its lowest (noise is not overfitting)
UNDERFIT_ACCURACY, FLAT_POINTS = 0.85, 0.02
STUCK_ACCURACY = 0.2  # twice chance for ten classes: guessing, not learning


class HealthMonitor:
    """Follows one model through training; `epoch_health` gives the epoch's LayerHealth."""

    def __init__(self, model: nn.Sequential, config: RunConfig, probe_x: torch.Tensor) -> None:
        self.model, self.config = model, config
        self.linears = [m for m in model if isinstance(m, nn.Linear)]
        modules = list(model)
        # The activation after each hidden linear layer (its input is the pre-activation).
        self.activations: list[nn.Module] = []
        for i, m in enumerate(modules):
            if isinstance(m, nn.Linear) and m is not self.linears[-1]:
                self.activations.append(next(a for a in modules[i + 1 :] if _is_activation(a)))
        self.probe_x = probe_x[:PROBE_SIZE]
        device = self.linears[0].weight.device
        self.grad_sum = torch.zeros(len(self.linears), device=device)
        self.grad_samples = 0
        self._before: list[torch.Tensor] | None = None
        self._ratios: torch.Tensor | None = None

    # -- during the epoch: called by the trainer around each step -----------------------------
    def after_backward(self, batch: int) -> None:
        if batch % SAMPLE_EVERY == 0 and self.sample_grads():
            self.count_grad_sample()

    def sample_grads(self) -> bool:
        """Add the gradient norms to the epoch's sums, on the device (a captured step does this
        every batch, inside its graph, and counts each replay)."""
        grads = [m.weight.grad for m in self.linears if m.weight.grad is not None]
        if len(grads) < len(self.linears):
            return False
        self.grad_sum += torch.stack(torch._foreach_norm(grads))
        return True

    def count_grad_sample(self) -> None:
        self.grad_samples += 1

    def before_step(self, last: bool) -> None:
        if last:
            self._before = [m.weight.detach().clone() for m in self.linears]

    def after_step(self) -> None:
        if self._before is None:
            return
        weights = [m.weight.detach() for m in self.linears]
        steps = torch._foreach_sub(weights, self._before)
        self._ratios = torch.stack(torch._foreach_norm(steps)) / torch.stack(torch._foreach_norm(weights)).clamp_min(
            1e-12
        )
        self._before = None

    # -- at the epoch's end ---------------------------------------------------------------------
    @torch.no_grad()
    def epoch_health(self, epoch: int) -> LayerHealth:
        probes: list[tuple[torch.Tensor, torch.Tensor]] = []
        hooks = [a.register_forward_hook(lambda mod, inp, out: probes.append((inp[0], out))) for a in self.activations]
        was_training = self.model.training
        self.model.eval()
        try:
            self.model(self.probe_x)
        finally:
            for h in hooks:
                h.remove()
            self.model.train(was_training)
        grads = (self.grad_sum / max(self.grad_samples, 1)).tolist()
        ratios = self._ratios.tolist() if self._ratios is not None else [0.0] * len(self.linears)
        norms = torch.stack(torch._foreach_norm([m.weight.detach() for m in self.linears])).tolist()
        self.grad_sum.zero_()
        self.grad_samples = 0
        layers = []
        for i, linear in enumerate(self.linears):
            dead = saturated = mean = std = None
            dead_units: tuple[int, ...] = ()
            if i < len(probes):
                pre, out = probes[i]
                mean, std = out.mean().item(), out.std().item()
                limits = SATURATING.get(self.config.activation)
                if self.config.activation == "relu":  # a unit whose input is never positive is dead
                    never = ~(pre > 0).any(0)
                    dead = never.float().mean().item()
                    dead_units = tuple(never.nonzero().flatten()[:MAX_DEAD_LISTED].tolist())
                elif limits is not None:
                    pinned = ((out < limits[0]) | (out > limits[1])).float().mean(0)
                    saturated = (pinned >= SATURATED_SHARE).float().mean().item()
            identical = i < len(probes) and identical_units(linear)
            layers.append(LayerStats(i + 1, linear.out_features, dead, saturated, mean, std, norms[i], grads[i],
                                     ratios[i], dead_units, identical))  # fmt: skip
        return LayerHealth(epoch=epoch, layers=tuple(layers))


def identical_units(linear: nn.Linear) -> bool:
    """Whether every unit has the same incoming weights and bias: then they compute the same
    thing, get the same gradient and never differ. Within a millionth, not exactly: a matrix
    product may round one column of its output unlike another."""
    rows = linear.weight.detach()
    if linear.bias is not None:
        rows = torch.cat([rows, linear.bias.detach()[:, None]], dim=1)
    if len(rows) < 2:
        return False
    return bool((rows - rows[:1]).abs().max() <= IDENTICAL_TOLERANCE * rows.abs().max())


def _is_activation(module: nn.Module) -> bool:
    return not isinstance(module, (nn.Linear, nn.BatchNorm1d, nn.Dropout))


class Advisor:
    """Turns each epoch's figures into warnings, each sent once, when it first appears."""

    def __init__(self, config: RunConfig) -> None:
        self.config = config
        self.sent: set[tuple[str, int | None]] = set()
        self.history: list[EpochEnd] = []

    def state_dict(self) -> dict[str, Any]:
        """The epochs so far and the warnings already given, as plain data."""
        return {"history": [e.to_dict() for e in self.history], "sent": [[code, layer] for code, layer in self.sent]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """A resumed run: its epochs so far and the warnings it already gave (so none twice)."""
        self.history = [e for e in map(from_dict, state["history"]) if isinstance(e, EpochEnd)]
        self.sent = {(code, layer) for code, layer in state["sent"]}

    def warnings(self, end: EpochEnd, health: LayerHealth, best_epoch: int | None) -> list[HealthWarning]:
        self.history.append(end)
        found = self._layer_warnings(health) + self._fit_warnings(end.epoch, best_epoch)
        new = [w for w in found if (w.code, w.layer) not in self.sent]
        self.sent.update((w.code, w.layer) for w in new)
        return new

    def _layer_warnings(self, health: LayerHealth) -> list[HealthWarning]:
        epoch, out = health.epoch, []
        hidden = health.layers[:-1]
        for s in hidden:
            if s.identical:  # the start is the cause: advice on dead or saturated units would mislead
                out.append(self._identical(epoch, s))
                continue
            if s.dead is not None and s.dead >= DEAD_WARN:
                out.append(HealthWarning(epoch, "dead-units", s.layer,
                                         f"layer {s.layer}: {s.dead:.0%} of units never fire",
                                         "lower the learning rate or try leaky_relu"))  # fmt: skip
            if s.saturated is not None and s.saturated >= SATURATED_WARN:
                out.append(HealthWarning(epoch, "saturated", s.layer,
                                         f"layer {s.layer}: {s.saturated:.0%} of units are saturated "
                                         f"({self.config.activation} outputs pinned at their limits)",
                                         "try relu, batch norm or a smaller learning rate"))  # fmt: skip
        first, output = health.layers[0], health.layers[-1]
        if hidden and output.grad_norm > 0 and first.grad_norm / output.grad_norm < VANISHING_RATIO:
            times = output.grad_norm / max(first.grad_norm, 1e-30)
            cause = f"{self.config.activation} in a deep net" if len(hidden) > 1 else "the gradients fade"
            out.append(HealthWarning(epoch, "vanishing-gradients", 1,
                                     f"gradients reaching layer 1 are {times:,.0f}× smaller than at the output: "
                                     f"{cause}",
                                     "try relu or batch norm"))  # fmt: skip
        worst = max(health.layers, key=lambda s: s.update_ratio)
        if worst.update_ratio > UPDATE_HIGH:
            out.append(HealthWarning(epoch, "exploding-updates", worst.layer,
                                     f"layer {worst.layer}: each step changes the weights by {worst.update_ratio:.0%}"
                                     " (healthy is about 0.1 %)", "lower the learning rate"))  # fmt: skip
        # Slow only when even the fastest layer crawls, and not at a schedule's planned low end.
        if self.config.schedule == "none" and 0 < worst.update_ratio < UPDATE_LOW:
            out.append(HealthWarning(epoch, "slow-updates", None,
                                     f"each step changes the weights by at most {worst.update_ratio:.0e} of their "
                                     "size (healthy is about 1e-3)", "raise the learning rate"))  # fmt: skip
        return out

    def _identical(self, epoch: int, s: LayerStats) -> HealthWarning:
        cause = "zero initialisation" if self.config.init == "zeros" else "they started alike"
        return HealthWarning(epoch, "identical-units", s.layer,
                             f"layer {s.layer}: all {s.units} units are identical ({cause}: every unit gets the "
                             "same gradient, so they never differ)",
                             "start from random weights: --init default, kaiming or xavier")  # fmt: skip

    def _fit_warnings(self, epoch: int, best_epoch: int | None) -> list[HealthWarning]:
        h, out = self.history, []
        vals = [(e.val_loss, i) for i, e in enumerate(h) if e.val_loss is not None]
        if vals:
            low, at = min(vals)
            now = h[-1]
            risen = len(h) - 1 - at
            if (risen >= RISING_EPOCHS and now.val_loss is not None and now.val_loss > RISE_MARGIN * low
                    and now.train_loss < h[at].train_loss):  # fmt: skip
                kept = f"; best weights kept from epoch {best_epoch}" if best_epoch else ""
                out.append(HealthWarning(epoch, "overfitting", None,
                                         f"validation loss has risen for {risen} epochs while training loss falls: "
                                         f"overfitting since epoch {h[at].epoch}{kept}",
                                         "try dropout or fewer units"))  # fmt: skip
        if len(h) >= 3:
            last, before = h[-1], h[-3]
            val = last.val_accuracy if last.val_accuracy is not None else last.train_accuracy
            flat = abs(last.train_accuracy - before.train_accuracy) < FLAT_POINTS
            if last.train_accuracy < UNDERFIT_ACCURACY and val < UNDERFIT_ACCURACY and flat:
                out.append(_underfitting(epoch, last.train_accuracy, val))
        return out


def _underfitting(epoch: int, train: float, val: float) -> HealthWarning:
    """Low and flat accuracy. Near guessing, more units would not help: training itself is stuck
    (a rate too high kills units, sigmoids in depth starve the first layers of gradient, zeros
    keep units equal), and the run's other warnings say which."""
    said = f"training accuracy {train:.0%} and validation {val:.0%}, both low and flat for 3 epochs: "
    if train < STUCK_ACCURACY:
        return HealthWarning(epoch, "underfitting", None, said + "training is stuck near guessing",
                             "see this run's other warnings (dead units, vanishing gradients, identical units) "
                             "and try another learning rate")  # fmt: skip
    return HealthWarning(epoch, "underfitting", None, said + "the model cannot fit the data",
                         "try more units or layers, or a higher learning rate")  # fmt: skip
