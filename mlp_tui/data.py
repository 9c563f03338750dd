"""MNIST as uint8 tensors that live on the training device.

torchvision downloads the files; we check them so a missing or damaged file gets a message naming
it, read the four IDX files straight into tensors, then keep the whole set as one tensor per split
(batches are index slices, normalised on the fly: no DataLoader, no per-sample transforms).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from .errors import DataError

DATA_ENV = "MLP_TUI_DATA"
MEAN, STD = 0.1307, 0.3081  # MNIST training-set pixel statistics (of x / 255)

# name -> (IDX magic number, exact size in bytes)
MNIST_FILES = {
    "train-images-idx3-ubyte": (2051, 16 + 60000 * 28 * 28),
    "train-labels-idx1-ubyte": (2049, 8 + 60000),
    "t10k-images-idx3-ubyte": (2051, 16 + 10000 * 28 * 28),
    "t10k-labels-idx1-ubyte": (2049, 8 + 10000),
}




@dataclass
class Dataset:
    """Images as flat uint8 rows (N, 784) and int64 labels, all on one device."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    name: str = "MNIST"

    def to(self, device: torch.device) -> "Dataset":
        moved = {k: getattr(self, k).to(device) for k in ("train_x", "train_y", "val_x", "val_y", "test_x", "test_y")}
        return Dataset(**moved, name=self.name)


def normalize(x: torch.Tensor) -> torch.Tensor:
    """uint8 pixels -> standardised float32, one fused-ish pass over the batch."""
    return x.float().mul_(1.0 / (255.0 * STD)).sub_(MEAN / STD)


def augment_batch(x: torch.Tensor, strength: float, elastic: float = 0.0) -> torch.Tensor:
    """Random distortions of a batch of uint8 rows, on the batch's device, in one grid_sample
    call: rotation up to 15 deg, scale up to 15 %, shift up to 3 px, times `strength`; then, if
    `elastic` > 0, a smooth random displacement of up to `elastic` pixels (Simard et al. 2003:
    random offsets on a coarse 7x7 lattice, interpolated bicubically over the image). Returns
    float rows on the 0..255 scale, ready for `normalize`."""
    n = x.shape[0]
    images = x.view(n, 1, 28, 28).float()
    r = torch.rand(n, 4, device=x.device).mul_(2).sub_(1).mul_(strength)  # uniform in [-s, s]
    angle = r[:, 0] * math.radians(15)
    scale = 1 + 0.15 * r[:, 1]
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    shift = r[:, 2:] * (3 * 2 / 28)  # grid coordinates span 2 over 28 pixels
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    coarse = None
    if elastic:
        coarse = torch.rand(n, 2, 7, 7, device=x.device).mul_(2 * elastic * 2 / 28).sub_(elastic * 2 / 28)
    grid = sampling_grid(theta, coarse)
    return torch.nn.functional.grid_sample(images, grid, align_corners=False).view(n, 784)


def sampling_grid(theta: torch.Tensor, coarse: torch.Tensor | None = None) -> torch.Tensor:
    """grid_sample's grid (n, 28, 28, 2) for the affine maps theta (n, 2, 3), plus, if given, a
    displacement field set on a 7x7 lattice (n, 2, 7, 7) and interpolated bicubically.

    The same as F.affine_grid(theta, (n, 1, 28, 28), align_corners=False) + F.interpolate(coarse,
    (28, 28), mode="bicubic", align_corners=True), but both are linear in their inputs, so the
    whole grid is one (784 x 52) @ (52 x 2n) product. On the CPU affine_grid runs n tiny
    batched matmuls and bicubic interpolation is slower still: together they cost more than
    the training step they feed."""
    n = theta.shape[0]
    rows = theta.reshape(n * 2, 3)  # per image: the x row, then the y row
    basis = _grid_basis(theta.device)
    if coarse is None:
        basis = basis[:, :3]
    else:
        rows = torch.cat([rows, coarse.reshape(n * 2, 49)], 1)
    return (basis @ rows.T).view(784, n, 2).transpose(0, 1).reshape(n, 28, 28, 2)


