"""The options of `mlp-tui run` that change a run setting: one per setting declared in RunConfig,
typed from its declaration (choices as enums, so --help lists them, a wrong value is refused
listing them, and shell completion offers them)."""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, cast

import typer

from mlp_tui.core.config import CLI_OPTIONS, FIELDS, OPTIONS, cli_flag

_Command = TypeVar("_Command", bound=Callable[..., Any])


def _choices(key: str) -> type[enum.Enum]:
    """A setting's choices as an enum: --help lists them, a wrong value is refused listing them,
    and shell completion offers them."""
    members = {c: c for c in OPTIONS[key].choices}
    # The functional API makes a class; typeshed types the call as making a member.
    return cast(type[enum.Enum], enum.Enum(key.title().replace("_", ""), members, type=str))


def _setting_parameter(key: str) -> inspect.Parameter:
    opt, default = OPTIONS[key], FIELDS[key].default
    bounds = opt.range_text() if key != "hidden" else ""
    help_text = opt.help[0].upper() + opt.help[1:] + (f" ({bounds})." if bounds else ".")
    flags = [cli_flag(key)]
    if isinstance(default, bool):
        annotation: Any = bool | None  # a type for Typer to read, not for mypy
        flags = [f"{cli_flag(key)}/--no-{cli_flag(key)[2:]}"]
    elif opt.choices:
        annotation = _choices(key) | None
    elif key in ("hidden", "lr_changes"):  # lists, typed as text (512,512; 6:0:0.03)
        annotation = str | None
    else:
        annotation = type(default) | None
    info = typer.Option(None, *flags, help=help_text, case_sensitive=False, show_default=False)
    return inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, default=info, annotation=annotation)


def with_setting_options(command: _Command, keys: tuple[str, ...] = CLI_OPTIONS) -> _Command:
    """`command`, whose `**settings` Typer now sees as one option per run setting (or per setting
    of `keys`)."""
    signature = inspect.signature(command, eval_str=True)
    fixed = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    # A function takes new attributes; Callable does not declare this one (inspect reads it).
    command.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*fixed, *(_setting_parameter(key) for key in keys)]
    )
    return command


def given_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings given on the command line, as plain values (choices come as enum members)."""
    return {k: v.value if isinstance(v, enum.Enum) else v for k, v in settings.items() if v is not None}
