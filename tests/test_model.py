"""The model's head matches its loss, and the summary tells the truth about the parameters."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mlp_tui.core.config import RunConfig
from mlp_tui.core.presets import resolve_preset
from mlp_tui.engine.model import build_model, count_parameters, format_summary, loss_fn, probabilities, summary_rows

BATCH = 8


def forward(config: RunConfig) -> tuple[nn.Sequential, torch.Tensor]:
    torch.manual_seed(0)
    model = build_model(config).eval()
    out = model(torch.randn(BATCH, 784))
    return model, out


def test_nll_head_gives_log_probabilities():
    model, out = forward(RunConfig(hidden=(32,), loss="nll"))
    assert out.shape == (BATCH, 10)
    assert isinstance(model[-1], nn.LogSoftmax)
    assert (out <= 0).all()
    torch.testing.assert_close(out.exp().sum(1), torch.ones(BATCH))


def test_cross_entropy_head_gives_raw_logits():
    model, out = forward(RunConfig(hidden=(32,), loss="cross-entropy"))
    assert out.shape == (BATCH, 10)
    assert isinstance(model[-1], nn.Linear), "cross-entropy applies its own softmax; the head must not"
    # Not probabilities and not log-probabilities: rows neither sum to 1 nor log-sum-exp to 0.
    assert not torch.allclose(out.sum(1), torch.ones(BATCH))
    assert not torch.allclose(out.logsumexp(1), torch.zeros(BATCH))


def test_mse_head_gives_probabilities():
    model, out = forward(RunConfig(hidden=(32,), loss="mse"))
    assert out.shape == (BATCH, 10)
    assert isinstance(model[-1], nn.Softmax)
    assert ((out >= 0) & (out <= 1)).all()
    torch.testing.assert_close(out.sum(1), torch.ones(BATCH))


@pytest.mark.parametrize("loss", ["nll", "cross-entropy", "mse"])
def test_loss_trains_through_each_head(loss):
    config = RunConfig(hidden=(32,), loss=loss)
    model, out = forward(config)
    model.train()
    target = torch.arange(BATCH) % 10
    value = loss_fn(config)(model(torch.randn(BATCH, 784)), target)
    assert value.shape == () and torch.isfinite(value)
    value.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    probs = probabilities(out, config)
    torch.testing.assert_close(probs.sum(1), torch.ones(BATCH))
    assert probs.argmax(1).tolist() == out.argmax(1).tolist()


def test_nll_and_cross_entropy_agree_on_the_same_weights():
    ce_config, nll_config = RunConfig(hidden=(16,), loss="cross-entropy"), RunConfig(hidden=(16,), loss="nll")
    ce_model, nll_model = build_model(ce_config), build_model(nll_config)
    nll_model.load_state_dict(ce_model.state_dict())
    x, target = torch.randn(BATCH, 784), torch.arange(BATCH) % 10
    torch.testing.assert_close(loss_fn(ce_config)(ce_model(x), target), loss_fn(nll_config)(nll_model(x), target))


def test_architecture_follows_the_config():
    config = RunConfig(hidden=(64, 32), activation="tanh", dropout=0.2, input_dropout=0.1, batch_norm=True)
    model = build_model(config)
    kinds = [type(m).__name__ for m in model]
    assert kinds == [
        "Dropout",
        "Linear", "BatchNorm1d", "Tanh", "Dropout",
        "Linear", "BatchNorm1d", "Tanh", "Dropout",
        "Linear",
    ]  # fmt: skip
    linears = [m for m in model if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(784, 64), (64, 32), (32, 10)]


@pytest.mark.parametrize("name", ["tiny", "keras", "sequential", "dropout"])
def test_summary_lists_layers_and_the_true_parameter_count(name):
    model = build_model(resolve_preset(name).config)
    total = sum(p.numel() for p in model.parameters())
    assert count_parameters(model) == total
    rows = summary_rows(model)
    assert len(rows) == len(model)
    assert sum(r[2] for r in rows) == total
    assert rows[-1][1] == "(None, 10)"
    text = format_summary(model)
    assert f"Total params: {total:,}" in text
    assert f"Trainable params: {total:,}" in text
    assert "linear (Linear)" in text


def test_tiny_summary_matches_hand_count():
    text = format_summary(build_model(resolve_preset("tiny").config))
    # 784*16 + 16 weights and biases into the hidden layer, 16*10 + 10 out of it.
    assert "Total params: 12,730" in text
    lines = text.splitlines()
    assert any(line.startswith("linear (Linear)") and line.rstrip().endswith("12,560") for line in lines)
    assert any(line.startswith("linear_2 (Linear)") and line.rstrip().endswith("170") for line in lines)
    assert any(line.startswith("logsoftmax (LogSoftmax)") for line in lines)


@pytest.mark.parametrize("init", ["kaiming", "xavier", "normal"])
def test_explicit_inits_zero_the_biases(init):
    model = build_model(RunConfig(hidden=(32,), init=init))
    for m in model:
        if isinstance(m, nn.Linear):
            assert torch.count_nonzero(m.bias) == 0


def test_cpu_dropout_drops_the_right_share_and_keeps_the_mean():
    from mlp_tui.engine.model import Dropout

    torch.manual_seed(0)
    layer = Dropout(0.2)
    x = torch.ones(400, 500, requires_grad=True)
    out = layer(x)
    kept = (out != 0).float().mean().item()
    assert abs(kept - 0.8) < 0.01
    assert torch.allclose(out[out != 0], torch.full_like(out[out != 0], 1 / 0.8))
    out.sum().backward()  # gradients flow only through kept units, scaled the same way
    assert x.grad is not None
    assert torch.equal(x.grad, out.detach())
    layer.eval()
    assert torch.equal(layer(x), x)


def test_cpu_dropout_masks_are_fresh_and_every_unit_is_dropped_alike():
    """The mask packs four units into each 64-bit random draw: no unit may be favoured."""
    from mlp_tui.engine.model import dropout_mask

    torch.manual_seed(0)
    masks = torch.stack([dropout_mask(torch.ones(2000, 8), 0.3) for _ in range(2)])
    dropped = (masks == 0).float()
    assert not torch.equal(masks[0], masks[1])
    per_unit = dropped.mean(dim=(0, 1))  # each column sits in a fixed 16-bit lane
    assert torch.all((per_unit - 0.3).abs() < 0.02), per_unit


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"hidden": (784, 16), "loss": "cross-entropy"},
        {"hidden": (64, 32, 16), "dropout": 0.3, "input_dropout": 0.1, "batch_norm": True, "loss": "mse"},
        {"hidden": (8,), "activation": "mish", "loss": "nll"},
        {"hidden": (16, 8), "bias": False, "batch_norm": True, "normalize": "unit"},
        {"hidden": (8, 8), "activation": "identity", "bias": False},
    ],
)
def test_summary_from_the_config_matches_the_built_model(overrides):
    """The setup screen shows the summary without building the model; it must be the same."""
    import dataclasses

    from mlp_tui.core.architecture import config_rows, parameter_count
    from mlp_tui.core.config import RunConfig

    config = dataclasses.replace(RunConfig(), **overrides)
    model = build_model(config)
    assert config_rows(config) == summary_rows(model)
    assert parameter_count(config) == count_parameters(model)


def test_mse_and_l1_match_their_textbook_definitions():
    """The MSE loss compares softmax outputs with one-hot targets; L1 sums |w| of the Linear
    weights only (written without host syncs, so check them against the plain formulas)."""
    import dataclasses

    import torch.nn.functional as F

    from mlp_tui.core.config import RunConfig
    from mlp_tui.engine.model import l1_penalty, linear_weights

    config = dataclasses.replace(RunConfig(), hidden=(8,), loss="mse")
    probs = torch.softmax(torch.randn(5, 10), dim=1)
    target = torch.tensor([0, 3, 9, 3, 1])
    expected = F.mse_loss(probs, F.one_hot(target, 10).float())
    assert torch.allclose(loss_fn(config)(probs, target), expected)
    model = build_model(config)
    manual = torch.stack([m.weight.abs().sum() for m in model.modules() if isinstance(m, torch.nn.Linear)]).sum()
    assert torch.allclose(l1_penalty(linear_weights(model)), manual)
