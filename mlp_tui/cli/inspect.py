"""The commands that look at data and trained runs without training: `eval`, `predict`,
`weights` and `data` (registered on the app in cli.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from mlp_tui.cli.common import (
    DEFAULT_PRESET,
    DataDir,
    DeviceOption,
    PresetOption,
    RunArgument,
    RunsRoot,
    fail,
    user_errors,
)
from mlp_tui.cli.run_options import given_settings
from mlp_tui.core.presets import resolve_preset
from mlp_tui.text.width import layout_width


def eval_run(
    run_name: RunArgument, runs_root: RunsRoot = Path("runs"), data_dir: DataDir = None, device: DeviceOption = None
) -> None:
    """Test a run's best weights (best.pt) on its dataset's test set and print the report."""
    with user_errors():
        from mlp_tui.runs.status import resolve_run, summarize

        run_dir = resolve_run(run_name, runs_root)
        from mlp_tui.runs.evaluate import eval_report, evaluate_run, load_run
        from mlp_tui.text.render import wants_ascii

        loaded = load_run(run_dir, device)
        finished, test = evaluate_run(loaded, data_dir)
        summary = summarize(run_dir)
    width = layout_width(30)
    recorded = None if summary.test_accuracy is None else (summary.test_accuracy, summary.device)
    typer.echo(eval_report(loaded, finished, test, width=width, ascii=wants_ascii(), recorded=recorded).rstrip())


def predict_digit(
    run_name: RunArgument,
    image: Annotated[
        Path,
        typer.Argument(
            metavar="IMAGE",
            help="One digit, kana or product (as the run's dataset holds): a PNG or JPEG picture or a .npy array, "
            "light or dark background.",
        ),
    ],
    runs_root: RunsRoot = Path("runs"),
    device: DeviceOption = None,
) -> None:
    """Read a handwritten digit (or, for a Fashion-MNIST run, a product) from a picture with a
    run's best weights; the picture is prepared the way the run's dataset was made."""
    with user_errors():
        from mlp_tui.engine.digit_input import ImageError, prepare_file, read_grey
        from mlp_tui.runs.status import resolve_run

        run_dir = resolve_run(run_name, runs_root)
        try:
            grey = read_grey(image)  # a missing or unreadable file is reported before loading torch
        except ImageError as exc:
            fail(str(exc))
        from mlp_tui.core.datasets import dataset_info
        from mlp_tui.runs.evaluate import load_run, predict
        from mlp_tui.text.render import prediction_lines, wants_ascii

        loaded = load_run(run_dir, device)
        info = dataset_info(loaded.config.dataset)
        try:
            digit = prepare_file(grey, image, info.framing)
        except ImageError as exc:
            fail(str(exc))
        probs = predict(loaded, digit.pixels)
    classes = info.classes
    typer.echo(loaded.header())
    if loaded.note:
        typer.echo(loaded.note)
    typer.echo(f"input {image}: {digit.describe()}")
    typer.echo()
    typer.echo("\n".join(prediction_lines(digit.pixels, probs, classes, wants_ascii())))


def weights(
    run_name: RunArgument,
    runs_root: RunsRoot = Path("runs"),
    page: Annotated[int, typer.Option(min=1, help="Which page of pictures to print (1 is the first).")] = 1,
    per_page: Annotated[int, typer.Option("--per-page", min=1, help="Pictures on a page.")] = 32,
    shared_scale: Annotated[
        bool,
        typer.Option(
            "--shared-scale",
            help="Scale every picture on the page by the page's largest |w| (default: each by its own).",
        ),
    ] = False,
) -> None:
    """Show what the first layer learned: each hidden unit's 784 incoming weights as a 28x28 picture
    (blue positive, red negative; a linear model: one template per class)."""
    with user_errors():
        from mlp_tui.runs.status import resolve_run
        from mlp_tui.runs.weights import read_first_layer

        layer = read_first_layer(resolve_run(run_name, runs_root))
        pages = max(1, -(-layer.count // per_page))
        if page > pages:
            fail(f"--page {page}: {layer.count} pictures make {pages} page(s) of {per_page}")
    from mlp_tui.text.render import WEIGHT_LEGEND_PLAIN, wants_ascii, wants_colour, weight_grid_lines, weight_grid_text
    from mlp_tui.text.report import fold

    start = (page - 1) * per_page
    pictures = layer.pictures(start, start + per_page)
    width = layout_width(30)
    colour = wants_colour() and not wants_ascii()
    scale = "all on this page by its largest |w|" if shared_scale else "each by its own largest |w|"
    legend = "blue positive, red negative" if colour else WEIGHT_LEGEND_PLAIN
    captions = [f"run {layer.run_dir}  {layer.describe()}", f"{legend}; scaled {scale}"]
    captions += [layer.dead_note()] if layer.dead_note() else []  # its own line: a sentence of its own
    typer.echo("\n".join(fold(captions, width)))
    typer.echo()
    if colour:
        from rich.console import Console

        console = Console(highlight=False, soft_wrap=True, force_terminal=True)  # wants_colour saw a terminal
        for line in weight_grid_text(pictures, width, per_picture=not shared_scale):
            console.print(line)
    else:
        typer.echo("\n".join(weight_grid_lines(pictures, width, per_picture=not shared_scale)))
    if pages > 1:
        shown = f"{start}-{start + len(pictures) - 1}"
        more = f"; --page {page + 1} for the next" if page < pages else ""
        typer.echo(f"\npage {page} of {pages} (pictures {shown} of {layer.count}){more}")


# -- data: the training images as the network receives them ----------------------------------------

DATA_SETTINGS = ("dataset", "augment", "elastic", "seed")  # the run settings that change what `data` shows


def data(
    preset: PresetOption = DEFAULT_PRESET,
    data_dir: DataDir = None,
    count: Annotated[
        int | None,
        typer.Option(
            "--count", "-n", min=1, max=10_000, help="How many images (default: four rows of as many as fit the width)."
        ),
    ] = None,
    pixel_values: Annotated[
        bool,
        typer.Option(
            "--values",
            help="Print each image's pixel values (0-255) as a 28x28 grid of numbers instead of a picture "
            "(default: one image, the first of the sample; -n for more).",
        ),
    ] = False,
    **settings: Any,
) -> None:
    """Print training images exactly as the network receives them with these settings: after the
    random rotation, scale and shift (--augment) and elastic bending (--elastic), before
    normalisation; each with its label. Try values before training with them."""
    values = given_settings(settings)
    with user_errors():
        chosen = resolve_preset(preset)
        config = chosen.with_options(values)
        from mlp_tui.text.render import wants_ascii
        from mlp_tui.views.console.data_sample import data_report

        width = layout_width(30)
        text = data_report(config, chosen.name, data_dir, count=count, width=width, ascii=wants_ascii(),
                           values=pixel_values)  # fmt: skip
        typer.echo(text, nl=False)
