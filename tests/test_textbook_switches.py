"""The training-side switches textbooks use: --monitor (what picks the best weights and what
--patience counts), --val-from test (validation held out of the test images, said plainly),
--log-every (a line every N batches) and `mlp-tui data --values` (an image as numbers)."""

from __future__ import annotations

import io
import json
import re

import pytest
import torch
from typer.testing import CliRunner

from conftest import must_search
from mlp_tui.cli.main import app
from mlp_tui.core.events import BatchProgress, EpochEnd, Evaluation, RunFinished, RunStarted
from mlp_tui.engine import trainer as engine
from mlp_tui.engine.data import load_train_split, split_dataset, synthetic_digits
from mlp_tui.engine.monitor import is_better, patience_spent, saved_key, score
from mlp_tui.runs.store import RunStore, load_checkpoint
from mlp_tui.views.console.headless import PlainPrinter

CPU = torch.device("cpu")
runner = CliRunner()
FLATTERS = "choosing the best epoch on test images flatters the test result"


# -- --monitor ---------------------------------------------------------------------------------


def test_the_decision_alone_goes_by_the_monitored_number_and_the_other_breaks_ties():
    lower_loss, more_accurate = (0.90, 0.30), (0.95, 0.40)  # (accuracy, loss): they disagree
    assert is_better(score("val-loss", *lower_loss), score("val-loss", *more_accurate))
    assert is_better(score("val-accuracy", *more_accurate), score("val-accuracy", *lower_loss))
    assert is_better(score("val-loss", 0.91, 0.30), score("val-loss", 0.90, 0.30))  # same loss: accuracy decides
    assert not is_better(score("val-loss", 0.90, 0.30), score("val-loss", 0.90, 0.30))  # a tie keeps the earlier
    assert not patience_spent(5, 0) and not patience_spent(1, 2) and patience_spent(2, 2)
    # A key saved by the other monitor (or before --monitor existed) is turned round, not lost.
    assert saved_key([0.9, -0.3], None, "val-loss") == score("val-loss", 0.9, 0.3)
    assert saved_key([-0.3, 0.9], "val-loss", "val-loss") == score("val-loss", 0.9, 0.3)
    assert saved_key(None, "val-loss", "val-loss") is None


def scripted_validation(monkeypatch, accuracies: dict[int, float], losses: dict[int, float]) -> None:
    """Validation reports these numbers per epoch, whatever the model does."""
    real_evaluate = engine.evaluate

    def evaluate(model, x, y, config, split, epoch, **kw):
        result = real_evaluate(model, x, y, config, split, epoch, **kw)
        if split == "val":
            result.accuracy, result.loss = accuracies.get(epoch, 0.0), losses.get(epoch, 9.0)
        return result

    monkeypatch.setattr(engine, "evaluate", evaluate)


# Accuracy keeps rising while the loss turns up after epoch 2: the two monitors disagree.
ACCURACIES = {1: 0.50, 2: 0.60, 3: 0.65, 4: 0.70, 5: 0.72}
LOSSES = {1: 1.00, 2: 0.50, 3: 0.60, 4: 0.70, 5: 0.80}


def test_monitor_val_loss_keeps_the_epoch_with_the_lowest_validation_loss_and_patience_counts_by_it(
    synthetic, make_config, run_trainer, monkeypatch
):
    scripted_validation(monkeypatch, ACCURACIES, LOSSES)
    result, events, _ = run_trainer(make_config(epochs=10, patience=2, monitor="val-loss"), synthetic)
    assert result.status == "early-stopped" and result.epochs_done == 4  # 2 epochs after the lowest loss
    assert result.best_epoch == 2 and result.best_val_accuracy == 0.60
    assert [e.is_best for e in events if isinstance(e, EpochEnd)] == [True, True, False, False]
    test = [e for e in events if isinstance(e, Evaluation) and e.split == "test"]
    assert [e.epoch for e in test] == [2]  # the test report is of the lowest-loss weights


def test_monitor_val_accuracy_with_the_same_numbers_keeps_the_most_accurate_epoch(
    synthetic, make_config, run_trainer, monkeypatch
):
    scripted_validation(monkeypatch, ACCURACIES, LOSSES)
    result, events, _ = run_trainer(make_config(epochs=5, patience=2), synthetic)
    assert result.status == "completed" and result.best_epoch == 5
    assert all(e.is_best for e in events if isinstance(e, EpochEnd))


def test_a_resumed_run_keeps_its_monitor_and_best_so_far(synthetic, make_config, tmp_path, monkeypatch):
    scripted_validation(monkeypatch, ACCURACIES, LOSSES)
    config = make_config(epochs=3, monitor="val-loss")
    store = RunStore(tmp_path / "run")
    first = engine.Trainer(config, synthetic, CPU, store=store)
    first.run()
    store.close()
    last = load_checkpoint(tmp_path / "run" / "last.pt")
    assert last["monitor"] == "val-loss"
    again = engine.Trainer(config, synthetic, CPU)
    again.restore(last)
    assert again.best_key == first.best_key == score("val-loss", 0.60, 0.50)
    assert again.best_epoch == 2
    # A checkpoint that does not say its monitor was written in val-accuracy's order.
    older = dict(last, monitor=None, best_key=[0.60, -0.50])
    again.restore(older)
    assert again.best_key == score("val-loss", 0.60, 0.50)


