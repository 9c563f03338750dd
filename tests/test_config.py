"""Preset files and settings: every bad input is refused with a message that names the file or
option, the key, and what would have been accepted."""

from __future__ import annotations

import dataclasses

import pytest

from mlp_tui.core.config import CLI_OPTIONS, FORM_FIELDS, OPTIONS, ConfigError, RunConfig, build_config, parse_hidden
from mlp_tui.core.overrides import override_flags, with_overrides
from mlp_tui.core.presets import Expected, builtin_preset_dir, list_presets, load_preset_file, resolve_preset, to_toml

BUILTIN_NAMES = ["tiny", "keras", "kaiming", "sequential", "sigmoid", "dropout", "best"]


def write_preset(tmp_path, text: str | bytes, name: str = "bad.toml"):
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def refused(path) -> str:
    with pytest.raises(ConfigError) as info:
        load_preset_file(path)
    return str(info.value)


# -- bad preset files, one case each ---------------------------------------------------------


def test_unknown_key_names_it_and_suggests_the_close_one(tmp_path):
    path = write_preset(tmp_path, "hidden = [16]\nlrr = 0.01\n")
    message = refused(path)
    assert str(path) in message
    assert "'lrr'" in message
    assert "did you mean 'lr'?" in message
    assert "allowed keys:" in message and "batch_size" in message


def test_wrong_type_names_key_value_and_expected_type(tmp_path):
    path = write_preset(tmp_path, 'epochs = "ten"\n')
    message = refused(path)
    assert str(path) in message
    assert "'epochs'" in message
    assert "'ten'" in message
    assert "an integer, 1 <= x <= 100000" in message


@pytest.mark.parametrize("value", ["0", "-0.5"])
def test_learning_rate_must_be_positive(tmp_path, value):
    path = write_preset(tmp_path, f"lr = {value}\n")
    message = refused(path)
    assert str(path) in message and "'lr'" in message
    assert "> 0" in message


def test_hidden_size_zero_is_refused(tmp_path):
    path = write_preset(tmp_path, "hidden = [128, 0]\n")
    message = refused(path)
    assert str(path) in message and "'hidden'" in message
    assert "hidden size 0" in message
    assert "1..16384" in message


def test_unknown_loss_lists_the_losses(tmp_path):
    path = write_preset(tmp_path, 'loss = "hinge"\n')
    message = refused(path)
    assert str(path) in message and "'loss'" in message and "'hinge'" in message
    for loss in ("nll", "cross-entropy", "mse"):
        assert loss in message


def test_unknown_optimizer_suggests_the_close_one(tmp_path):
    path = write_preset(tmp_path, 'optimizer = "adamm"\n')
    message = refused(path)
    assert str(path) in message and "'optimizer'" in message
    assert "did you mean 'adam'?" in message
    assert "sgd" in message and "rmsprop" in message


def test_unknown_activation_lists_the_activations(tmp_path):
    path = write_preset(tmp_path, 'activation = "relux"\n')
    message = refused(path)
    assert str(path) in message and "'activation'" in message
    assert "did you mean 'relu'?" in message
    assert "sigmoid" in message and "tanh" in message


@pytest.mark.parametrize("value", ["1.0", "1.5", "-0.1"])
def test_dropout_must_be_below_one(tmp_path, value):
    path = write_preset(tmp_path, f"dropout = {value}\n")
    message = refused(path)
    assert str(path) in message and "'dropout'" in message
    assert "0 <= x < 1" in message


def test_batch_size_zero_is_refused(tmp_path):
    path = write_preset(tmp_path, "batch_size = 0\n")
    message = refused(path)
    assert str(path) in message and "'batch_size'" in message
    assert "an integer >= 1" in message


def test_binary_garbage_is_not_toml(tmp_path):
    path = write_preset(tmp_path, b"\x89PNG\r\n\x1a\n\x00\xff\xfe\xfd garbage", name="image.toml")
    message = refused(path)
    assert str(path) in message
    assert "not a TOML file" in message


def test_invalid_toml_syntax_names_the_line(tmp_path):
    path = write_preset(tmp_path, "hidden = [16]\nlr = = 0.1\n")
    message = refused(path)
    assert str(path) in message
    assert "not valid TOML" in message
    assert "line 2" in message


def test_missing_file_is_named(tmp_path):
    path = tmp_path / "nowhere.toml"
    message = refused(path)
    assert str(path) in message and "no such preset file" in message


def test_meta_key_of_the_wrong_type_is_refused(tmp_path):
    path = write_preset(tmp_path, "description = 5\n")
    message = refused(path)
    assert str(path) in message and "'description'" in message and "not a string" in message


