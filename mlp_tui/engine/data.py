"""MNIST-format datasets as uint8 tensors that live on the training device.

The IDX files are found in torchvision's layout (downloaded by torchvision when missing), read by
content (`idx`), and kept as one tensor per split: batches are index slices, standardised inside
the model with the training images' own pixel statistics. No DataLoader, no per-sample work.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from mlp_tui.core.datasets import DATASETS, IDX_FILES, SPLIT_FILES, DatasetInfo, dataset_info
from mlp_tui.core.errors import DataError
from mlp_tui.engine.idx import IdxArray, IdxError, check_labels, check_pair, read_idx
from mlp_tui.engine.pixel_stats import cached_pixel_stats, pixel_stats
from mlp_tui.engine.splits import split_indices, test_holdout, test_part, train_holdout

DATA_ENV = "MLP_TUI_DATA"


@dataclass
class Dataset:
    """Images as flat uint8 rows (N, 784) and int64 labels, all on one device, and the pixel
    mean and standard deviation (of x / 255) of the training images."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    mean: float
    std: float
    name: str = "MNIST"

    def to(self, device: torch.device) -> Dataset:
        moved = {k: getattr(self, k).to(device) for k in ("train_x", "train_y", "val_x", "val_y", "test_x", "test_y")}
        return Dataset(**moved, mean=self.mean, std=self.std, name=self.name)


# -- where the files are -------------------------------------------------------------------------


def default_data_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("mlp-tui")) / "datasets"


def resolve_data_dir(data_dir: str | Path | None) -> Path:
    """--data-dir, else $MLP_TUI_DATA, else the per-user cache. A dataset's own folder
    (.../MNIST, .../FashionMNIST/raw) is taken to mean the folder above it."""
    if data_dir is None or str(data_dir) == "":
        env = os.environ.get(DATA_ENV)
        data_dir = env if env else default_data_dir()
    path = Path(data_dir).expanduser()
    folders = {d.folder for d in DATASETS.values()}
    if path.name == "raw" and path.parent.name in folders:
        path = path.parent.parent
    elif path.name in folders and (path / "raw").is_dir():
        path = path.parent
    return path


def where_to_put(info: DatasetInfo, root: Path) -> str:
    return (
        f"Put the four {info.title} files ({', '.join(IDX_FILES)}; plain or gzipped, from {info.home}) in "
        f"{root / info.raw_folder}, or point --data-dir or ${DATA_ENV} at a folder that holds {info.raw_folder}/."
    )


