"""The MLP built from a RunConfig, with the registries for activations, losses and optimizers."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from mlp_tui.core.architecture import format_rows, rows_from
from mlp_tui.core.config import RunConfig
from mlp_tui.core.errors import DeviceError

ACTIVATION_LAYERS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "leaky_relu": nn.LeakyReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "mish": nn.Mish,
    "identity": nn.Identity,  # no activation: the stacked linear layers compute one linear map
}

N_INPUTS, N_CLASSES = 784, 10
MNIST_STATS = (0.1307, 0.3081)  # MNIST's training pixels (of x / 255): what checkpoints before
# the normalisation moved into the model were trained with
# The fixed normalisations as the (mean, sd) of x / 255 they subtract and divide by: x / 255 for
# "unit", (x / 255 - 0.5) / 0.5 for "half"; "standard" uses the training images' own.
FIXED_STATS = {"unit": (0.0, 1.0), "half": (0.5, 0.5)}


def dropout_mask(x: torch.Tensor, p: float) -> torch.Tensor:
    """A float mask of 0 (probability p) or 1/(1 - p) shaped like x, from 16 random bits per unit.

    On the CPU, PyTorch's random floats cost about 5.5 ns each; filling 64-bit integers and
    reading them as four 16-bit lanes costs a quarter of that, and building the mask with
    float arithmetic avoids mixed bool/float products (20x slower than float ones). p is
    rounded to a multiple of 1/65536 and the scale uses the rounded value, so the expected
    output still equals the input."""
    n = x.numel()
    bits = torch.empty((n + 3) // 4, dtype=torch.int64, device=x.device).random_(-(2**63), None)
    lanes = bits.view(torch.int16)[:n].view(x.shape)  # uniform over -32768..32767
    threshold = min(round(p * 65536), 65535) - 32768  # drop a unit when its lane is below this
    scale = 1.0 / (1.0 - (threshold + 32768) / 65536)
    # lane - threshold + 1 is >= 1 for kept units and <= 0 for dropped ones
    return lanes.to(x.dtype).sub_(threshold - 1).clamp_(0, 1).mul_(scale)


class MLP(nn.Sequential):
    """The layers, after normalising raw 0..255 pixels (uint8 or float): by the training
    images' mean and standard deviation, or to [0,1] or [-1,1] (config.normalize). The scale
    and shift are buffers, so every checkpoint carries the normalisation its weights were
    trained with, and eval and predict apply the same."""

    pixel_scale: torch.Tensor  # buffers (pixel_buffers), declared for the type checker
    pixel_shift: torch.Tensor

    def __init__(self, *layers: nn.Module, stats: tuple[float, float] = MNIST_STATS) -> None:
        super().__init__(*layers)
        for name, value in pixel_buffers(stats).items():
            self.register_buffer(name, value)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(torch.mul(x.float(), self.pixel_scale).sub_(self.pixel_shift))


def pixel_buffers(stats: tuple[float, float]) -> dict[str, torch.Tensor]:
    """(x - 255 mean) / (255 std) as x * scale - shift, for the mean and std of x / 255."""
    mean, std = stats
    return {"pixel_shift": torch.tensor(mean / std), "pixel_scale": torch.tensor(1.0 / (255.0 * std))}


def legacy_state(state: dict[str, Any]) -> dict[str, Any]:
    """The weights of a checkpoint written before the model held its normalisation: MNIST's."""
    return state if "pixel_scale" in state else {**pixel_buffers(MNIST_STATS), **state}


class Dropout(nn.Dropout):
    """nn.Dropout with a faster CPU path (same keep probability and 1/(1 - p) scaling): on the
    CPU dropout was a third of the training step. Other devices keep PyTorch's fused kernel."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0 or x.device.type != "cpu":
            return super().forward(x)
        return x * dropout_mask(x, self.p)  # autograd keeps the mask for the backward pass


def build_model(config: RunConfig, stats: tuple[float, float] = MNIST_STATS) -> MLP:
    """The pixel normalisation (config.normalize; "standard" uses `stats`, the mean and std of
    x / 255), then linear layers (biased unless config.bias is off) with the chosen activation,
    optional batch norm and dropout, and a head that matches the loss: log-probabilities for
    NLL, logits for cross-entropy, probabilities for MSE (compared with one-hot targets)."""
    layers: list[nn.Module] = []
    if config.input_dropout:
        layers.append(Dropout(config.input_dropout))
    width = N_INPUTS
    for size in config.hidden:
        layers.append(nn.Linear(width, size, bias=config.bias))
        if config.batch_norm:
            layers.append(nn.BatchNorm1d(size))
        layers.append(activation_layer(config))
        if config.dropout:
            layers.append(Dropout(config.dropout))
        width = size
    layers.append(nn.Linear(width, N_CLASSES, bias=config.bias))
    if config.loss == "nll":
        layers.append(nn.LogSoftmax(dim=1))
    elif config.loss == "mse":
        layers.append(nn.Softmax(dim=1))
    model = MLP(*layers, stats=FIXED_STATS.get(config.normalize, stats))
    init_weights(model, config)
    return model


def activation_layer(config: RunConfig) -> nn.Module:
    """The hidden layers' activation; `alpha` (when not 0) sets leaky_relu's slope or elu's alpha."""
    if config.alpha and config.activation == "leaky_relu":
        return nn.LeakyReLU(config.alpha)
    if config.alpha and config.activation == "elu":
        return nn.ELU(config.alpha)
    return ACTIVATION_LAYERS[config.activation]()


