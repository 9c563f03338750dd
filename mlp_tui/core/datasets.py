"""The MNIST-format datasets mlp-tui trains on: where torchvision keeps each one, its class names.

Torch-free, so the config, the command line and every view can name classes without loading
anything heavy.
"""

from __future__ import annotations

from dataclasses import dataclass

# The same four IDX files in every dataset of the family, in torchvision's layout
# <root>/<folder>/raw/<name> (or <name>.gz).
TRAIN_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
IDX_FILES = TRAIN_FILES + TEST_FILES
SPLIT_FILES = {"train": TRAIN_FILES, "test": TEST_FILES}

DIGITS = tuple("0123456789")


# The distortions `--augment` and `--elastic` can apply; each dataset names those that make
# training pictures its test set could contain (a rotated shirt is not one, a mirrored one is).
DISTORTIONS = ("rotate", "scale", "shift", "elastic", "flip")
HANDWRITING = ("rotate", "scale", "shift", "elastic")
# How a dataset's pictures were made, which `predict` and the Draw tab repeat for a new picture:
# "box": the ink scaled into a 20 px box and centred by mass in 28x28 (MNIST's digits, KMNIST's
# kana); "fill": the object scaled to fill the 28x28 frame (Fashion-MNIST's product photos).
FRAMINGS = ("box", "fill")


@dataclass(frozen=True)
class DatasetInfo:
    key: str  # what --dataset and the preset key take
    title: str  # how people write it
    folder: str  # torchvision's dataset class, which is also its folder under the data root
    classes: tuple[str, ...]
    home: str  # where to fetch the files by hand
    distortions: tuple[str, ...] = HANDWRITING  # of DISTORTIONS
    framing: str = "box"  # of FRAMINGS

    @property
    def raw_folder(self) -> str:
        return f"{self.folder}/raw"


DATASETS = {
    d.key: d
    for d in (
        DatasetInfo("mnist", "MNIST", "MNIST", DIGITS, "https://ossci-datasets.s3.amazonaws.com/mnist/"),
        DatasetInfo(
            "fashion-mnist",
            "Fashion-MNIST",
            "FashionMNIST",
            ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
            "https://github.com/zalandoresearch/fashion-mnist",
            distortions=("flip", "shift"),  # photos of upright products: mirrored or moved, never turned or bent
            framing="fill",
        ),
        DatasetInfo(
            "kmnist",
            "KMNIST",
            "KMNIST",
            ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),  # romanised hiragana
            "https://github.com/rois-codh/kmnist",
        ),
    )
}
DATASET_NAMES = tuple(DATASETS)


def dataset_info(key: str) -> DatasetInfo:
    return DATASETS[key]


def distorts(kinds: tuple[str, ...], augment: float, elastic: float) -> bool:
    """Whether `--augment` and `--elastic` change a dataset's pictures at all (elastic bending
    alone does nothing to one that is not bent)."""
    return bool(augment or (elastic and "elastic" in kinds))


def distortion_words(key: str, augment: float, elastic: float, *, detail: bool = False) -> list[str]:
    """What `--augment` and `--elastic` do to this dataset's pictures, in words: `augment 0.5
    (rotate, scale, shift)`, or with `detail` the amounts (`rotate ±7.5°, ...`); elastic bending
    where it fits, else that it is left out."""
    info = DATASETS[key]
    words = []
    if augment:
        amounts = {"rotate": f"rotate ±{15 * augment:g}°", "scale": f"scale ±{15 * augment:g} %",
                   "shift": f"shift ±{3 * augment:g} px", "flip": "half mirrored"}  # fmt: skip
        applied = [amounts[k] if detail else k for k in info.distortions if k in amounts]
        words.append(f"augment {augment:g} ({', '.join(applied)})")
    if elastic:
        fits = "elastic" in info.distortions
        words.append(f"elastic {elastic:g} px" if fits else f"no elastic bending (not for {info.title})")
    return words


def class_label(classes: tuple[str, ...], index: int) -> str:
    """`3` for digits; `3 Dress` where classes have names, so the number and the name agree."""
    name = classes[index]
    return name if name == str(index) else f"{index} {name}"


def class_labels(classes: tuple[str, ...]) -> list[str]:
    """class_label of every class, in label order (a view pads them to the longest)."""
    return [class_label(tuple(classes), c) for c in range(len(classes))]
