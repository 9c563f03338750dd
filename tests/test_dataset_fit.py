"""Each dataset gets the distortions that fit it and its own expectations: clothes are mirrored
and shifted, never turned or bent; a preset's figure is per dataset, and the form, `presets`
and the run header show the one for the chosen dataset or say that none was measured."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
import torch
from textual.widgets import OptionList, Select
from typer.testing import CliRunner

from conftest import wait_until
from mlp_tui.cli.main import app
from mlp_tui.core.config import ConfigError, RunConfig
from mlp_tui.core.datasets import HANDWRITING, dataset_info
from mlp_tui.core.presets import expectation_line, load_preset_file, resolve_preset
from mlp_tui.engine.augment import augment_batch
from mlp_tui.engine.sample import sample_batch
from mlp_tui.views.tui.app import create_app
from mlp_tui.views.tui.screens.setup import SetupScreen

CLOTHES = dataset_info("fashion-mnist").distortions


def line_image(n: int) -> torch.Tensor:
    """n copies of a horizontal line across the middle row (uint8 rows, as the data are)."""
    image = torch.zeros(n, 28, 28, dtype=torch.uint8)
    image[:, 14, 4:24] = 255
    return image.view(n, 784)


def inked_rows(batch: torch.Tensor) -> torch.Tensor:
    """How many rows of each image hold ink."""
    return (batch.view(-1, 28, 28) > 64).any(2).sum(1)


def test_clothes_are_never_turned_or_bent_and_digits_still_are():
    x = line_image(200)
    generator = torch.Generator().manual_seed(0)
    clothes = augment_batch(x, 1.0, elastic=3.0, generator=generator, kinds=CLOTHES)
    assert inked_rows(clothes).max() <= 2  # moved up or down a little, still level, not bent
    digits = augment_batch(x, 1.0, elastic=3.0, generator=torch.Generator().manual_seed(0), kinds=HANDWRITING)
    assert inked_rows(digits).float().mean() > 3  # turned and bent
    assert set(HANDWRITING) == {"rotate", "scale", "shift", "elastic"} and "flip" not in HANDWRITING
    assert dataset_info("kmnist").distortions == HANDWRITING


def test_clothes_are_mirrored_half_the_time_and_elastic_alone_leaves_them_as_they_are():
    x = torch.zeros(400, 28, 28, dtype=torch.uint8)
    x[:, 10:18, 2:10] = 255  # a block on the left
    out = augment_batch(x.view(400, 784), 0.01, generator=torch.Generator().manual_seed(1), kinds=CLOTHES)
    right = (out.view(400, 28, 28)[:, :, 14:] > 128).any(2).any(1).float().mean()
    assert 0.4 < right < 0.6
    y = torch.zeros(400, dtype=torch.long)
    alone = sample_batch(x.view(400, 784), y, 50, augment=0.0, elastic=2.0, generator=torch.Generator(), kinds=CLOTHES)
    assert not alone.distorted and torch.equal(alone.seen, alone.raw)  # --elastic alone: nothing to do


def test_the_run_header_says_what_is_applied_on_each_dataset():
    config = RunConfig(augment=0.5, elastic=1.0)
    assert config.training_extras()[:2] == ["augment 0.5 (rotate, scale, shift)", "elastic 1 px"]
    clothes = dataclasses.replace(config, dataset="fashion-mnist").training_extras()
    assert clothes[:2] == ["augment 0.5 (flip, shift)", "no elastic bending (not for Fashion-MNIST)"]


# -- expectations per dataset -----------------------------------------------------------------------

PER_DATASET = """description = "mine"
expected.mnist = { accuracy = 98.60, sd = 0.10, seeds = 3, seconds = 21, hardware = "2 CPU cores" }
expected.fashion-mnist = { accuracy = 89.10, sd = 0.20, seeds = 3, seconds = 22, hardware = "2 CPU cores" }
hidden = [16]
"""


def test_a_preset_holds_a_figure_per_dataset_and_says_where_none_was_measured(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(PER_DATASET)
    preset = load_preset_file(path)
    assert preset.expectation("mnist") == "expect 98.60 ± 0.10 % in ~21 s on 2 CPU cores"
    assert preset.expectation("fashion-mnist") == "expect 89.10 ± 0.20 % in ~22 s on 2 CPU cores"
    assert preset.expectation("kmnist") == "no figure measured on KMNIST"
    path.write_text(PER_DATASET.replace("expected.fashion-mnist", "expected.fashion"))
    with pytest.raises(
        ConfigError, match=r"expected.fashion'?: unknown dataset 'fashion' \(did you mean 'fashion-mnist'\?\)"
    ):
        load_preset_file(path)
    path.write_text('expected = "about 97 %"\nhidden = [16]\n')  # a user's words: for the preset's own dataset
    assert load_preset_file(path).expectation("mnist") == "expect about 97 %"
    assert load_preset_file(path).expectation("fashion-mnist") == "no figure measured on Fashion-MNIST"


def test_the_default_preset_is_measured_on_mnist_and_fashion_mnist():
    """KMNIST's files could not be had where the figures were measured: none is claimed."""
    dropout = resolve_preset("dropout")
    for dataset in ("mnist", "fashion-mnist"):
        assert dropout.expectation(dataset).startswith("expect "), dataset
        assert dropout.measured[dataset].seeds >= 3
    assert dropout.measured["mnist"].accuracy >= 98.5 and dropout.measured["fashion-mnist"].accuracy >= 89.0
    assert dropout.expectation("kmnist") == "no figure measured on KMNIST"


