"""The data: any MNIST-format dataset, found where the user said, read by its content (plain or
any gzip), every fault named by file and field; and real MNIST read exactly as torchvision does."""

from __future__ import annotations

import dataclasses
import gzip
import io
import urllib.error
import urllib.request

import pytest
import torch

from conftest import idx_bytes
from mlp_tui.core.datasets import DATASETS, IDX_FILES, dataset_info
from mlp_tui.core.events import RunFinished
from mlp_tui.core.presets import resolve_preset
from mlp_tui.engine.data import DataError, load_dataset, load_test_split, locate_files, pixel_stats, resolve_data_dir
from mlp_tui.engine.trainer import Trainer

CPU = torch.device("cpu")


def load(root, dataset="fashion-mnist", **kwargs):
    return load_dataset(dataset, root, val_split=0.0, seed=0, device=CPU, download=False, **kwargs)


# -- where the files are -----------------------------------------------------------------------


@pytest.mark.parametrize("dataset", list(DATASETS))
def test_missing_files_without_download_name_them_and_where_to_put_them(tmp_path, dataset):
    info = dataset_info(dataset)
    with pytest.raises(DataError) as caught:
        load(tmp_path, dataset)
    message = str(caught.value)
    for name in IDX_FILES:
        assert name in message
    assert str(tmp_path / info.folder / "raw") in message
    assert info.title in message and info.home in message
    assert "--data-dir" in message and "$MLP_TUI_DATA" in message


def test_failed_download_says_why_and_what_to_do_offline(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(DataError) as caught:
        load_dataset("kmnist", tmp_path, val_split=0.1, seed=0, device=CPU)
    message = str(caught.value)
    assert "downloading train-images-idx3-ubyte.gz failed" in message
    assert "Name or service not known" in message and "offline" in message
    assert str(tmp_path / "KMNIST" / "raw") in message


class FakeResponse(io.BytesIO):
    """What urlopen returns, as far as torchvision's downloader reads it: the body, its url, its length."""

    def __init__(self, body: bytes, url: str) -> None:
        super().__init__(body)
        self.url, self.length = url, len(body)


class FakeMirror:
    """urllib.request.urlopen for torchvision's downloader, serving archives from memory."""

    def __init__(self, files: dict[str, bytes]):
        self.files = files
        self.asked: list[str] = []

    def __call__(self, request, *args, **kwargs) -> FakeResponse:
        url = getattr(request, "full_url", request)
        name = url.rsplit("/", 1)[-1]
        if name not in self.files:
            raise urllib.error.URLError(f"no {name} here")
        if request.get_header("Method") != "HEAD":
            self.asked.append(url)
        return FakeResponse(self.files[name], url)


def test_a_missing_dataset_is_downloaded_from_torchvisions_mirror(tmp_path, monkeypatch, idx_dataset):
    source = idx_dataset(tmp_path / "elsewhere", "kmnist", n_train=200, n_test=50, gzipped=True)
    mirror = FakeMirror({p.name: p.read_bytes() for p in source.iterdir()})
    monkeypatch.setattr(urllib.request, "urlopen", mirror)
    data = load_dataset("kmnist", tmp_path / "data", val_split=0.1, seed=0, device=CPU)
    assert sorted(u.rsplit("/", 1)[1] for u in mirror.asked) == sorted(f"{n}.gz" for n in IDX_FILES)
    assert all(u.startswith("http://codh.rois.ac.jp/kmnist/") for u in mirror.asked)
    assert (tmp_path / "data" / "KMNIST" / "raw" / "train-images-idx3-ubyte").is_file()
    assert (len(data.train_x), len(data.val_x), len(data.test_x)) == (180, 20, 50)
    mirror.asked.clear()
    load_dataset("kmnist", tmp_path / "data", val_split=0.1, seed=0, device=CPU)
    assert mirror.asked == [], "downloaded again what was there"


def test_only_missing_files_are_downloaded(tmp_path, monkeypatch, idx_dataset):
    """A copy that is there (here re-gzipped by hand) is never downloaded over."""
    raw = idx_dataset(tmp_path, "mnist", gzipped=True)
    (raw / "t10k-labels-idx1-ubyte.gz").unlink()
    asked = []
    monkeypatch.setattr("mlp_tui.engine.data._download", lambda info, root, missing: asked.append(missing))
    with pytest.raises(DataError, match="downloading left t10k-labels-idx1-ubyte missing"):  # a fake download
        load_test_split("mnist", tmp_path, device=CPU)
    assert asked == [["t10k-labels-idx1-ubyte"]]


def test_a_damaged_file_is_named_before_any_download_is_tried(tmp_path, monkeypatch):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes((10, 28, 28), bytes(784 * 10)))[:-20])
    monkeypatch.setattr("mlp_tui.engine.data._download", lambda *args: pytest.fail("tried to download"))
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz: gzip archive: cut short"):
        load_dataset("fashion-mnist", tmp_path, val_split=0.1, seed=0, device=CPU)


