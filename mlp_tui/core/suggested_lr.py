"""A good first learning rate for each optimizer (and loss): what a run gets when nobody gave one."""

from __future__ import annotations

# A good first learning rate per optimizer. Plain SGD-style updates with an MSE loss on softmax
# outputs see gradients about ten times smaller than with cross-entropy, so they want more.
SUGGESTED_LR = {
    "sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "adam": 0.002, "adamw": 0.002,
    "rmsprop": 0.001, "adagrad": 0.02, "adadelta": 1.0,
}  # fmt: skip


def suggested_lr(optimizer: str, loss: str) -> float:
    lr = SUGGESTED_LR[optimizer]
    if loss == "mse" and optimizer in ("sgd", "momentum", "nesterov", "adagrad"):
        lr *= 4
    return lr