_GRID_BASES: dict[torch.device, torch.Tensor] = {}


def _grid_basis(device: torch.device) -> torch.Tensor:
    """(784, 3 + 49): each pixel centre's (x, y, 1) in grid_sample's [-1, 1] coordinates
    (align_corners=False), then its bicubic weights on the 7x7 lattice."""
    if device not in _GRID_BASES:
        centres = (torch.arange(28, dtype=torch.float32) * 2 + 1) / 28 - 1
        ys, xs = torch.meshgrid(centres, centres, indexing="ij")
        lattice = torch.eye(49).view(49, 1, 7, 7)
        weights = torch.nn.functional.interpolate(lattice, size=(28, 28), mode="bicubic", align_corners=True)
        basis = torch.cat([torch.stack([xs.reshape(-1), ys.reshape(-1), torch.ones(784)], 1), weights.view(49, 784).T], 1)
        _GRID_BASES[device] = basis.to(device)
    return _GRID_BASES[device]


def default_data_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("mlp-tui")) / "datasets"


def resolve_data_dir(data_dir: str | Path | None) -> Path:
    """--data-dir, else $MLP_TUI_DATA, else the per-user cache. Accepts .../MNIST or .../MNIST/raw too."""
    if data_dir is None or str(data_dir) == "":
        env = os.environ.get(DATA_ENV)
        data_dir = env if env else default_data_dir()
    path = Path(data_dir).expanduser()
    if path.name == "raw" and path.parent.name == "MNIST":
        path = path.parent.parent
    elif path.name == "MNIST" and (path / "raw").is_dir():
        path = path.parent
    return path


def check_files(raw: Path) -> tuple[list[str], list[str]]:
    """Return (missing file names, problems with files that exist)."""
    missing, problems = [], []
    for name, (magic, size) in MNIST_FILES.items():
        path = raw / name
        if not path.exists():
            missing.append(name)
            continue
        try:
            actual = path.stat().st_size
            with open(path, "rb") as f:
                head = f.read(16)
        except OSError as exc:
            problems.append(f"{path}: cannot be read ({exc.strerror})")
            continue
        if int.from_bytes(head[:4], "big") != magic:
            problems.append(f"{path}: not an MNIST IDX file (wrong magic number)")
        elif actual != size:
            problems.append(f"{path}: {actual} bytes, expected {size} (truncated or damaged)")
        elif (dims := _idx_dims(head, magic)) != (expected := _expected_dims(magic, size)):
            # Right size, but the header disagrees (e.g. a label count that does not match the
            # images): reading it would fail with a bare shape error that names no file.
            problems.append(
                f"{path}: header gives dimensions {'x'.join(map(str, dims))}, expected "
                f"{'x'.join(map(str, expected))} (damaged)"
            )
    return missing, problems