@pytest.mark.parametrize("dataset", list(DATASETS))
def test_data_dir_may_point_at_the_dataset_or_raw_folder(tmp_path, dataset, idx_dataset):
    raw = idx_dataset(tmp_path, dataset)
    assert resolve_data_dir(raw) == tmp_path
    assert resolve_data_dir(raw.parent) == tmp_path
    found = locate_files(dataset_info(dataset), resolve_data_dir(raw), IDX_FILES)
    assert found == {name: raw / name for name in IDX_FILES}


def test_data_dir_defaults_to_the_environment_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("MLP_TUI_DATA", str(tmp_path))
    assert resolve_data_dir(None) == tmp_path


# -- reading by content --------------------------------------------------------------------------


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzipped"])
@pytest.mark.parametrize("dataset", list(DATASETS))
def test_every_dataset_reads_from_its_torchvision_folder_plain_or_gzipped(tmp_path, dataset, gzipped, idx_dataset):
    from mlp_tui.engine.data import synthetic_digits

    idx_dataset(tmp_path, dataset, n_train=300, n_test=100, gzipped=gzipped)
    data = load(tmp_path, dataset)
    _x, y, tx, ty = synthetic_digits(n_train=300, n_test=100, seed=0)
    assert data.name == dataset_info(dataset).title
    assert torch.equal(data.test_x, tx) and torch.equal(data.test_y, ty)
    assert sorted(data.train_y.tolist()) == sorted(y.tolist()) and data.train_x.shape == (300, 784)


def test_any_gzip_reads_whatever_made_it_and_whatever_its_name(tmp_path, idx_dataset):
    """Compressed again by hand (another level, other header fields, several members), or a
    gzip under the plain name: the bytes decide, not the file name or an archive checksum."""
    raw = idx_dataset(tmp_path, "mnist", n_train=200, n_test=50)
    plain = {name: (raw / name).read_bytes() for name in IDX_FILES}
    expected = load(tmp_path, "mnist")
    for name in plain:
        (raw / name).unlink()
    half = len(plain["train-images-idx3-ubyte"]) // 2
    (raw / "train-images-idx3-ubyte.gz").write_bytes(
        gzip.compress(plain["train-images-idx3-ubyte"][:half], 1, mtime=12345)
        + gzip.compress(plain["train-images-idx3-ubyte"][half:], 9)
    )
    (raw / "train-labels-idx1-ubyte").write_bytes(gzip.compress(plain["train-labels-idx1-ubyte"]))
    (raw / "t10k-images-idx3-ubyte.gz").write_bytes(plain["t10k-images-idx3-ubyte"])  # not compressed at all
    (raw / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(plain["t10k-labels-idx1-ubyte"], 6))
    again = load(tmp_path, "mnist")
    assert torch.equal(again.train_x, expected.train_x) and torch.equal(again.test_y, expected.test_y)


def _damage(raw, name, content):
    for candidate in (raw / name, raw / f"{name}.gz"):
        candidate.unlink(missing_ok=True)
    (raw / name).write_bytes(content)
    return raw / name


GOOD_LABELS = bytes(i % 10 for i in range(100))