def init_weights(model: nn.Module, config: RunConfig) -> None:
    if config.init == "default":
        return
    # Kaiming's gain for the activation: leaky_relu's slope, none for identity, ReLU's for the rest.
    nonlinearity: Literal["leaky_relu", "linear", "relu"] = (
        "leaky_relu" if config.activation == "leaky_relu" else "linear" if config.activation == "identity" else "relu"
    )
    # A given slope only: by default a=0 as before (0.01 would move the gain by 0.005 % and change
    # every seeded run's numbers).
    slope = config.alpha if config.activation == "leaky_relu" else 0
    for module in model.modules():
        if not isinstance(module, nn.Linear):
            continue
        if config.init == "kaiming":
            nn.init.kaiming_normal_(module.weight, a=slope, nonlinearity=nonlinearity)
        elif config.init == "xavier":
            nn.init.xavier_uniform_(module.weight)
        elif config.init == "normal":
            nn.init.normal_(module.weight, std=0.01)
        elif config.init == "zeros":  # the symmetry textbooks warn of: every unit gets the same gradient
            nn.init.zeros_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def loss_fn(config: RunConfig) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    if config.loss == "nll":
        return F.nll_loss
    if config.loss == "cross-entropy":
        return F.cross_entropy

    def mse(probs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        # scatter, not F.one_hot: one_hot checks the labels' range on the host (a GPU sync
        # every batch).
        one_hot = torch.zeros_like(probs).scatter_(1, target.unsqueeze(1), 1.0)
        return F.mse_loss(probs, one_hot)

    return mse


def probabilities(output: torch.Tensor, config: RunConfig) -> torch.Tensor:
    """The model's output as class probabilities, whatever its head."""
    if config.loss == "nll":
        return output.exp()
    if config.loss == "cross-entropy":
        return output.softmax(dim=1)
    return output


def build_optimizer(model: nn.Module, config: RunConfig, device: torch.device) -> torch.optim.Optimizer:
    params = model.parameters()
    # Fused kernels update all parameters in one go: on CUDA always, on CPU for Adam/AdamW/SGD
    # (torch >= 2.4). Others fall back to the multi-tensor (foreach) path.
    fused = device.type in ("cuda", "cpu", "mps")
    common = {"lr": config.lr, "weight_decay": config.weight_decay}
    name = config.optimizer
    if name in ("sgd", "momentum", "nesterov"):
        momentum = 0.0 if name == "sgd" else config.momentum
        return _with_fused(torch.optim.SGD, params, fused, momentum=momentum, nesterov=name == "nesterov", **common)
    if name == "adam":
        return _with_fused(torch.optim.Adam, params, fused, **common)
    if name == "adamw":
        return _with_fused(torch.optim.AdamW, params, fused, **common)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=config.lr, weight_decay=config.weight_decay, foreach=True)
    if name == "adagrad":
        return _with_fused(torch.optim.Adagrad, params, fused and device.type == "cpu", **common)
    if name == "adadelta":
        return torch.optim.Adadelta(params, lr=config.lr, weight_decay=config.weight_decay, foreach=True)
    raise ValueError(f"unknown optimizer {name}")


def _with_fused(
    cls: Callable[..., torch.optim.Optimizer], params: Iterable[nn.Parameter], fused: bool, **kwargs: float | bool
) -> torch.optim.Optimizer:
    listed = list(params)
    if fused:
        try:
            return cls(listed, fused=True, **kwargs)
        except (RuntimeError, TypeError, ValueError):
            pass  # this build/device has no fused kernel for it
    return cls(listed, foreach=True, **kwargs)


def linear_weights(model: nn.Module) -> list[torch.Tensor]:
    return [m.weight for m in model.modules() if isinstance(m, nn.Linear)]


def l1_penalty(weights: list[torch.Tensor]) -> torch.Tensor:
    """Sum of |w| over the Linear weights (biases are not penalised)."""
    return torch.stack([w.abs().sum() for w in weights]).sum()


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def summary_rows(model: nn.Sequential) -> list[tuple[str, str, int]]:
    """(layer, output shape, parameters) per layer of a built model."""
    layers: list[tuple[str, int, int]] = []
    width = N_INPUTS
    for module in model:
        if isinstance(module, nn.Linear):
            width = module.out_features
        kind = "Dropout" if isinstance(module, nn.Dropout) else type(module).__name__
        layers.append((kind, width, sum(p.numel() for p in module.parameters())))
    return rows_from(layers)


def format_summary(model: nn.Sequential) -> str:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return format_rows(summary_rows(model), trainable)


def pick_device(name: str) -> torch.device:
    """auto: CUDA, then MPS, then CPU. An explicit device that is not there is an error."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:  # config validation lets only good names through; this is a backstop
        raise DeviceError(f"--device {name}: not a device name; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"--device {name}: no CUDA GPU is available here; use --device auto or cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) here (cuda:0..)")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise DeviceError(f"--device {name}: Apple MPS is not available here; use --device auto or cpu")
    return device


def configure_device(device: torch.device, deterministic: bool = False) -> None:
    """The numerics of a device, the same for training and for `eval`, so that both compute the
    same test accuracy from the same weights. On CUDA: TF32 matmuls (the same accuracy for an
    MLP, several times the speed on Ampere and later); with `deterministic`, only deterministic
    kernels, so a seed gives the same numbers every run."""
    if device.type != "cuda":
        return
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    if deterministic:
        # cuBLAS reads this when its first handle is made, i.e. at the first matmul: still ahead.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True, warn_only=True)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"CUDA {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "Apple MPS"
    return f"CPU ({torch.get_num_threads()} threads)"
