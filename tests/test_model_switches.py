"""The model's textbook switches: how pixels are scaled (--normalize), layers without bias,
no activation at all (identity), leaky_relu's slope and elu's alpha (--alpha) and zero
initialisation. Each does what the textbooks say, is declared once (options, presets, compare
axes, run headers) and is kept by checkpoints, so eval and predict compute what training did."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import sys

import pytest
import torch
from torch import nn
from typer.testing import CliRunner, Result

from conftest import must_search
from mlp_tui.cli.main import app
from mlp_tui.core.architecture import config_rows, parameter_count
from mlp_tui.core.config import ConfigError, RunConfig, build_config
from mlp_tui.core.events import HealthWarning, LayerHealth
from mlp_tui.core.overrides import override_flags
from mlp_tui.core.presets import load_preset_file, resolve_preset, to_toml
from mlp_tui.engine.model import build_model, count_parameters, format_summary
from mlp_tui.runs.compare.grid import parse_axis

runner = CliRunner()
PIXELS = (torch.arange(784) % 256).to(torch.uint8).reshape(1, 784)  # every grey level 0..255


def invoke(*args: object) -> Result:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def first_layer_input(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    assert isinstance(model, nn.Sequential), type(model)  # the MLP: its layers in order
    seen: list[torch.Tensor] = []
    model[0].register_forward_hook(lambda module, inputs, output: seen.append(inputs[0]))
    model.eval()(x)
    return seen[0]


# -- what each switch computes -----------------------------------------------------------------


@pytest.mark.parametrize(
    "normalize, expected, low, high",
    [
        ("unit", PIXELS / 255, 0.0, 1.0),  # ToTensor
        ("half", (PIXELS / 255 - 0.5) / 0.5, -1.0, 1.0),  # Normalize(0.5, 0.5)
        ("standard", (PIXELS / 255 - 0.2) / 0.4, -0.5, 2.0),  # the training images' mean and sd
    ],
)
def test_normalize_scales_the_pixels_the_first_layer_sees(normalize, expected, low, high):
    model = build_model(RunConfig(hidden=(8,), normalize=normalize), (0.2, 0.4))  # stats: mean 0.2, sd 0.4
    seen = first_layer_input(model, PIXELS)
    torch.testing.assert_close(seen, expected.float())
    assert (seen.min().item(), seen.max().item()) == pytest.approx((low, high), abs=1e-6)


def test_no_bias_leaves_only_weights_and_the_summary_counts_them():
    config = RunConfig(hidden=(32,), bias=False)
    model = build_model(config)
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "2.weight"]
    assert count_parameters(model) == 784 * 32 + 32 * 10 == 25_408
    assert "Total params: 25,408" in format_summary(model)
    assert parameter_count(config) == 25_408 and config_rows(config)[0][2] == 784 * 32  # the app's summary
    assert parameter_count(dataclasses.replace(config, bias=True)) == 25_408 + 32 + 10
    # Black pixels scaled to [0,1] are zeros, and without a bias nothing moves the output off zero.
    unit = build_model(dataclasses.replace(config, normalize="unit")).eval()
    with torch.no_grad():
        assert torch.count_nonzero(unit(torch.zeros(3, 784, dtype=torch.uint8))) == 0


def test_identity_layers_collapse_to_one_linear_map():
    config = RunConfig(hidden=(64, 32, 16), activation="identity", loss="cross-entropy", normalize="unit")
    torch.manual_seed(0)
    model = build_model(config).eval()
    linears = [m for m in model if isinstance(m, nn.Linear)]
    weight: torch.Tensor = linears[0].weight
    bias: torch.Tensor = linears[0].bias
    for layer in linears[1:]:  # W3 (W2 (W1 x + b1) + b2) + b3 = (W3 W2 W1) x + ...
        weight, bias = layer.weight @ weight, layer.weight @ bias + layer.bias
    x = torch.randint(0, 256, (20, 784), dtype=torch.uint8)
    with torch.no_grad():
        torch.testing.assert_close(model(x), (x / 255) @ weight.T + bias, atol=1e-5, rtol=1e-4)
    assert ("identity (Identity)", "(None, 64)", 0) in config_rows(config)


@pytest.mark.parametrize(
    "activation, alpha, at_minus_100",
    [("leaky_relu", 0.0, -1.0), ("leaky_relu", 0.2, -20.0), ("elu", 0.0, -1.0), ("elu", 0.5, -0.5), ("relu", 0.5, 0.0)],
)
def test_alpha_is_leaky_relus_slope_and_elus_alpha(activation, alpha, at_minus_100):
    """0 keeps each activation's own default (0.01, 1); others ignore it."""
    model = build_model(RunConfig(hidden=(4,), activation=activation, alpha=alpha))
    out = model[1](torch.tensor([-100.0, 3.0]))
    torch.testing.assert_close(out, torch.tensor([at_minus_100, 3.0]))