DAMAGE = {
    "label out of range": (
        "train-labels-idx1-ubyte", idx_bytes((100,), GOOD_LABELS[:40] + bytes([10]) + GOOD_LABELS[41:]),
        "label value: label 10 (item 40) is outside the class range 0-9",
    ),
    "29-row images": (
        "train-images-idx3-ubyte", idx_bytes((100, 29, 28), bytes(100 * 29 * 28)),
        "image size: 29x28 pixels, expected 28x28",
    ),
    "truncated images": (
        "t10k-images-idx3-ubyte", idx_bytes((100, 28, 28), bytes(100 * 784))[: 16 + 50 * 784 + 10],
        "length: the header declares 100 images but the file holds 50 whole images",
    ),
    "truncated archive": (
        "t10k-images-idx3-ubyte", gzip.compress(idx_bytes((100, 28, 28), bytes(range(256)) * 306 + bytes(16)))[:900],
        "gzip archive: cut short (truncated)",
    ),
    "damaged archive": (
        "train-labels-idx1-ubyte", gzip.compress(idx_bytes((100,), GOOD_LABELS))[:-8] + bytes(8),
        "gzip archive: damaged",
    ),
    "trailing bytes": (
        "t10k-labels-idx1-ubyte", idx_bytes((100,), GOOD_LABELS) + b"\n\n",
        "length: 2 bytes after the 100 labels the header declares",
    ),
    "not IDX": ("train-images-idx3-ubyte", b"GIF89a" + bytes(200), "magic number: 0x47494638 is not an IDX magic"),
    "floats": ("train-images-idx3-ubyte", b"\x00\x00\x0d\x03" + bytes(200), "data type: 0x0D (float), expected 0x08"),
    "images as labels": ("t10k-labels-idx1-ubyte", idx_bytes((100, 28, 28), bytes(100 * 784)),
                         "number of dimensions: 3, expected 1"),
    "counts differ": ("train-labels-idx1-ubyte", idx_bytes((99,), GOOD_LABELS[:99]),
                      "count: 99 labels, but train-images-idx3-ubyte holds 100 images"),
    "empty file": ("t10k-labels-idx1-ubyte", b"", "header: file too short"),
    "absurd count, plain": ("train-labels-idx1-ubyte", idx_bytes((2**32 - 1,), GOOD_LABELS),
                            "length: the header declares 4,294,967,295 labels but the file holds 100 whole labels"),
    "absurd count, gzipped": ("train-labels-idx1-ubyte", gzip.compress(idx_bytes((2**32 - 1,), GOOD_LABELS)),
                              "count: the header declares 4,294,967,295 labels"),
}  # fmt: skip


@pytest.mark.parametrize("fault", list(DAMAGE))
def test_each_fault_names_the_file_and_the_field(tmp_path, fault, idx_dataset):
    raw = idx_dataset(tmp_path, "mnist", n_train=100, n_test=100)
    name, content, problem = DAMAGE[fault]
    damaged = _damage(raw, name, content)
    with pytest.raises(DataError) as caught:
        load(tmp_path, "mnist")
    message = str(caught.value)
    assert message.startswith(f"{damaged}: {problem}"), message
    assert str(raw) in message and "Replace the file" in message  # and what to do about it


def test_class_range_follows_the_dataset(tmp_path, idx_dataset):
    """Labels 0-9 only: a label of 10 in Fashion-MNIST would be an eleventh class."""
    raw = idx_dataset(tmp_path, "fashion-mnist", n_train=100, n_test=100)
    _damage(raw, "t10k-labels-idx1-ubyte", idx_bytes((100,), bytes([255]) * 100))
    with pytest.raises(DataError, match=r"label 255 .* outside the class range 0-9"):
        load_test_split("fashion-mnist", tmp_path, device=CPU)


# -- normalisation from the data in use ------------------------------------------------------------


def test_pixel_statistics_of_real_mnist_are_its_well_known_constants(mnist_root):
    data = load(mnist_root, "mnist")
    assert (round(data.mean, 4), round(data.std, 4)) == (0.1307, 0.3081)


def test_pixel_statistics_come_from_the_dataset_in_use_and_are_cached(tmp_path, idx_dataset, monkeypatch):
    raw = idx_dataset(tmp_path, "kmnist", n_train=300, n_test=50)
    data = load(tmp_path, "kmnist")
    x = torch.frombuffer(bytearray((raw / "train-images-idx3-ubyte").read_bytes()[16:]), dtype=torch.uint8)
    assert data.mean == pytest.approx(x.double().mean().item() / 255, abs=1e-9)
    assert data.std == pytest.approx(x.double().std(unbiased=False).item() / 255, abs=1e-9)
    assert abs(data.mean - 0.1307) > 0.01, "the test data should not look like MNIST"

    def not_again(x):
        raise AssertionError("worked out again instead of read from the cache")

    monkeypatch.setattr("mlp_tui.engine.pixel_stats.pixel_stats", not_again)
    again = load(tmp_path, "kmnist", subset=100)
    assert (again.mean, again.std) == (data.mean, data.std)


def test_the_model_standardises_with_the_statistics_it_was_trained_with(tmp_path, idx_dataset, make_config):
    idx_dataset(tmp_path, "fashion-mnist", n_train=300, n_test=50)
    data = load(tmp_path, "fashion-mnist")
    trainer = Trainer(make_config(epochs=1, dataset="fashion-mnist"), data, CPU)
    state = trainer.model.state_dict()
    pixels = torch.tensor([0.0, 255.0 * data.mean, 255.0])
    standard = pixels * state["pixel_scale"] - state["pixel_shift"]
    assert standard.tolist() == pytest.approx([-data.mean / data.std, 0.0, (1 - data.mean) / data.std], abs=1e-5)
    assert pixel_stats(data.train_x)[0] != pytest.approx(0.1307, abs=1e-3)


