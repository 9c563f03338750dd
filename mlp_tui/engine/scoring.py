"""Scoring a model on a split: loss, accuracy, per-class counts, confusion, worst mistakes."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mlp_tui.core.config import RunConfig
from mlp_tui.core.datasets import dataset_info
from mlp_tui.core.events import Evaluation, Misclassified
from mlp_tui.engine.model import loss_fn, probabilities

EVAL_BATCH = 1024  # big enough for fast matmuls; larger chunks add 10 MB+ to peak memory
N_MISCLASSIFIED = 48


@dataclass
class EvalResult:
    loss: float
    accuracy: float
    event: Evaluation


@torch.inference_mode()
def evaluate(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    config: RunConfig,
    split: str,
    epoch: int,
    keep: int = N_MISCLASSIFIED,
) -> EvalResult:
    """Loss, accuracy, per-class counts, confusion matrix and the most confident mistakes."""
    was_training = model.training
    model.eval()
    lossf = loss_fn(config)
    n = len(x)
    loss_total = torch.zeros((), device=x.device)
    probs_all: list[torch.Tensor] = []
    for start in range(0, n, EVAL_BATCH):
        out = model(x[start : start + EVAL_BATCH])
        yb = y[start : start + EVAL_BATCH]
        loss_total += lossf(out, yb) * len(yb)
        probs_all.append(probabilities(out, config).float())
    model.train(was_training)
    probs = torch.cat(probs_all)
    pred = probs.argmax(1)
    confusion = torch.bincount(y * 10 + pred, minlength=100).view(10, 10).cpu()
    wrong = (pred != y).nonzero().squeeze(1)
    confidence = probs[wrong, pred[wrong]]
    chosen = wrong[confidence.argsort(descending=True)[:keep]]
    chosen_pixels = x[chosen].cpu().numpy()
    chosen_probs = probs[chosen].cpu().tolist()
    chosen_pred, chosen_true = pred[chosen].cpu().tolist(), y[chosen].cpu().tolist()
    mistakes = tuple(
        Misclassified(
            index=int(i),
            pixels=chosen_pixels[k].tobytes(),
            predicted=chosen_pred[k],
            true=chosen_true[k],
            probabilities=tuple(round(p, 5) for p in chosen_probs[k]),
        )
        for k, i in enumerate(chosen.cpu().tolist())
    )
    correct = confusion.diag()
    loss = loss_total.item() / max(n, 1)
    accuracy = correct.sum().item() / max(n, 1)
    event = Evaluation(
        split=split,
        epoch=epoch,
        loss=loss,
        accuracy=accuracy,
        class_correct=tuple(correct.tolist()),
        class_total=tuple(confusion.sum(1).tolist()),
        confusion=tuple(tuple(row) for row in confusion.tolist()),
        misclassified=mistakes,
        classes=dataset_info(config.dataset).classes,
    )
    return EvalResult(loss, accuracy, event)
