"""The learning-rate finder: its rate trains better than 100x less or more, it leaves the model
as it was, and `mlp-tui lr-find` prints the suggestions and the command that uses one."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
import torch
from typer.testing import CliRunner

from mlp_tui.cli.main import app
from mlp_tui.core.config import RunConfig
from mlp_tui.engine.data import split_dataset, synthetic_digits
from mlp_tui.engine.lr_find import END_LR, START_LR, chosen, find_lr, smooth, suggest, sweep_rates
from mlp_tui.engine.model import build_model
from mlp_tui.views.console.lr_report import chart_text

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def noisy():
    """The synthetic task with ten times its usual noise: learnable (80 % at a good rate), but
    not so easily that any rate gets it all right, as the usual one is."""
    x, y, tx, ty = synthetic_digits(n_train=2000, n_test=500, seed=0, noise=600.0)
    return split_dataset(x, y, tx, ty, val_split=0.1, seed=0, device=CPU, name="noisy synthetic")


@pytest.fixture(scope="module")
def finding(noisy):
    return find_lr(small_config(), noisy, CPU)


def small_config() -> RunConfig:
    """The config every test here sweeps: three epochs of a small Adam MLP on one thread."""
    return RunConfig(hidden=(32,), epochs=3, batch_size=128, lr=1e-3, device="cpu", threads="1")


@pytest.mark.parametrize("schedule", ["none", "onecycle"])
def test_the_suggested_rate_trains_better_than_100x_less_or_more(schedule, noisy, finding, run_trainer):
    """For a constant rate and for a peak that anneals (each has its own suggestion)."""
    lr = chosen(finding.suggestions, schedule).lr
    accuracy = {}
    for factor in (0.01, 1.0, 100.0):  # the same three epochs and seed
        config = dataclasses.replace(small_config(), lr=lr * factor, schedule=schedule)
        result, _, _ = run_trainer(config, noisy)
        accuracy[factor] = getattr(result, "test_accuracy", 0.0)  # a run that diverged: none
    assert accuracy[1.0] > accuracy[0.01] and accuracy[1.0] > accuracy[100.0], (lr, accuracy)


def test_the_sweep_leaves_the_model_and_torchs_random_state_as_they_were(synthetic):
    config = small_config()
    model = build_model(config, (synthetic.mean, synthetic.std))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    first = find_lr(config, synthetic, CPU, model=model, batches=30)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert torch.equal(rng, torch.get_rng_state())
    again = find_lr(config, synthetic, CPU, model=model, batches=30)  # one process, one thread: same floats
    assert again.losses == first.losses and again.suggestions == first.suggestions


def test_the_sweep_rises_exponentially_and_names_fastais_suggestions(finding):
    assert sweep_rates()[0] == START_LR and sweep_rates()[-1] == pytest.approx(END_LR)
    assert len(finding.rates) == len(finding.losses) <= 100
    assert all(b > a for a, b in zip(finding.rates, finding.rates[1:], strict=False))
    assert [s.name for s in finding.suggestions] == ["valley", "minimum/10", "steepest"]
    assert finding.suggested.name == "valley"  # a constant rate: fastai's default
    assert chosen(finding.suggestions, "onecycle").name == "steepest"  # a peak that anneals may sit higher
    assert chosen(finding.suggestions, "cosine").name == "steepest"
    minimum = finding.suggestion("minimum/10")
    assert minimum is not None and minimum.lr == pytest.approx(minimum.at_lr / 10)
    assert min(finding.losses) == pytest.approx(minimum.loss, rel=0.2)  # the trimmed curve's lowest
    assert finding.seconds > 0


def test_smoothing_stops_at_4x_the_best_or_a_nan_and_a_flat_curve_falls_back():
    losses, diverged = smooth([2.0] * 10 + [1e6] * 5)
    assert diverged and len(losses) == 11
    losses, diverged = smooth([2.0, 1.0, float("nan"), 1.0])
    assert diverged and len(losses) == 2
    rising = [float(i) for i in range(20)]
    names = [s.name for s in suggest(sweep_rates(batches=20), rising, 20)]
    assert names == ["minimum/10", "steepest"]  # no valley: minimum/10 is the one suggested


def test_the_chart_fits_the_width_and_draws_ascii_without_colour(finding):
    text = chart_text(finding, 60, 16, plain=True, ascii=True)
    lines = text.splitlines()
    assert text.isascii() and "\x1b" not in text
    assert max(len(line.rstrip()) for line in lines) <= 60
    assert "valley" in text and "steepest" in text and "1e-07" in text


def test_the_command_prints_suggestions_and_the_run_command(mnist_root, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    args = ["lr-find", "--preset", "tiny", "--subset", "1000", "--threads", "1", "--data-dir", str(mnist_root)]
    result = CliRunner().invoke(app, args, prog_name="mlp-tui")
    assert result.exit_code == 0, result.output
    out = result.output
    for text in ("valley", "minimum/10", "steepest", "<- suggested", "Swept the learning rate from 1e-07"):
        assert text in out, out
    assert "Train with: mlp-tui run --preset tiny --lr " in out and "--subset 1000" in out, out
    assert "┌" not in out  # not a terminal: no chart


@pytest.mark.parametrize(
    "args, expected",
    [
        (["lr-find", "--optimizer", "adamm"], "did you mean 'adam'?"),
        (["lr-find", "--preset", "no-such-preset"], "no-such-preset"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, expected):
    result = CliRunner().invoke(app, args, prog_name="mlp-tui")
    assert result.exit_code == 2, result.output
    assert result.output.startswith("mlp-tui: error: ") and result.output.count("\n") == 1, result.output
    assert expected in result.output


@pytest.mark.parametrize(("preset", "size"), [("tiny", (100, 40)), ("dropout", (80, 24))])
def test_the_setup_screens_key_sweeps_and_applies_the_rate(mnist_root, tmp_path, preset, size):
    from conftest import screen_text, wait_until
    from mlp_tui.core.presets import resolve_preset
    from mlp_tui.views.tui.app import create_app
    from mlp_tui.views.tui.screens.setup import SetupScreen
    from mlp_tui.views.tui.widgets.lr_find_dialog import LrFindDialog

    config = dataclasses.replace(resolve_preset(preset).config, subset=1000, threads="1")

    async def scenario() -> None:
        app = create_app(preset, config, data_dir=mnist_root, runs_root=tmp_path)
        async with app.run_test(size=size) as pilot:
            await wait_until(pilot, lambda: isinstance(app.screen, SetupScreen))
            setup = app.screen
            await pilot.press("ctrl+l")
            await wait_until(pilot, lambda: isinstance(app.screen, LrFindDialog) and app.screen.finding is not None)
            dialog = app.screen
            assert isinstance(dialog, LrFindDialog) and dialog.finding is not None
            suggested = float(f"{dialog.finding.suggested.lr:.2g}")
            text = str(dialog.query_one("#lr-find-text").render())
            assert "valley" in text and "<- suggested" in text
            await pilot.pause()
            shown = screen_text(app)
            assert "Suggested:" in shown and "escape close" in shown, shown  # the keys, even at 80x24
            await pilot.press("a")
            await wait_until(pilot, lambda: app.screen is setup)
            await pilot.pause()
            assert isinstance(setup, SetupScreen)
            assert setup.config.lr == suggested and setup.form.lr_edited

    asyncio.run(scenario())