def test_presets_show_the_figure_of_the_chosen_dataset():
    runner = CliRunner()
    fashion = runner.invoke(app, ["presets", "--dataset", "fashion-mnist"]).output
    dropout_mnist = resolve_preset("dropout").measured["mnist"]
    assert f"{dropout_mnist.accuracy:.2f}" not in fashion
    assert resolve_preset("dropout").expectation("fashion-mnist") in fashion
    assert "no figure measured on Fashion-MNIST" in fashion  # the presets nobody measured there
    assert "test accuracy on Fashion-MNIST" in fashion
    assert resolve_preset("dropout").expectation("mnist") in runner.invoke(app, ["presets"]).output


def test_the_run_header_gives_the_figure_only_for_the_preset_as_shipped():
    dropout = resolve_preset("dropout")
    on_fashion = dataclasses.replace(dropout.config_on("fashion-mnist"), seed=4, threads="1")
    assert (
        expectation_line("dropout", on_fashion) == f"preset dropout as shipped: {dropout.expectation('fashion-mnist')}"
    )
    assert expectation_line("dropout", dataclasses.replace(on_fashion, epochs=2)) == ""  # another run: no figure
    assert expectation_line("no-such-preset", on_fashion) == ""


def test_the_setup_form_shows_the_figures_of_the_dataset_chosen(tmp_path):
    async def drive() -> None:
        app_ = create_app("dropout", runs_root=tmp_path)
        async with app_.run_test(size=(120, 40)) as pilot:
            screen = app_.screen
            presets = screen.query_one("#presets", OptionList)

            def shown() -> str:
                return "\n".join(str(presets.get_option_at_index(i).prompt) for i in range(presets.option_count))

            assert resolve_preset("dropout").expectation("mnist") in shown()
            screen.query_one("#f-dataset", Select).value = "kmnist"
            await wait_until(pilot, lambda: "no figure measured on KMNIST" in shown())
            assert resolve_preset("dropout").expectation("kmnist") in shown()
            assert presets.highlighted is not None and presets.get_option_at_index(presets.highlighted).id == "dropout"

    asyncio.run(drive())


# -- a preset's settings per dataset --------------------------------------------------------------