def test_unknown_preset_name_lists_the_available_ones():
    with pytest.raises(ConfigError) as info:
        resolve_preset("tinyy")
    message = str(info.value)
    assert "unknown preset 'tinyy'" in message
    assert "did you mean 'tiny'?" in message
    for name in BUILTIN_NAMES:
        assert name in message


# -- command-line values go through the same checks -------------------------------------------


@pytest.mark.parametrize(
    "values, flag, expected",
    [
        ({"lr": -1.0}, "--lr", "> 0"),
        ({"loss": "foo"}, "--loss", "nll, cross-entropy, mse"),
        ({"hidden": "0"}, "--hidden", "1..16384"),
        ({"hidden": "512,abc"}, "--hidden", "not a list of integers"),
        ({"batch_size": 0}, "--batch-size", "an integer >= 1"),
        ({"val_split": 0.9}, "--val-split", "0 <= x <= 0.5"),
        ({"device": "tpu"}, "--device", "auto, cpu, cuda, cuda:N or mps"),
    ],
)
def test_command_line_values_name_the_option(values, flag, expected):
    with pytest.raises(ConfigError) as info:
        build_config(values, source="command line")
    message = str(info.value)
    assert message.startswith(f"option {flag}:")
    assert expected in message


def test_command_line_hidden_sizes_parse_from_commas():
    config = build_config({"hidden": "256, 128"}, source="command line")
    assert config.hidden == (256, 128)
    assert config.architecture == "784-256-128-10"


# -- the built-in presets ---------------------------------------------------------------------


def test_every_builtin_preset_file_is_valid():
    # list_presets() skips broken files silently, so load each file directly.
    files = sorted(builtin_preset_dir().glob("*.toml"))
    assert sorted(p.stem for p in files) == sorted(BUILTIN_NAMES)
    for path in files:
        preset = load_preset_file(path)
        assert preset.description, f"{path.name} has no description"
        assert preset.config.epochs >= 1
        # What to expect is a measured mean ± sd over seeds, never one lucky run.
        assert isinstance(preset.expected, Expected), f"{path.name}: expected is not a measured figure"
        assert preset.expected.seeds >= 3 and 0 < preset.expected.sd < 1, path.name
        assert " ± " in str(preset.expected) and " on " in str(preset.expected)


def test_presets_are_listed_in_teaching_order():
    assert [p.name for p in list_presets()] == BUILTIN_NAMES


def test_a_users_preset_with_the_same_name_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("MLP_TUI_PRESETS", str(tmp_path))
    (tmp_path / "tiny.toml").write_text('description = "mine"\nhidden = [8]\n')
    preset = resolve_preset("tiny")
    assert preset.description == "mine"
    assert preset.config.hidden == (8,)


def test_config_written_as_toml_loads_back_identically(tmp_path):
    config = RunConfig(
        hidden=(300, 7, 1),
        activation="leaky_relu",
        dropout=0.25,
        input_dropout=0.05,
        batch_norm=True,
        init="xavier",
        loss="mse",
        optimizer="nesterov",
        lr=1e-5,
        momentum=0.95,
        schedule="cosine",
        weight_decay=5e-4,
        l1=1e-7,
        batch_size=33,
        epochs=7,
        val_split=0.0,
        patience=3,
        seed=-12,
        device="cuda:1",
        subset=1234,
    )
    path = tmp_path / "config.toml"
    path.write_text(to_toml(config, {"description": 'a "quoted" \\ description'}))
    preset = load_preset_file(path)
    assert preset.config == config
    assert preset.description == 'a "quoted" \\ description'


def test_measured_figures_read_as_mean_sd_time_and_hardware(tmp_path):
    path = write_preset(tmp_path, 'expected = { accuracy = 98.764, sd = 0.051, seeds = 3, seconds = 13.4, '
                                  'hardware = "2 CPU cores" }\nhidden = [16]\n', name="mine.toml")  # fmt: skip
    assert str(load_preset_file(path).expected) == "98.76 ± 0.05 % in ~13 s on 2 CPU cores"
    path.write_text("expected = { accuracy = 99.34, sd = 0.04, seeds = 4, seconds = 750 }\n")
    assert str(load_preset_file(path).expected) == "99.34 ± 0.04 % in ~12.5 min"
    path.write_text('expected = "about 97 %"\n')  # a user's own words are kept as they are
    assert load_preset_file(path).expected == "about 97 %"


@pytest.mark.parametrize(
    "table, problem",
    [
        ("{ accuracy = 98.0, sd = 0.1 }", "missing seeds"),
        ("{ accuracy = 98.0, sd = 0.1, seeds = 3, sead = 1 }", "unknown key 'sead'"),
        ("{ accuracy = 198.0, sd = 0.1, seeds = 3 }", "'accuracy' = 198.0 is out of range"),
        ("{ accuracy = 98.0, sd = 0.1, seeds = 2.5 }", "'seeds' = 2.5 is not an integer"),
        ("42", "not a string or a table"),
    ],
)
def test_bad_expected_figures_name_the_file_and_what_is_wrong(tmp_path, table, problem):
    path = write_preset(tmp_path, f"expected = {table}\n")
    message = refused(path)
    assert str(path) in message and "'expected'" in message and problem in message


