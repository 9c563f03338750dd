"""Any picture made like a dataset's own: grey, bright on black, in a 28x28 field.

MNIST's digits (and KMNIST's kana) were scaled to fit a 20x20 box (keeping their aspect ratio,
antialiased) and placed in a 28x28 field so that their centre of mass sits at the centre.
`mnist_like` does the same to a PNG/JPEG or a NumPy array, so a model trained on MNIST sees what
it was trained on; `fill_frame` repeats Fashion-MNIST's recipe instead (see `prepare`).
Imports numpy and Pillow only (both come with torchvision), never torch or a UI library.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

SIDE = 28  # the MNIST field
BOX = 20  # the longer side of the digit inside it
CENTRE = 14.0  # where MNIST's centres of mass lie (row and column, 0-based): 13.99, 14.01 on average
LIGHT_BACKGROUND = 127.0  # border mean above this (0-255): dark ink on light paper, inverted
INK = 0.1  # after stretching to 0..1: pixels above this are ink (the bounding box)
OBJECT = 0.05  # the same for a product photo: Fashion-MNIST trimmed edges within 5 % of the paper
MIN_CONTRAST = 24.0  # brightest pixel minus background (0-255) below this: nothing drawn
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


class ImageError(ValueError):
    """An input image that cannot be used: missing, unreadable, not an image, blank. Exit 2."""


@dataclass(frozen=True)
class Digit:
    """A digit ready for the model, and what was done to get it (for the user)."""

    pixels: bytes  # 28*28 uint8, row-major, bright ink on black
    source_shape: tuple[int, int]  # (height, width) of the input
    inverted: bool  # the input had a light background
    box: tuple[int, int]  # (height, width) of the ink's bounding box in the input
    framing: str = "box"  # of datasets.FRAMINGS: how it was placed in the field

    def describe(self) -> str:
        h, w = self.source_shape
        bh, bw = self.box
        background = "light background, inverted" if self.inverted else "dark background"
        if self.framing == "fill":
            return f"{w}x{h} px, {background}, object {bw}x{bh} px scaled to fill {SIDE}x{SIDE}"
        return f"{w}x{h} px, {background}, ink {bw}x{bh} px scaled to fit {BOX}x{BOX}, centred in {SIDE}x{SIDE}"


def load_digit(path: str | Path, framing: str = "box") -> Digit:
    """Read an image or .npy file and prepare it as `framing` says (see `prepare`). Raises
    ImageError naming the file."""
    path = Path(path)
    grey = read_grey(path)
    return prepare_file(grey, path, framing)


def prepare_file(grey: np.ndarray, path: Path, framing: str = "box") -> Digit:
    """`prepare` for a picture read from `path`: its ImageError names the file."""
    try:
        return prepare(grey, framing)
    except ImageError as exc:
        raise ImageError(f"{path}: {exc}") from None


def prepare(grey: np.ndarray, framing: str = "box") -> Digit:
    """Grey 0-255 image -> 28x28 the way the dataset's pictures were made (DatasetInfo.framing):
    "box" MNIST's and KMNIST's (`mnist_like`), "fill" Fashion-MNIST's (`fill_frame`)."""
    if framing == "fill":
        return fill_frame(grey)
    if framing != "box":
        raise ValueError(f"unknown framing {framing!r}; expected 'box' or 'fill'")
    return mnist_like(grey)


def read_grey(path: Path) -> np.ndarray:
    """The file as a 2-D float array on the 0-255 scale (0 black, 255 white)."""
    if not path.exists():
        raise ImageError(f"{path}: no such file")
    if path.is_dir():
        raise ImageError(f"{path}: is a directory, not an image")
    if path.suffix.lower() == ".npy":
        return _read_npy(path)
    return _read_picture(path)


def _read_npy(path: Path) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ImageError(f"{path}: not a readable NumPy .npy array ({detail})") from None
    if not isinstance(array, np.ndarray):
        raise ImageError(f"{path}: holds several arrays (an .npz archive?); save one 2-D array with numpy.save")
    try:
        return grey_from_array(array)
    except ImageError as exc:
        raise ImageError(f"{path}: {exc}") from None


def grey_from_array(array: np.ndarray) -> np.ndarray:
    """A 2-D array (or 3-D with 1, 3 or 4 channels last) of any numeric type -> grey 0-255 floats.

    Floats within 0..1 and booleans are taken as 0..1; values within 0..255 as they are; any other
    range is stretched linearly from its minimum to its maximum.
    """
    if array.dtype == bool:
        array = array.astype(np.float64)
    elif not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise ImageError(f"array of {array.dtype} values; expected numbers (an image's pixels)")
    if array.ndim == 3 and array.shape[-1] in (1, 3, 4):
        channels = array.shape[-1]
        array = array[..., 0] if channels == 1 else _luminance(array[..., :3].astype(np.float64))
    if array.ndim != 2:
        raise ImageError(
            f"array of shape {tuple(array.shape)}; expected a 2-D image (height, width), "
            "or height x width x 1, 3 or 4 channels"
        )
    if min(array.shape) == 0:
        raise ImageError(f"empty array of shape {tuple(array.shape)}")
    grey = array.astype(np.float64)
    if not np.isfinite(grey).all():
        raise ImageError("the array holds NaN or infinite values")
    low, high = float(grey.min()), float(grey.max())
    if np.issubdtype(array.dtype, np.floating) and low >= 0.0 and high <= 1.0:
        return grey * 255.0
    if low >= 0.0 and high <= 255.0:
        return grey
    return (grey - low) * (255.0 / (high - low)) if high > low else np.zeros_like(grey)