def test_the_default_preset_trains_clothes_its_own_way_and_a_given_option_still_wins():
    dropout = resolve_preset("dropout")
    mnist, clothes = dropout.with_options({}), dropout.with_options({"dataset": "fashion-mnist"})
    assert (mnist.augment, mnist.batch_norm, mnist.dropout) == (0.5, False, 0.2)
    assert (clothes.dataset, clothes.augment, clothes.batch_norm, clothes.dropout) == ("fashion-mnist", 0, True, 0.1)
    assert dropout.with_options({"dataset": "fashion-mnist", "augment": 0.3}).augment == 0.3
    assert dropout.with_options({"dataset": "kmnist"}).augment == 0.5  # kana are handwriting
    assert dropout.as_shipped(clothes) and not dropout.as_shipped(dataclasses.replace(clothes, augment=0.5))


def test_a_comparison_across_datasets_gives_each_the_presets_settings_for_it():
    from mlp_tui.runs.compare.grid import build_grid, parse_axis

    dropout = resolve_preset("dropout")
    variants = build_grid([("dropout", dropout.config)], [parse_axis("dataset=mnist,fashion-mnist")], {},
                          {"dropout": dropout.config_on})  # fmt: skip
    by_dataset = {v.config.dataset: v.config for v in variants}
    assert by_dataset["mnist"].augment == 0.5 and by_dataset["fashion-mnist"].augment == 0


def test_a_bad_setting_in_a_dataset_table_is_named(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text("hidden = [16]\n[fashion-mnist]\naugmnet = 0\n")
    with pytest.raises(
        ConfigError, match=r"\[fashion-mnist\]: key 'augmnet': unknown key \(did you mean 'augment'\?\)"
    ):
        load_preset_file(path)


def test_the_setup_form_takes_the_presets_settings_for_the_dataset_chosen(tmp_path):
    from textual.widgets import Checkbox, Input

    async def drive() -> None:
        app_ = create_app("dropout", runs_root=tmp_path)
        async with app_.run_test(size=(120, 40)) as pilot:
            screen = app_.screen
            assert isinstance(screen, SetupScreen)
            augment = screen.query_one("#f-augment", Input)
            screen.query_one("#f-dataset", Select).value = "fashion-mnist"
            await wait_until(pilot, lambda: augment.value == "0")
            assert screen.config.batch_norm and screen.config.dropout == 0.1
            augment.value = "0.2"  # the user's own value stays theirs
            await wait_until(pilot, lambda: screen.config.augment == 0.2)
            screen.query_one("#f-dataset", Select).value = "mnist"
            await wait_until(pilot, lambda: screen.config.dataset == "mnist" and not screen.config.batch_norm)
            assert screen.config.dropout == 0.2 and augment.value == "0.2"
            assert not screen.query_one("#f-batch_norm", Checkbox).value

    asyncio.run(drive())


def test_the_reproduce_line_on_another_dataset_names_the_dataset_not_the_presets_settings_for_it(mnist_root, tmp_path):
    args = ["run", "--preset", "dropout", "--dataset", "fashion-mnist", "--epochs", "1", "--subset", "500",
            "--threads", "1", "--headless", "--data-dir", str(mnist_root), "--runs", str(tmp_path)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if line.startswith("Reproduce with: "))
    assert "--dataset fashion-mnist" in line and "--batch-norm" not in line and "--augment" not in line
    assert "model 784-512-512-10 (batch norm, dropout 0.1)" in result.output  # the header says how it trains
    # Running it again trains the preset's Fashion-MNIST settings.
    [run_dir] = list(tmp_path.iterdir())
    config = load_preset_file(run_dir / "config.toml").config
    assert (config.augment, config.batch_norm, config.dropout) == (0, True, 0.1)


def test_elastic_alone_on_clothes_is_said_to_leave_them_undistorted():
    from mlp_tui.views.console.data_sample import distortion_text

    clothes = RunConfig(dataset="fashion-mnist", elastic=2.0)
    assert distortion_text(clothes) == "undistorted: no elastic bending (not for Fashion-MNIST)"
    assert distortion_text(dataclasses.replace(clothes, augment=0.5)).startswith("distorted: augment 0.5 (")
    assert distortion_text(RunConfig(elastic=2.0)) == "distorted: elastic 2 px"
