"""Reading a checkpoint safely: the format mark every save carries, and the one way a file is
loaded (weights_only: tensors and plain data, never pickled code)."""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

CHECKPOINT_FORMAT = "mlp-tui-checkpoint-1"


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used: missing, damaged, untrusted. Exit 2."""


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load with weights_only=True: tensors and plain data only, never arbitrary pickled code."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's own text advises weights_only=False and carries terminal escape codes: name the
        # offending object instead. "Unsupported operand" means the bytes are not a pickle at all.
        text = str(exc)
        found = re.search(r"GLOBAL ([\w.]+)", text)
        if found or "Unsupported operand" not in text:
            what = f" ({found.group(1)})" if found else ""
            raise CheckpointError(
                f"{path}: refused: it holds pickled objects other than tensors and plain data{what}, "
                "which could run code when loaded"
            ) from None
        raise CheckpointError(f"{path}: not a readable checkpoint (damaged, or not a PyTorch file)") from None
    except Exception as exc:
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise CheckpointError(f"{path}: not a readable checkpoint ({detail})") from None
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not an mlp-tui checkpoint")
    return data