def find_file(raw: Path, name: str) -> Path | None:
    """The file itself, else its gzip archive (whatever made it: the content decides)."""
    for candidate in (raw / name, raw / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def locate_files(info: DatasetInfo, root: Path, names: tuple[str, ...]) -> dict[str, Path | None]:
    """Where each of the files `names` of a dataset is under root (None: missing)."""
    raw = root / info.raw_folder
    for folder in (root, root / info.folder, raw):
        if folder.exists() and not folder.is_dir():
            raise DataError(
                f"{folder}: is a file, not a folder. Point --data-dir or ${DATA_ENV} at a folder that holds "
                f"{info.raw_folder}/ (or at an empty folder to download {info.title} into)."
            )
    return {name: find_file(raw, name) for name in names}


def _download(info: DatasetInfo, root: Path, missing: list[str]) -> None:
    """Fetch the missing files with torchvision's downloader and mirrors (the files already
    there are left alone, whatever compressed them)."""
    import torchvision.datasets
    from torchvision.datasets.utils import download_and_extract_archive

    raw = root / info.raw_folder
    source = getattr(torchvision.datasets, info.folder)
    for name in missing:
        archive = f"{name}.gz"
        errors = []
        for mirror in source.mirrors:
            try:
                raw.mkdir(parents=True, exist_ok=True)
                # No checksum: the content is checked when the file is read, as for any copy.
                download_and_extract_archive(f"{mirror}{archive}", download_root=str(raw), filename=archive, md5=None)
                break
            except Exception as exc:  # offline (URLError), HTTP errors, an unwritable folder...
                errors.append(f"{mirror}: {str(exc).strip() or type(exc).__name__}")
        else:
            raise DataError(
                f"{info.title} files missing from {raw}: {', '.join(missing)}; downloading {archive} failed "
                f"({'; '.join(errors)}). If this machine is offline, copy the files from a machine that has "
                "them. " + where_to_put(info, root)
            )


# -- reading ---------------------------------------------------------------------------------------


def _read_file(path: Path, name: str) -> IdxArray:
    try:
        return read_idx(path, 3 if "images" in name else 1)
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except MemoryError:
        raise DataError(f"{path}: too large to hold in memory") from None


def _split_tensors(info: DatasetInfo, files: dict[str, IdxArray], split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(images as (N, 784) uint8 rows, uint8 labels) of "train" or "test", the pair checked."""
    images, labels = (files[name] for name in SPLIT_FILES[split])
    check_pair(images, labels)
    if not len(images):
        raise IdxError(images.path, "count", "the file holds no images")
    check_labels(labels, len(info.classes))
    x = torch.frombuffer(images.body, dtype=torch.uint8).view(-1, 28 * 28)
    return x, torch.frombuffer(labels.body, dtype=torch.uint8)


def _read(
    dataset: str, data_dir: str | Path | None, download: bool, splits: tuple[str, ...]
) -> tuple[DatasetInfo, dict[str, Path], list[tuple[torch.Tensor, torch.Tensor]]]:
    """The splits' tensors and the files they came from. The files that are there are read and
    checked first, so a damaged one is named before any download is tried."""
    info = dataset_info(dataset)
    root = resolve_data_dir(data_dir)
    raw = root / info.raw_folder
    names = tuple(name for split in splits for name in SPLIT_FILES[split])
    paths = locate_files(info, root, names)
    try:
        arrays = {name: _read_file(path, name) for name, path in paths.items() if path is not None}
        missing = [name for name in names if name not in arrays]
        if missing and not download:
            raise DataError(f"{info.title} files missing from {raw}: {', '.join(missing)}. " + where_to_put(info, root))
        if missing:
            _download(info, root, missing)
            for name in missing:
                path = find_file(raw, name)
                if path is None:
                    raise DataError(f"downloading left {name} missing from {raw}. " + where_to_put(info, root))
                arrays[name] = _read_file(path, name)
        tensors = [_split_tensors(info, arrays, split) for split in splits]
    except IdxError as exc:
        raise DataError(
            f"{exc}. Replace the file (or delete it to download it again). " + where_to_put(info, root)
        ) from None
    return info, {name: array.path for name, array in arrays.items()}, tensors


def ensure_dataset(dataset: str, data_dir: str | Path | None) -> None:
    """Have the dataset's files on disk and valid (downloading what is missing), or raise
    DataError: a comparison checks this once, before its workers start, so they never race to
    download the same files and a missing dataset stops it before anything trains."""
    _read(dataset, data_dir, True, ("train", "test"))


def load_dataset(
    dataset: str,
    data_dir: str | Path | None,
    *,
    val_split: float,
    seed: int,
    device: torch.device,
    subset: int = 0,
    download: bool = True,
    val_from: str = "train",
) -> Dataset:
    info, files, [(train_x, train_y), (test_x, test_y)] = _read(dataset, data_dir, download, ("train", "test"))
    stats = cached_pixel_stats(files[SPLIT_FILES["train"][0]], train_x)
    return split_dataset(
        train_x, train_y, test_x, test_y, val_split=val_split, seed=seed, device=device, subset=subset,
        name=info.title, stats=stats, val_from=val_from,
    )  # fmt: skip


def load_test_split(
    dataset: str,
    data_dir: str | Path | None,
    *,
    device: torch.device,
    val_from: str = "train",
    val_split: float = 0.0,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The test images (uint8 rows) and labels a run with these settings is tested on, on
    `device`, without reading the training set: with `val_from="test"`, what its validation
    images leave of the test split."""
    _, _, [(x, y)] = _read(dataset, data_dir, True, ("test",))
    x, y = test_part(x, y, val_from=val_from, val_split=val_split, seed=seed)
    return x.to(device), y.long().to(device)


def load_train_split(
    dataset: str,
    data_dir: str | Path | None,
    *,
    val_split: float,
    seed: int,
    subset: int = 0,
    device: torch.device | None = None,
    val_from: str = "train",
) -> tuple[torch.Tensor, torch.Tensor]:
    """The images (uint8 rows) and labels a run with these settings trains on: the training file
    less the validation images the seed holds out (and only `subset` of them, if given)."""
    _, _, [(x, y)] = _read(dataset, data_dir, True, ("train",))
    train_idx, _ = split_indices(len(x), train_holdout(val_from, val_split), seed, subset)
    x, y = x[train_idx].contiguous(), y[train_idx].long()
    return (x, y) if device is None else (x.to(device), y.to(device))


def load_val_split(
    dataset: str, data_dir: str | Path | None, *, val_split: float, seed: int, val_from: str = "train"
) -> tuple[torch.Tensor, torch.Tensor]:
    """The validation images (uint8 rows, on the CPU) and labels of a run with these settings:
    what the seed holds out of the training file (or of the test file, `val_from="test"`)."""
    _, _, [(x, y)] = _read(dataset, data_dir, True, (val_from,))
    holdout = test_holdout if val_from == "test" else split_indices
    _, val_idx = holdout(len(x), val_split, seed)
    return x[val_idx].contiguous(), y[val_idx].long()


def split_dataset(
    x: torch.Tensor,
    y: torch.Tensor,
    test_x: torch.Tensor,
    test_y: torch.Tensor,
    *,
    val_split: float,
    seed: int,
    device: torch.device,
    subset: int = 0,
    name: str = "MNIST",
    stats: tuple[float, float] | None = None,
    val_from: str = "train",
) -> Dataset:
    """Carve a validation set from the training images (or, with `val_from="test"`, from the test
    images, leaving the rest as the test set), reproducibly from the seed. The pixel statistics
    are those of all the training images x (worked out here unless given)."""
    mean, std = stats or pixel_stats(x)
    train_idx, val_idx = split_indices(len(x), train_holdout(val_from, val_split), seed, subset)
    val_x, val_y = x[val_idx], y[val_idx]
    if val_from == "test":
        _, val_idx = test_holdout(len(test_x), val_split, seed)
        val_x, val_y = test_x[val_idx], test_y[val_idx]
        test_x, test_y = test_part(test_x, test_y, val_from=val_from, val_split=val_split, seed=seed)
    return Dataset(
        train_x=x[train_idx].contiguous(), train_y=y[train_idx].long(), val_x=val_x.contiguous(), val_y=val_y.long(),
        test_x=test_x.contiguous(), test_y=test_y.long(), mean=mean, std=std, name=name,
    ).to(device)  # fmt: skip


def synthetic_digits(
    n_train: int = 2000, n_test: int = 500, seed: int = 0, noise: float = 60.0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A small learnable stand-in for MNIST: each class is a fixed random 28x28 pattern plus noise.

    Returns (x, y, test_x, test_y) as uint8 rows and int64 labels, like MNIST's tensors.
    """
    gen = torch.Generator().manual_seed(seed)
    prototypes = (torch.rand(10, 784, generator=gen) > 0.7).float() * 200.0

    def make(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        labels = torch.randint(0, 10, (n,), generator=gen)
        pixels = prototypes[labels] + torch.randn(n, 784, generator=gen) * noise
        return pixels.clamp_(0, 255).to(torch.uint8), labels

    x, y = make(n_train)
    tx, ty = make(n_test)
    return x, y, tx, ty