# -- --val-from test ---------------------------------------------------------------------------


def numbered_test_split(n: int = 500):
    """Synthetic data whose test images carry their position in their first two pixels."""
    x, y, tx, ty = synthetic_digits(n_train=2000, n_test=n, seed=0)
    tx = tx.clone()
    tx[:, 0], tx[:, 1] = torch.arange(n) // 256, torch.arange(n) % 256
    return x, y, tx, ty


def ids(images: torch.Tensor) -> set[int]:
    return set((images[:, 0].long() * 256 + images[:, 1].long()).tolist())


def test_val_from_test_holds_validation_out_of_the_test_split_and_tests_on_the_rest():
    x, y, tx, ty = numbered_test_split(500)
    data = split_dataset(x, y, tx, ty, val_split=0.2, seed=3, device=CPU, val_from="test")
    assert (len(data.train_x), len(data.val_x), len(data.test_x)) == (2000, 100, 400)  # every training image trains
    val, test = ids(data.val_x), ids(data.test_x)
    assert len(val) == 100 and len(test) == 400
    assert not val & test, "a validation image is in the reported test set"
    assert val | test == set(range(500))
    # The default is unchanged: validation from the training images, the whole test split tests.
    usual = split_dataset(x, y, tx, ty, val_split=0.2, seed=3, device=CPU)
    assert (len(usual.train_x), len(usual.val_x), len(usual.test_x)) == (1600, 400, 500)


def test_header_and_report_say_validation_and_test_share_the_test_split(make_config, run_trainer, tmp_path):
    x, y, tx, ty = numbered_test_split(500)
    data = split_dataset(x, y, tx, ty, val_split=0.2, seed=0, device=CPU, val_from="test")
    stream = io.StringIO()
    printer = PlainPrinter(stream)
    store = RunStore(tmp_path / "run")
    config = make_config(val_from="test", val_split=0.2, monitor="val-loss")
    run_trainer(config, data, store=store, on_event=printer.handle)
    said = f"validation: 100 images from the test split (the rest, 400, is the test set; {FLATTERS})"
    lines = stream.getvalue().splitlines()
    data_line = next(i for i, line in enumerate(lines) if line.startswith("data: "))
    assert "2,000 train / 100 validation / 400 test images" in lines[data_line]
    header = " ".join(line.strip() for line in lines[data_line + 1 : data_line + 4])  # folded to the width
    assert said in header
    assert "best by validation loss" in " ".join(lines[1:3])  # the settings line, folded
    test_line = next(i for i, line in enumerate(lines) if line.startswith("Test loss"))
    assert re.search(r"best epoch \d by validation loss", lines[test_line])
    # the report (folded to the output's width: a line at most as wide as the terminal)
    assert said in " ".join(line.strip() for line in lines[test_line + 1 : test_line + 4])
    assert said in " ".join((tmp_path / "run" / "report.txt").read_text().split())


