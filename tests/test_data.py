"""The data: found where the user said, problems named precisely, and one real MNIST run."""

from __future__ import annotations

import dataclasses
import shutil
import urllib.error
import urllib.request

import pytest
import torch

from mlp_tui.config import resolve_preset
from mlp_tui.data import MNIST_FILES, DataError, ensure_mnist, load_mnist, resolve_data_dir
from mlp_tui.engine import Trainer
from mlp_tui.events import RunFinished

CPU = torch.device("cpu")


def test_missing_files_without_download_name_them_and_where_to_put_them(tmp_path):
    with pytest.raises(DataError) as info:
        ensure_mnist(tmp_path, download=False)
    message = str(info.value)
    for name in MNIST_FILES:
        assert name in message
    assert str(tmp_path / "MNIST" / "raw") in message
    assert "--data-dir" in message and "$MLP_TUI_DATA" in message


def test_failed_download_says_why(tmp_path, monkeypatch):
    """Offline: torchvision's own download path fails; the message keeps the network error."""

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(DataError) as info:
        ensure_mnist(tmp_path, download=True)
    message = str(info.value)
    assert "downloading them failed" in message
    assert "Name or service not known" in message
    assert "offline" in message
    assert "train-images-idx3-ubyte" in message
    assert str(tmp_path / "MNIST" / "raw") in message


def copy_with_one_damaged(mnist_root, tmp_path, damaged_name, damage):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in MNIST_FILES:
        if name != damaged_name:
            (raw / name).symlink_to(mnist_root / "MNIST" / "raw" / name)
    shutil.copyfile(mnist_root / "MNIST" / "raw" / damaged_name, raw / damaged_name)
    damage(raw / damaged_name)
    return raw / damaged_name


def test_truncated_file_is_reported_as_damaged_by_name(tmp_path, mnist_root):
    def truncate(path):
        with open(path, "r+b") as f:
            f.truncate(4096)

    damaged = copy_with_one_damaged(mnist_root, tmp_path, "t10k-images-idx3-ubyte", truncate)
    with pytest.raises(DataError) as info:
        ensure_mnist(tmp_path, download=True)  # damaged files are reported, not downloaded over
    message = str(info.value)
    assert str(damaged) in message
    assert "4096 bytes" in message and "truncated or damaged" in message
    assert "train-images-idx3-ubyte" not in message.split("\n")[1], "only the damaged file is blamed"


def test_file_that_is_not_idx_is_reported(tmp_path, mnist_root):
    def overwrite_header(path):
        with open(path, "r+b") as f:
            f.write(b"GIF8")

    damaged = copy_with_one_damaged(mnist_root, tmp_path, "train-labels-idx1-ubyte", overwrite_header)
    with pytest.raises(DataError) as info:
        ensure_mnist(tmp_path, download=False)
    assert str(damaged) in str(info.value)
    assert "not an MNIST IDX file" in str(info.value)


def test_data_dir_may_point_at_the_mnist_or_raw_folder(mnist_root):
    assert resolve_data_dir(mnist_root / "MNIST") == mnist_root
    assert resolve_data_dir(mnist_root / "MNIST" / "raw") == mnist_root
    assert ensure_mnist(resolve_data_dir(mnist_root / "MNIST" / "raw"), download=False) == mnist_root / "MNIST" / "raw"


def test_data_dir_defaults_to_the_environment_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("MLP_TUI_DATA", str(tmp_path))
    assert resolve_data_dir(None) == tmp_path


def test_images_and_labels_read_as_torchvision_reads_them(mnist_root):
    """The IDX files are read without torchvision; the pixels and labels must be its own."""
    from torchvision.datasets import MNIST

    data = load_mnist(mnist_root, val_split=0.0, seed=0, device=CPU, download=False)
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
        "from mlp_tui.data import load_mnist\n"
        f"load_mnist({str(mnist_root)!r}, val_split=0.1, seed=0, device=torch.device('cpu'), download=False)\n"
        "print('torchvision' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_tiny_preset_reaches_90_percent_on_real_mnist_in_one_epoch(mnist_root):
    config = dataclasses.replace(resolve_preset("tiny").config, epochs=1, device="cpu")
    data = load_mnist(mnist_root, val_split=config.val_split, seed=config.seed, device=CPU, download=False)
    assert (len(data.train_x), len(data.val_x), len(data.test_x)) == (54000, 6000, 10000)
    assert data.train_x.dtype == torch.uint8 and data.train_x.shape[1] == 784
    result = Trainer(config, data, CPU).run()
    assert isinstance(result, RunFinished) and result.status == "completed"
    assert result.test_accuracy >= 0.90, f"test accuracy {result.test_accuracy:.2%}"


def test_augmentation_moves_digits_but_keeps_them_digits():
    """On-the-fly distortions (the `augment` setting): off at 0, different every draw, the same
    for the same seed, and the ink stays roughly the same amount and inside the frame."""
    import torch

    from mlp_tui.data import augment_batch

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
    from mlp_tui.data import sampling_grid

    gen = torch.Generator().manual_seed(0)
    theta, coarse = torch.randn(5, 2, 3, generator=gen), torch.randn(5, 2, 7, 7, generator=gen) * 0.1
    affine = torch.nn.functional.affine_grid(theta, [5, 1, 28, 28], align_corners=False)
    assert torch.allclose(sampling_grid(theta), affine, atol=1e-5)
    field = torch.nn.functional.interpolate(coarse, size=(28, 28), mode="bicubic", align_corners=True)
    assert torch.allclose(sampling_grid(theta, coarse), affine + field.permute(0, 2, 3, 1), atol=1e-5)


def test_augment_strength_is_validated():
    from mlp_tui.config import ConfigError, build_config

    assert build_config({"augment": 0.5}).augment == 0.5
    with pytest.raises(ConfigError, match="augment"):
        build_config({"augment": 1.5})