# -- one declaration per setting -----------------------------------------------------------------


def test_every_setting_is_a_run_option_and_the_labelled_ones_are_on_the_form():
    from typer.testing import CliRunner

    from mlp_tui.cli.main import app

    help_text = CliRunner().invoke(app, ["run", "--help"]).output
    for key in CLI_OPTIONS:
        assert f"--{key.replace('_', '-')}" in help_text, key
    assert set(FORM_FIELDS) >= {"dataset", "loss", "optimizer", "lr", "hidden", "activation", "epochs"}
    assert all(OPTIONS[key].label for key in FORM_FIELDS)


def test_list_options_refuse_empty_items_and_sizes_below_one():
    assert parse_hidden(" 256 , 128 ") == (256, 128)
    assert parse_hidden("") == ()  # no hidden layer: a linear model
    assert parse_hidden("none") == ()  # as a comparison names it ("hidden none"), so it can be typed back
    for text, problem in [("512,,512", "empty item"), ("512,", "empty item"), (",8", "empty item")]:
        with pytest.raises(ValueError, match=problem):
            parse_hidden(text)
    for text in ("0", "512,-1", "-5"):
        with pytest.raises(ConfigError, match=r"out of range 1\.\.16384"):
            build_config({"hidden": text}, source="command line")


# -- a learning rate nobody gave ----------------------------------------------------------------


def test_a_new_optimizer_without_an_lr_gets_the_suggested_one():
    tiny = resolve_preset("tiny").config  # Adam at 0.001
    adadelta = with_overrides(tiny, {"optimizer": "adadelta"})
    assert (adadelta.lr, adadelta.lr_suggested) == (1.0, True)
    assert adadelta.lr_text == "lr 1 (suggested for adadelta)"
    sgd_mse = with_overrides(tiny, {"optimizer": "sgd", "loss": "mse"})
    assert sgd_mse.lr_text == "lr 0.4 (suggested for sgd with mse)"
    given = with_overrides(tiny, {"optimizer": "adadelta", "lr": 0.5})
    assert (given.lr, given.lr_suggested, given.lr_text) == (0.5, False, "lr 0.5")
    same = with_overrides(tiny, {"optimizer": "adam", "epochs": 3})  # nothing changed: the preset's lr
    assert (same.lr, same.lr_suggested) == (tiny.lr, False)


def test_a_suggested_lr_is_suggested_again_by_the_reproducing_command():
    tiny = resolve_preset("tiny").config
    config = with_overrides(tiny, {"optimizer": "adadelta", "epochs": 1})
    flags = override_flags(config, tiny)
    assert flags == ["--optimizer", "adadelta", "--epochs", "1"]
    assert with_overrides(tiny, {"optimizer": "adadelta", "epochs": 1}) == config


def test_override_flags_rebuild_the_config():
    base = resolve_preset("tiny").config
    changed = dataclasses.replace(base, lr=0.01, hidden=(64, 32), batch_norm=True, subset=500)
    flags = override_flags(changed, base)
    assert flags == ["--hidden", "64,32", "--batch-norm", "--lr", "0.01", "--subset", "500"]
    # Feeding the flags' values back through the command-line path gives the same config.
    values = {"hidden": "64,32", "batch_norm": True, "lr": 0.01, "subset": 500}
    assert build_config(values, source="command line", base=base) == changed


def test_run_headers_name_the_distortions_when_a_preset_uses_them():
    """The default preset trains on distorted digits: the run's header must say so."""
    import dataclasses

    dropout = resolve_preset("dropout").config
    assert f"augment {dropout.augment:g} (rotate, scale, shift)" in dropout.training_extras()
    assert resolve_preset("tiny").config.training_extras() == []
    both = dataclasses.replace(dropout, elastic=1.5, compile=True)
    assert both.training_extras() == [
        f"augment {dropout.augment:g} (rotate, scale, shift)",
        "elastic 1.5 px",
        "compiled",
    ]
    # Clothes are mirrored and moved, never turned or bent: the header says what is applied.
    clothes = dataclasses.replace(both, dataset="fashion-mnist")
    assert clothes.training_extras() == [f"augment {dropout.augment:g} (flip, shift)",
                                         "no elastic bending (not for Fashion-MNIST)", "compiled"]  # fmt: skip
    assert dataclasses.replace(both, compile=False, deterministic=True).training_extras()[-1] == "deterministic"