def test_zero_initialisation_keeps_every_hidden_unit_identical_and_says_so(run_trainer, synthetic, make_config):
    config = make_config(hidden=(16, 8), activation="sigmoid", init="zeros", optimizer="sgd", lr=0.1)
    _, events, trainer = run_trainer(config, synthetic)
    hidden = []
    for module in trainer.model:
        if isinstance(module, nn.Sigmoid):
            module.register_forward_hook(lambda m, inputs, output: hidden.append(output))
    with torch.no_grad():
        trainer.model.eval()(synthetic.val_x)
    for outputs in hidden:  # after training: every unit of a layer gives the same value for every image
        torch.testing.assert_close(outputs, outputs[:, :1].expand_as(outputs), rtol=0, atol=0)
    health = [e for e in events if isinstance(e, LayerHealth)][-1]
    assert [s.identical for s in health.layers] == [True, True, False]  # the output units differ by class
    warnings = {w.layer: w for w in events if isinstance(w, HealthWarning) and w.code == "identical-units"}
    assert set(warnings) == {1, 2}
    assert warnings[1].message == (
        "layer 1: all 16 units are identical (zero initialisation: every unit gets the same gradient, "
        "so they never differ)"
    )
    assert "--init" in warnings[1].advice


def test_random_initialisation_and_identity_train_without_those_warnings(run_trainer, synthetic, make_config):
    result, events, _ = run_trainer(make_config(activation="identity", epochs=3), synthetic)
    assert result.test_accuracy > 0.5  # chance is 0.1: one linear map separates the patterns
    health = [e for e in events if isinstance(e, LayerHealth)][-1]
    first = health.layers[0]
    assert first.dead is None and first.saturated is None and not first.identical  # nothing dies without an activation
    assert not [w for w in events if isinstance(w, HealthWarning) and w.code in ("identical-units", "dead-units")]


# -- declared once: options, presets, compare axes, headers ----------------------------------------


def test_switches_round_trip_through_config_toml_and_the_reproducing_command(tmp_path):
    base = resolve_preset("tiny").config
    config = dataclasses.replace(base, normalize="half", bias=False, activation="leaky_relu", alpha=0.2, init="zeros")
    path = tmp_path / "config.toml"
    path.write_text(to_toml(config, {}))
    assert load_preset_file(path).config == config
    flags = override_flags(config, base)
    for flag in (["--activation", "leaky_relu"], ["--alpha", "0.2"], ["--no-bias"], ["--normalize", "half"],
                 ["--init", "zeros"]):  # fmt: skip
        assert " ".join(flag) in " ".join(flags)
    values = {"normalize": "half", "bias": False, "activation": "leaky_relu", "alpha": 0.2, "init": "zeros"}
    assert build_config(values, source="command line", base=base) == config
    path.write_text('normalize = "unit"\nbias = false\nactivation = "elu"\nalpha = 0.5\n')
    written = load_preset_file(path).config
    assert (written.normalize, written.bias, written.activation, written.alpha) == ("unit", False, "elu", 0.5)


def test_a_config_from_before_the_switches_reads_as_the_usual_model():
    old = {k: v for k, v in RunConfig().to_dict().items() if k not in ("normalize", "bias", "alpha")}
    config = build_config(old)
    assert (config.normalize, config.bias, config.alpha) == ("standard", True, 0.0)


def test_run_headers_name_the_switches_that_are_not_the_usual_ones():
    config = RunConfig(normalize="unit", bias=False, init="zeros", activation="leaky_relu", alpha=0.2)
    assert config.training_extras() == ["inputs in [0,1]", "no bias", "zero init", "leaky_relu slope 0.2"]
    elu = RunConfig(normalize="half", activation="elu", alpha=0.5)
    assert elu.training_extras() == ["inputs in [-1,1]", "elu alpha 0.5"]
    assert RunConfig(activation="relu", alpha=0.5).training_extras() == []  # relu has no alpha to change


def test_help_lists_the_switches_and_completion_offers_their_choices(cli_env, mlp_tui_cmd):
    text = " ".join(invoke("run", "--help").output.split())
    for part in ("--normalize", "standard|unit|half", "--bias", "--no-bias", "--alpha", "zeros", "identity"):
        assert part in text, part
    env = dict(cli_env, _MLP_TUI_COMPLETE="complete_bash", COMP_WORDS="mlp-tui run --normalize ", COMP_CWORD="3")
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; sys.argv[0] = 'mlp-tui'; from mlp_tui.cli.main import main; main()"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert set(proc.stdout.split()) == {"standard", "unit", "half"}, proc.stdout + proc.stderr