def test_eval_tests_on_the_same_held_out_test_images_and_repeats_the_recorded_accuracy(
    mnist_root, make_config, tmp_path
):
    from mlp_tui.runs.job import Job
    from mlp_tui.runs.launch import launch
    from mlp_tui.runs.predictions import predict_split

    config = make_config(hidden=(16,), epochs=1, subset=3000, val_from="test", val_split=0.2)
    finished = launch(Job(config, "unit", mnist_root, tmp_path / "runs"), lambda e: None)
    (run_dir,) = (tmp_path / "runs").iterdir()
    started = next(json.loads(line) for line in (run_dir / "metrics.jsonl").open() if "run_started" in line)
    assert (started["val_size"], started["test_size"]) == (2000, 8000)
    result = runner.invoke(app, ["eval", str(run_dir), "--data-dir", str(mnist_root), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert isinstance(finished, RunFinished) and finished.test_accuracy is not None, finished
    recorded = f"{finished.test_accuracy * 100:.2f} %"
    assert f"The same as the run recorded ({recorded}" in result.output
    assert f"the rest, 8,000, is the test set; {FLATTERS}" in " ".join(result.output.split())  # folded to the width
    totals = [int(t) for t in re.findall(r"^\d +\d+\.\d\d % +\d+/(\d+)$", result.output, re.M)]
    assert sum(totals) == 8000
    # The Predictions tab's images: the same 8,000 test images, and the 2,000 that validated.
    assert predict_split(run_dir, "test", data_dir=mnist_root).count == 8000
    assert predict_split(run_dir, "val", data_dir=mnist_root).count == 2000


# -- --log-every -------------------------------------------------------------------------------

LOG_LINE = re.compile(r"^  epoch (\d+) batch +(\d+)/15  loss \d\.\d{4}  acc +\d+\.\d\d %  lr 0\.001  [\d,]+ img/s$")


def test_log_every_prints_a_line_at_every_nth_batch_of_each_epoch(synthetic, make_config, run_trainer, tmp_path):
    stream = io.StringIO()
    printer = PlainPrinter(stream)
    store = RunStore(tmp_path / "run")
    _, events, _ = run_trainer(make_config(log_every=5), synthetic, store=store, on_event=printer.handle)
    out = stream.getvalue().splitlines()  # 1800 images in batches of 128: 15 batches an epoch
    logged = [tuple(map(int, m.groups())) for line in out if (m := LOG_LINE.match(line))]
    assert logged == [(1, 5), (1, 10), (1, 15), (2, 5), (2, 10), (2, 15)]
    assert "a line every 5 batches: loss and accuracy of the epoch so far" in out
    line = next(line for line in out if LOG_LINE.match(line))
    event = next(e for e in events if isinstance(e, BatchProgress) and e.logged)
    assert f"loss {event.loss:.4f}" in line and f"acc {event.accuracy * 100:.2f} %" in line
    kept = [json.loads(r) for r in (tmp_path / "run" / "metrics.jsonl").open() if '"logged": true' in r]
    assert [(r["epoch"], r["batch"]) for r in kept] == logged  # `watch` and the run directory keep them


def test_log_every_zero_prints_no_batch_lines(synthetic, make_config, run_trainer):
    stream = io.StringIO()
    printer = PlainPrinter(stream)
    _, events, _ = run_trainer(make_config(), synthetic, on_event=printer.handle)
    assert not any(isinstance(e, BatchProgress) and e.logged for e in events)
    assert not any(LOG_LINE.match(line) for line in stream.getvalue().splitlines())
    assert isinstance(events[0], RunStarted) and "a line every" not in stream.getvalue()


# -- mlp-tui data --values ---------------------------------------------------------------------


def number_rows(text: str) -> list[list[int]]:
    """The lines that are nothing but numbers, as numbers."""
    return [[int(v) for v in line.split()] for line in text.splitlines() if re.fullmatch(r" *\d[ \d]*", line)]


def assert_training_image(values: list[int], label: str, mnist_root) -> None:
    x, y = load_train_split("mnist", mnist_root, val_split=0.0, seed=0)
    found = (x == torch.tensor(values, dtype=torch.uint8)).all(1).nonzero().flatten().tolist()
    assert found, "the printed numbers are not any training image"
    assert str(int(y[found[0]])) == label


def test_data_values_prints_one_image_as_28_rows_of_28_numbers(mnist_root):
    args = ["data", "--values", "--seed", "3", "--augment", "0", "--elastic", "0", "--data-dir", str(mnist_root)]
    result = runner.invoke(app, args, env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    rows = number_rows(result.output)
    assert len(rows) == 28 and all(len(r) == 28 for r in rows)
    assert all(0 <= v <= 255 for r in rows for v in r) and max(max(r) for r in rows) > 200
    assert "pixel values of 1 of the" in result.output and "seed 3" in result.output
    label = must_search(r"^image 1 of 1: (\d)$", result.output, re.M).group(1)
    assert_training_image([v for r in rows for v in r], label, mnist_root)
    # -n: that many images, the first the same one.
    two = runner.invoke(app, [*args, "-n", "2"], env={"COLUMNS": "120"})
    assert number_rows(two.output)[:28] == rows and len(number_rows(two.output)) == 56
    # Narrower than a row of 28: the columns come in blocks, one under the other, the same numbers.
    narrow = runner.invoke(app, args, env={"COLUMNS": "60"})
    blocks = number_rows(narrow.output)
    assert "columns 0-13:" in narrow.output and "columns 14-27:" in narrow.output
    assert max(len(line) for line in narrow.output.splitlines()) <= 60
    assert [a + b for a, b in zip(blocks[:28], blocks[28:], strict=True)] == rows


# -- bad values --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, says",
    [
        (["--monitor", "accuracy"], ["--monitor", "val-accuracy", "val-loss"]),
        (["--val-from", "valid"], ["--val-from", "train", "test"]),
        (["--log-every", "-1"], ["--log-every", ">= 0"]),
    ],
)
def test_bad_values_exit_2_naming_the_option_and_what_it_takes(args, says):
    result = runner.invoke(app, ["run", "--headless", *args])
    assert result.exit_code == 2, result.output
    assert all(word in result.output for word in says), result.output


def test_a_preset_with_a_bad_monitor_names_the_key_and_the_choices(tmp_path):
    preset = tmp_path / "mine.toml"
    preset.write_text('monitor = "val-los"\n')
    result = runner.invoke(app, ["run", "--headless", "--preset", str(preset)])
    assert result.exit_code == 2, result.output
    assert "'monitor'" in result.output and "did you mean 'val-loss'" in result.output
    assert "one of val-accuracy, val-loss" in result.output
