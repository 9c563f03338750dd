"""Distortions of training pictures on the device: random rotation, scale, shift, mirroring and
elastic bending, for a whole batch in one grid_sample call (no per-sample transforms in the hot
loop). Each dataset names the ones that fit it (core/datasets.py)."""

from __future__ import annotations

import math

import torch

from mlp_tui.core.datasets import HANDWRITING


def augment_batch(
    x: torch.Tensor,
    strength: float,
    elastic: float = 0.0,
    generator: torch.Generator | None = None,
    kinds: tuple[str, ...] = HANDWRITING,
) -> torch.Tensor:
    """Random distortions of a batch of uint8 rows, on the batch's device, in one grid_sample
    call, those of `kinds` only: rotation up to 15 deg, scale up to 15 %, shift up to 3 px, times
    `strength`; a mirror image for half of the batch ("flip"); then, if `elastic` > 0, a smooth
    random displacement of up to `elastic` pixels (Simard et al. 2003: random offsets on a coarse
    7x7 lattice, interpolated bicubically over the image). Returns float rows on the 0..255
    scale, as the model takes them. `generator`: for a picture of the data that the same seed
    draws again (training uses torch's global generator)."""
    n = x.shape[0]
    images = x.view(n, 1, 28, 28).float()
    # The same draws for every dataset (a seed's digits stay as they were), unused ones ignored.
    r = torch.rand(n, 4, device=x.device, generator=generator).mul_(2).sub_(1).mul_(strength)  # uniform in [-s, s]
    angle = r[:, 0] * math.radians(15) if "rotate" in kinds else torch.zeros_like(r[:, 0])
    scale = 1 + 0.15 * r[:, 1] if "scale" in kinds else torch.ones_like(r[:, 1])
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    shift = r[:, 2:] * (3 * 2 / 28) if "shift" in kinds else torch.zeros_like(r[:, 2:])  # 2 grid units: 28 px
    x_cos, x_sin = cos, sin  # the coefficients of the output's x
    if "flip" in kinds and strength:  # x read from -x for half the batch: left and right swap
        mirror = torch.rand(n, device=x.device, generator=generator).lt(0.5).mul(-2).add(1).to(cos.dtype)
        x_cos, x_sin = cos * mirror, sin * mirror
    theta = torch.stack([torch.stack([x_cos, -sin, shift[:, 0]], 1),
                         torch.stack([x_sin, cos, shift[:, 1]], 1)], 1)  # fmt: skip
    coarse = None
    if elastic and "elastic" in kinds:
        coarse = torch.rand(n, 2, 7, 7, device=x.device, generator=generator)
        coarse.mul_(2 * elastic * 2 / 28).sub_(elastic * 2 / 28)
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
        basis = torch.cat(
            [torch.stack([xs.reshape(-1), ys.reshape(-1), torch.ones(784)], 1), weights.view(49, 784).T], 1
        )
        _GRID_BASES[device] = basis.to(device)
    return _GRID_BASES[device]