# -- real MNIST ----------------------------------------------------------------------------------


def test_images_and_labels_read_as_torchvision_reads_them(mnist_root):
    """The IDX files are read without torchvision; the pixels and labels must be its own."""
    from torchvision.datasets import MNIST

    data = load(mnist_root, "mnist")
    test = MNIST(str(mnist_root), train=False, download=False)
    assert torch.equal(data.test_x, test.data.reshape(-1, 784))
    assert torch.equal(data.test_y, test.targets)
    train = MNIST(str(mnist_root), train=True, download=False)
    assert sorted(data.train_y.tolist()) == sorted(train.targets.tolist())
    assert data.train_x.dtype == torch.uint8 and data.train_x.shape == (60000, 784)


def test_loading_present_data_does_not_import_torchvision(mnist_root):
    """torchvision costs 170 MB and over a second to import; it is only needed to download."""
    import subprocess
    import sys

    code = (
        "import sys, torch\n"
        "from mlp_tui.engine.data import load_dataset\n"
        f"load_dataset('mnist', {str(mnist_root)!r}, val_split=0.1, seed=0, device=torch.device('cpu'), "
        "download=False)\n"
        "print('torchvision' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_tiny_preset_reaches_90_percent_on_real_mnist_in_one_epoch(mnist_root):
    config = dataclasses.replace(resolve_preset("tiny").config, epochs=1, device="cpu")
    data = load_dataset("mnist", mnist_root, val_split=config.val_split, seed=config.seed, device=CPU, download=False)
    assert (len(data.train_x), len(data.val_x), len(data.test_x)) == (54000, 6000, 10000)
    assert data.train_x.dtype == torch.uint8 and data.train_x.shape[1] == 784
    result = Trainer(config, data, CPU).run()
    assert isinstance(result, RunFinished) and result.status == "completed"
    assert result.test_accuracy is not None and result.test_accuracy >= 0.90, (
        f"test accuracy {result.test_accuracy:.2%}"
    )


def test_augmentation_moves_digits_but_keeps_them_digits():
    """On-the-fly distortions (the `augment` setting): off at 0, different every draw, the same
    for the same seed, and the ink stays roughly the same amount and inside the frame."""
    import torch

    from mlp_tui.engine.augment import augment_batch

    x = torch.zeros(64, 784, dtype=torch.uint8)
    x.view(64, 28, 28)[:, 8:20, 11:17] = 255  # a bar in the middle of each image
    assert torch.allclose(augment_batch(x, 0.0), x.float(), atol=1e-3)
    torch.manual_seed(1)
    a = augment_batch(x, 1.0)
    torch.manual_seed(1)
    assert torch.equal(augment_batch(x, 1.0), a)
    assert not torch.allclose(a, x.float())
    assert len({tuple(row.round().tolist()) for row in a}) == 64  # each image its own distortion
    ink = a.sum(1) / x.float().sum(1)
    assert ((ink > 0.6) & (ink < 1.5)).all()
    border = a.view(64, 28, 28)[:, [0, -1], :].sum() + a.view(64, 28, 28)[:, :, [0, -1]].sum()
    assert border == 0


def test_distortion_grid_is_the_one_affine_grid_and_interpolate_would_build():
    """augment_batch builds grid_sample's grid with one matmul instead of affine_grid and a
    bicubic interpolation of the elastic field."""
    from mlp_tui.engine.augment import sampling_grid

    gen = torch.Generator().manual_seed(0)
    theta, coarse = torch.randn(5, 2, 3, generator=gen), torch.randn(5, 2, 7, 7, generator=gen) * 0.1
    affine = torch.nn.functional.affine_grid(theta, [5, 1, 28, 28], align_corners=False)
    assert torch.allclose(sampling_grid(theta), affine, atol=1e-5)
    field = torch.nn.functional.interpolate(coarse, size=(28, 28), mode="bicubic", align_corners=True)
    assert torch.allclose(sampling_grid(theta, coarse), affine + field.permute(0, 2, 3, 1), atol=1e-5)


def test_augment_strength_is_validated():
    from mlp_tui.core.config import ConfigError, build_config

    assert build_config({"augment": 0.5}).augment == 0.5
    with pytest.raises(ConfigError, match="augment"):
        build_config({"augment": 1.5})
