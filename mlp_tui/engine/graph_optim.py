"""The optimizer's update as a CUDA graph can hold it: torch.optim's arithmetic for Adam, AdamW
and SGD (plain, momentum, Nesterov), on the optimizer's own state, with the learning rate and
Adam's betas read from device tensors.

Why not the optimizer's own step: a fused kernel takes lr and betas as numbers, frozen into a
graph when it is captured, and its capturable multi-tensor form turns a tensor beta1 back into a
number (a read from the device, which a capture forbids). But one-cycle moves lr and beta1
every batch. The eager steps (warm-up, each epoch's last batch) still use the optimizer itself,
so its state (step, moments, momentum buffers) stays what checkpoints save and resume.
"""

from __future__ import annotations

from typing import Any

import torch

GRAPH_OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw")
Tensors = list[torch.Tensor] | tuple[torch.Tensor, ...]  # what the foreach operations take and give


class DeviceHyper:
    """Each param group's lr (and betas) as device tensors, refreshed from the group's floats,
    which the schedule, live changes and the views go on setting and reading. Float64, as the
    fused kernels use them (float32 would round 1 - 0.999 by about 1e-5)."""

    def __init__(self, optimizer: torch.optim.Optimizer, device: torch.device) -> None:
        # The optimizer, not its groups: loading a checkpoint replaces the group dicts.
        self.optimizer = optimizer
        groups = optimizer.param_groups
        self.tensors = [[torch.tensor(v, dtype=torch.float64, device=device) for v in self._values(g)] for g in groups]
        self._held = [self._values(group) for group in groups]

    @staticmethod
    def _values(group: dict[str, Any]) -> list[float]:
        return [float(group["lr"]), *(float(beta) for beta in group.get("betas", ()))]

    def refresh(self) -> None:
        """Copy what changed since the last refresh (a launch per number)."""
        for i, group in enumerate(self.optimizer.param_groups):
            values = self._values(group)
            if values != self._held[i]:
                for tensor, value in zip(self.tensors[i], values, strict=True):
                    tensor.fill_(value)
                self._held[i] = values


def state_on_device(optimizer: torch.optim.Optimizer) -> bool:
    """Whether the optimizer's state exists (after a first eager step) where a graph can read
    it: its step counters on the parameters' device, as the fused optimizers keep them."""
    for group in optimizer.param_groups:
        if "betas" not in group and not group.get("momentum"):
            continue  # plain SGD keeps no state
        for p in group["params"]:
            state = optimizer.state.get(p)
            if not state:
                return False
            step = state.get("step")
            if step is not None and step.device != p.device:
                return False
    return True


@torch.no_grad()
def graph_update(optimizer: torch.optim.Optimizer, hyper: DeviceHyper) -> None:
    """One step of `optimizer` (Adam, AdamW or SGD) in device operations only."""
    for group, held in zip(optimizer.param_groups, hyper.tensors, strict=True):
        params = [p for p in group["params"] if p.grad is not None]
        grads = [p.grad for p in params]
        state = [optimizer.state[p] for p in params]
        if "betas" in group:
            _adam(group, params, grads, state, *held)
        else:
            _sgd(group, params, grads, state, held[0])


def _adam(
    group: dict[str, Any], params: list[torch.Tensor], grads: Tensors, state: list[dict[str, torch.Tensor]],
    lr: torch.Tensor, beta1: torch.Tensor, beta2: torch.Tensor,
) -> None:  # fmt: skip
    """torch.optim.Adam / AdamW (no amsgrad): the moments, then the bias-corrected step."""
    steps = [s["step"] for s in state]
    exp_avgs, exp_avg_sqs = [s["exp_avg"] for s in state], [s["exp_avg_sq"] for s in state]
    torch._foreach_add_(steps, 1)
    if group["weight_decay"]:
        if group.get("decoupled_weight_decay"):
            torch._foreach_mul_(params, 1 - lr * group["weight_decay"])
        else:
            grads = torch._foreach_add(grads, params, alpha=group["weight_decay"])
    torch._foreach_mul_(exp_avgs, beta1)
    torch._foreach_add_(exp_avgs, torch._foreach_mul(grads, 1 - beta1))
    torch._foreach_mul_(exp_avg_sqs, beta2)
    torch._foreach_add_(exp_avg_sqs, torch._foreach_mul(torch._foreach_mul(grads, grads), 1 - beta2))
    step = steps[0]  # every parameter has taken the same steps
    step_size = lr / (1 - beta1**step)
    denom = torch._foreach_sqrt(exp_avg_sqs)
    torch._foreach_div_(denom, (1 - beta2**step).sqrt())
    torch._foreach_add_(denom, group["eps"])
    update = torch._foreach_div(exp_avgs, denom)
    torch._foreach_mul_(update, step_size)
    torch._foreach_sub_(params, update)


def _sgd(
    group: dict[str, Any], params: list[torch.Tensor], grads: Tensors, state: list[dict[str, torch.Tensor]],
    lr: torch.Tensor,
) -> None:  # fmt: skip
    """torch.optim.SGD: weight decay, momentum (a constant: a graph is not used where one-cycle
    moves it), Nesterov's look-ahead."""
    if group["weight_decay"]:
        grads = torch._foreach_add(grads, params, alpha=group["weight_decay"])
    momentum = group["momentum"]
    if momentum:
        buffers = [s["momentum_buffer"] for s in state]
        torch._foreach_mul_(buffers, momentum)
        torch._foreach_add_(buffers, grads, alpha=1 - group["dampening"])
        grads = torch._foreach_add(grads, buffers, alpha=momentum) if group["nesterov"] else buffers
    torch._foreach_sub_(params, torch._foreach_mul(grads, lr))