def _idx_dims(head: bytes, magic: int) -> tuple[int, ...]:
    """The dimensions an IDX header declares: magic's low byte is how many there are."""
    ndim = magic & 0xFF
    return tuple(int.from_bytes(head[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))


def _expected_dims(magic: int, size: int) -> tuple[int, ...]:
    if magic & 0xFF == 1:  # labels: one byte each after an 8-byte header
        return (size - 8,)
    return ((size - 16) // (28 * 28), 28, 28)


def _where_to_put(root: Path) -> str:
    return (
        f"Put the four MNIST files ({', '.join(MNIST_FILES)}, or their .gz archives) in "
        f"{root / 'MNIST' / 'raw'}, or point --data-dir or ${DATA_ENV} at a folder that holds MNIST/raw/."
    )


def ensure_mnist(root: Path, download: bool = True) -> Path:
    """Make sure the four IDX files are present and sound under root/MNIST/raw; download if allowed."""
    raw = root / "MNIST" / "raw"
    for folder in (root, root / "MNIST", raw):
        if folder.exists() and not folder.is_dir():
            raise DataError(
                f"{folder}: is a file, not a folder. Point --data-dir or ${DATA_ENV} at a folder that holds "
                "MNIST/raw/ (or at an empty folder to download MNIST into)."
            )
    missing, problems = check_files(raw)
    if problems:
        raise DataError(
            "MNIST files are damaged:\n  " + "\n  ".join(problems) + "\nDelete them to download again. " + _where_to_put(root)
        )
    if not missing:
        return raw
    if not download:
        raise DataError(f"MNIST files missing from {raw}: {', '.join(missing)}. " + _where_to_put(root))
    from torchvision.datasets import MNIST

    try:
        MNIST(root=str(root), train=True, download=True)
    except Exception as exc:  # offline (URLError), bad checksum, unwritable folder...
        # torchvision's message is "Error downloading <file>:" then one "Tried <mirror>, got:
        # <error>" pair per mirror: keep the first line and the last error, which says why.
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        reason = lines[0] if lines else type(exc).__name__
        if reason.endswith(":") and len(lines) > 1:
            reason = f"{reason} {lines[-1]}"
        raise DataError(
            f"MNIST files missing from {raw}: {', '.join(missing)}; downloading them failed ({reason}). "
            "If this machine is offline, copy the files from a machine that has them. " + _where_to_put(root)
        ) from None
    missing, problems = check_files(raw)
    if missing or problems:
        raise DataError(
            f"MNIST download left {raw} incomplete: {', '.join(missing + problems)}. " + _where_to_put(root)
        )
    return raw


def read_idx(path: Path) -> torch.Tensor:
    """An IDX file (already checked by `check_files`) as a uint8 tensor of its declared shape.

    Reading the bytes directly keeps torchvision (170 MB of memory and 1.5 s of imports) out of
    every run; it is imported only to download."""
    data = bytearray(path.read_bytes())  # writable, so the tensor owns ordinary memory
    magic = int.from_bytes(data[:4], "big")
    dims = _idx_dims(bytes(data[: 4 + 4 * (magic & 0xFF)]), magic)
    offset = 4 + 4 * len(dims)
    return torch.frombuffer(data, dtype=torch.uint8, offset=offset).view(dims)


def load_mnist(
    data_dir: str | Path | None,
    *,
    val_split: float,
    seed: int,
    device: torch.device,
    subset: int = 0,
    download: bool = True,
) -> Dataset:
    (train_x, train_y), (test_x, test_y) = _read_splits(data_dir, download, "train", "t10k")
    return split_dataset(
        train_x, train_y, test_x, test_y, val_split=val_split, seed=seed, device=device, subset=subset
    )


def load_mnist_test(data_dir: str | Path | None, *, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The 10k test images (uint8 rows) and labels on `device`, without reading the training set."""
    [(x, y)] = _read_splits(data_dir, True, "t10k")
    return x.to(device), y.long().to(device)


def _read_splits(data_dir: str | Path | None, download: bool, *prefixes: str) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(images as (N, 784) uint8 rows, uint8 labels) of each split ("train", "t10k"), checked first."""
    root = resolve_data_dir(data_dir)
    raw = ensure_mnist(root, download=download)
    try:
        return [
            (read_idx(raw / f"{p}-images-idx3-ubyte").view(-1, 784), read_idx(raw / f"{p}-labels-idx1-ubyte"))
            for p in prefixes
        ]
    except OSError as exc:
        raise DataError(f"cannot read MNIST from {raw}: {exc}. " + _where_to_put(root)) from None


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
) -> Dataset:
    """Carve a validation set from the training images, reproducibly from the seed."""
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    n_val = int(round(len(x) * val_split))
    val_idx, train_idx = order[:n_val], order[n_val:]
    if subset:
        train_idx = train_idx[:subset]
    return Dataset(
        train_x=x[train_idx].contiguous(),
        train_y=y[train_idx].long(),
        val_x=x[val_idx].contiguous(),
        val_y=y[val_idx].long(),
        test_x=test_x.contiguous(),
        test_y=test_y.long(),
        name=name,
    ).to(device)


def synthetic_digits(n_train: int = 2000, n_test: int = 500, seed: int = 0, noise: float = 60.0):
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