def _luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.array([0.299, 0.587, 0.114])


def _read_picture(path: Path) -> np.ndarray:
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as opened:
            opened.load()
            image = ImageOps.exif_transpose(opened)  # photos from phones carry their rotation
    except UnidentifiedImageError:
        raise ImageError(
            f"{path}: not an image that can be read (expected a PNG or JPEG picture, or a .npy array)"
        ) from None
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageError(f"{path}: cannot read the image ({exc})") from None
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):  # 16-bit or float grey
        try:
            return grey_from_array(np.asarray(image))
        except ImageError as exc:
            raise ImageError(f"{path}: {exc}") from None
    if "A" in image.mode or (image.mode == "P" and "transparency" in image.info):
        return _flatten_alpha(np.asarray(image.convert("RGBA"), dtype=np.float64))
    return np.asarray(image.convert("L"), dtype=np.float64)


def _flatten_alpha(rgba: np.ndarray) -> np.ndarray:
    """Transparent pixels become paper: white under dark ink, black under light ink."""
    grey, alpha = _luminance(rgba[..., :3]), rgba[..., 3] / 255.0
    if alpha.min() >= 1.0:
        return grey
    opaque = alpha > 0.5
    ink_is_light = opaque.any() and float(grey[opaque].mean()) > LIGHT_BACKGROUND
    paper = 0.0 if ink_is_light else 255.0
    return grey * alpha + paper * (1.0 - alpha)


def ink_crop(grey: np.ndarray, what: str = "digit", threshold: float = INK) -> tuple[np.ndarray, bool]:
    """The part of a grey 0-255 image brighter than `threshold` (its bounding box), stretched to
    0..1 (bright on black), and whether it was inverted. Raises ImageError naming `what` when blank."""
    grey = np.asarray(grey, dtype=np.float64)
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    inverted = float(border.mean()) > LIGHT_BACKGROUND
    if inverted:
        grey = 255.0 - grey
        border = 255.0 - border
    # Stretch: the paper (the border's median) to 0, the brightest ink to 1, as in MNIST where
    # strokes reach full white on a black field.
    background = float(np.median(border))
    peak = float(grey.max())
    if peak - background < MIN_CONTRAST:
        raise ImageError(f"the image is blank: no {what} found (nothing stands out from the background)")
    ink = np.clip((grey - background) / (peak - background), 0.0, 1.0)
    rows = np.flatnonzero((ink > threshold).any(axis=1))
    cols = np.flatnonzero((ink > threshold).any(axis=0))
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1], inverted


def scaled(crop: np.ndarray, longer: int) -> np.ndarray:
    """`crop` (0..1) resized so its longer side is `longer` px, aspect kept, antialiased."""
    from PIL import Image

    h, w = crop.shape
    scale = longer / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))  # PIL: (width, height)
    resized = Image.fromarray(crop.astype(np.float32)).resize(size, Image.Resampling.LANCZOS)
    return np.clip(np.asarray(resized, dtype=np.float64), 0.0, 1.0)  # Lanczos rings past 0..1


def mnist_like(grey: np.ndarray) -> Digit:
    """Grey 0-255 image (any size) -> a 28x28 MNIST-style digit. Raises ImageError when blank."""
    crop, inverted = ink_crop(grey)
    h, w = crop.shape
    small = scaled(crop, BOX)
    if small.sum() <= 0:
        raise ImageError("the image is blank: no digit found")
    sh, sw = small.shape
    ys, xs = np.indices(small.shape)
    mass = small.sum()
    cy, cx = (ys * small).sum() / mass, (xs * small).sum() / mass
    # Whole-pixel shift putting the centre of mass at the field's centre; the box stays inside.
    y0 = int(np.clip(round(CENTRE - cy), 0, SIDE - sh))
    x0 = int(np.clip(round(CENTRE - cx), 0, SIDE - sw))
    return _placed(small, y0, x0, grey, inverted, (h, w), "box")


def fill_frame(grey: np.ndarray) -> Digit:
    """Grey 0-255 image (any size) -> 28x28 as Fashion-MNIST's were made from product photos
    (Xiao et al. 2017): trimmed to the object, its longer side scaled to 28 px, the shorter one
    centred, negated so the object is bright on black. No 20 px margin, no centring by mass."""
    crop, inverted = ink_crop(grey, "object", OBJECT)
    h, w = crop.shape
    small = scaled(crop, SIDE)
    if small.sum() <= 0:
        raise ImageError("the image is blank: no object found")
    sh, sw = small.shape
    # An odd margin's extra pixel goes above and to the left, as in Fashion-MNIST's own pictures.
    y0, x0 = (SIDE - sh + 1) // 2, (SIDE - sw + 1) // 2
    return _placed(small, y0, x0, grey, inverted, (h, w), "fill")


def _placed(
    small: np.ndarray, y0: int, x0: int, grey: np.ndarray, inverted: bool, box: tuple[int, int], framing: str
) -> Digit:
    """`small` (0..1) put at row y0, column x0 of a black 28x28 field: the Digit made of `grey`."""
    canvas = np.zeros((SIDE, SIDE))
    canvas[y0 : y0 + small.shape[0], x0 : x0 + small.shape[1]] = small
    pixels = np.round(canvas * 255.0).astype(np.uint8).tobytes()
    shape = np.shape(grey)
    return Digit(pixels, (shape[0], shape[1]), inverted=inverted, box=box, framing=framing)