def test_compare_can_vary_each_switch():
    assert parse_axis("normalize=standard,unit,half").values == ("standard", "unit", "half")
    assert parse_axis("bias=on,off").values == (True, False)
    assert parse_axis("alpha=0,0.2").values == (0.0, 0.2)
    assert parse_axis("init=default,zeros").values == ("default", "zeros")
    assert parse_axis("activation=relu,identity").values == ("relu", "identity")
    with pytest.raises(ConfigError, match=r"--vary alpha=-1: .*>= 0"):
        parse_axis("alpha=-1")


@pytest.mark.parametrize(
    "flags, expected",
    [
        (["--normalize", "zscore"], ["option --normalize:", "standard, unit, half"]),
        (["--alpha", "-0.1"], ["option --alpha:", "-0.1 is out of range", "a number >= 0"]),
        (["--init", "zero"], ["option --init:", "did you mean 'zeros'"]),
        (["--activation", "linear"], ["option --activation:", "identity"]),
    ],
)
def test_a_bad_switch_exits_2_naming_the_option_and_what_it_takes(tmp_path, flags, expected):
    result = invoke("run", "--preset", "tiny", "--headless", "--runs", tmp_path / "runs", *flags)
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    for text in expected:
        assert text in result.output
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "line, expected",
    [('normalize = "zscore"', "key 'normalize': unknown value 'zscore'; expected one of standard, unit, half"),
     ('bias = "no"', "key 'bias': 'no' is not true or false")],
)  # fmt: skip
def test_a_bad_switch_in_a_preset_names_the_key(tmp_path, line, expected):
    path = tmp_path / "mine.toml"
    path.write_text(line + "\n")
    with pytest.raises(ConfigError, match=re.escape(expected)):
        load_preset_file(path)


# -- checkpoints carry the normalisation -------------------------------------------------------


@pytest.fixture
def unit_run(tmp_path, idx_dataset):
    """A real headless run with --normalize unit on a small Fashion-MNIST-shaped folder."""
    idx_dataset(tmp_path / "data", "fashion-mnist", n_train=1200, n_test=300)
    result = invoke("run", "--preset", "tiny", "--headless", "--epochs", "1", "--normalize", "unit",
                    "--dataset", "fashion-mnist", "--device", "cpu", "--threads", "1",
                    "--data-dir", tmp_path / "data", "--runs", tmp_path / "runs")  # fmt: skip
    assert result.exit_code == 0, result.output
    (run_dir,) = (tmp_path / "runs").iterdir()
    recorded = must_search(r"test accuracy ([\d.]+ %)", result.output).group(1)
    return tmp_path / "data", run_dir, recorded, result.output


def test_eval_of_a_unit_normalised_checkpoint_reproduces_its_accuracy(unit_run, tmp_path):
    from mlp_tui.runs.evaluate import load_run

    data, run_dir, recorded, output = unit_run
    assert "inputs in [0,1]" in output  # the run's header says how its pixels were scaled
    evaluated = invoke("eval", run_dir, "--data-dir", data, "--device", "cpu").output
    assert must_search(r"test accuracy ([\d.]+ %)", evaluated).group(1) == recorded
    assert f"The same as the run recorded ({recorded}" in evaluated
    loaded = load_run(run_dir, "cpu")
    assert loaded.config.normalize == "unit"
    torch.testing.assert_close(first_layer_input(loaded.model, PIXELS), PIXELS / 255)

    # A checkpoint from before --normalize (no key, no pixel buffers) loads as MNIST-standardised.
    old = shutil.copytree(run_dir, tmp_path / "old")
    checkpoint = torch.load(old / "best.pt", weights_only=True)
    for key in ("normalize", "bias", "alpha"):
        del checkpoint["config"][key]
    for key in ("pixel_scale", "pixel_shift"):
        del checkpoint["model"][key]
    torch.save(checkpoint, old / "best.pt")
    loaded = load_run(old, "cpu")
    assert (loaded.config.normalize, loaded.config.bias) == ("standard", True)
    torch.testing.assert_close(first_layer_input(loaded.model, PIXELS), (PIXELS / 255 - 0.1307) / 0.3081)


def test_eval_of_biased_weights_under_a_no_bias_config_says_which(unit_run, tmp_path):
    _, run_dir, _, _ = unit_run
    edited = shutil.copytree(run_dir, tmp_path / "edited")
    checkpoint = torch.load(edited / "best.pt", weights_only=True)
    checkpoint["config"]["bias"] = False
    torch.save(checkpoint, edited / "best.pt")
    result = invoke("eval", edited, "--device", "cpu")
    assert result.exit_code == 2, result.output
    assert "its weights are for a 784-16-10 network, but its config describes a 784-16-10 with no bias" in result.output
