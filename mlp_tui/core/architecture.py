"""The model summary (layer, output shape, parameters), like Keras's model.summary().

Worked out from the config alone, without torch, so the app's setup screen can show it as you
type; `model.summary_rows` gives the same rows from a built model (a test holds them equal).
"""

from __future__ import annotations

from mlp_tui.core.config import RunConfig

N_INPUTS, N_CLASSES = 784, 10
Row = tuple[str, str, int]


def layer_kinds(config: RunConfig) -> list[tuple[str, int, int]]:
    """(layer type, output width, parameters) in the order build_model stacks them."""
    layers = []
    if config.input_dropout:
        layers.append(("Dropout", N_INPUTS, 0))
    width = N_INPUTS
    activation = {"relu": "ReLU", "sigmoid": "Sigmoid", "tanh": "Tanh", "elu": "ELU", "leaky_relu": "LeakyReLU",
                  "gelu": "GELU", "silu": "SiLU", "mish": "Mish",
                  "identity": "Identity"}[config.activation]  # fmt: skip
    bias = 1 if config.bias else 0  # one per unit
    for size in config.hidden:
        layers.append(("Linear", size, width * size + bias * size))
        if config.batch_norm:
            layers.append(("BatchNorm1d", size, 2 * size))
        layers.append((activation, size, 0))
        if config.dropout:
            layers.append(("Dropout", size, 0))
        width = size
    layers.append(("Linear", N_CLASSES, width * N_CLASSES + bias * N_CLASSES))
    head = {"nll": "LogSoftmax", "mse": "Softmax"}.get(config.loss)
    if head:
        layers.append((head, N_CLASSES, 0))
    return layers


def rows_from(layers: list[tuple[str, int, int]]) -> list[Row]:
    """Keras-style names: linear, linear_2, ... per layer type."""
    counts: dict[str, int] = {}
    rows = []
    for kind, width, params in layers:
        counts[kind] = counts.get(kind, 0) + 1
        name = f"{kind.lower()}_{counts[kind]}" if counts[kind] > 1 else kind.lower()
        rows.append((f"{name} ({kind})", f"(None, {width})", params))
    return rows


def config_rows(config: RunConfig) -> list[Row]:
    return rows_from(layer_kinds(config))


def parameter_count(config: RunConfig) -> int:
    return sum(params for _, _, params in layer_kinds(config))


def format_rows(rows: list[Row], trainable: int | None = None) -> str:
    headers = ("Layer (type)", "Output Shape", "Param #")
    w0 = max(len(headers[0]), *(len(r[0]) for r in rows))
    w1 = max(len(headers[1]), *(len(r[1]) for r in rows))
    w2 = max(len(headers[2]), *(len(f"{r[2]:,}") for r in rows))
    line = "-" * (w0 + w1 + w2 + 4)
    out = [f"{headers[0]:<{w0}}  {headers[1]:<{w1}}  {headers[2]:>{w2}}", line]
    out += [f"{a:<{w0}}  {b:<{w1}}  {c:>{w2},}" for a, b, c in rows]
    total = sum(r[2] for r in rows)
    out += [line, f"Total params: {total:,}", f"Trainable params: {total if trainable is None else trainable:,}"]
    return "\n".join(out)
