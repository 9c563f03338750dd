"""Usage errors in mlp-tui's words: what the command-line parser refuses (an unknown option, a
value that is not a number, a missing argument) is said in the same one line, exit 2, as what
mlp-tui refuses itself, instead of Typer's usage block and `Error: Invalid value for ...`.

The run settings' options are refused with the config's own messages, so `--optimizer sdg`
reads the same as `optimizer = "sdg"` in a preset: allowed values and a did-you-mean.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from typer.core import TyperGroup

try:  # newer Typer carries its own copy of click
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover
    from click import exceptions as click_errors  # type: ignore[no-redef]  # the same module, older home

from mlp_tui.cli.common import fail
from mlp_tui.core.config import CLI_SOURCE, OPTIONS, ConfigError, build_config, cli_flag, expected, parse_text
from mlp_tui.core.setting_values import did_you_mean

UsageError = click_errors.UsageError
_NOUNS = {int: "an integer", float: "a number"}
_RANGE_ERRORS = ("greater_than", "greater_than_equal", "less_than", "less_than_equal")


class Commands(TyperGroup):
    """The app's command group: every usage error, its own or a command's, becomes one line."""

    def make_context(self, info_name, args, parent=None, **extra):
        with _one_line(lambda: self.context_class(self, info_name=info_name, parent=parent)):
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx):
        def chosen():  # a bare context of the command being parsed: its path and options
            name, command = ctx.meta[_CHOSEN]
            return command.context_class(command, info_name=name, parent=ctx)

        with _one_line(chosen):  # parsing a command's own options happens here
            return super().invoke(ctx)

    def resolve_command(self, ctx, args):
        name = args[0] if args else ""
        if name and not name.startswith("-") and not ctx.resilient_parsing and self.get_command(ctx, name) is None:
            names = self.list_commands(ctx)
            fail(f"unknown command {name!r}{did_you_mean(name, names)}; commands: {', '.join(names)}")
        name, command, rest = super().resolve_command(ctx, args)
        ctx.meta[_CHOSEN] = (name, command)
        return name, command, rest


_CHOSEN = "mlp_tui.command"  # the command being parsed, for errors the parser raises without it


@contextlib.contextmanager
def _one_line(context: Callable[[], Any]) -> Iterator[None]:
    """Usage errors inside as one line and exit 2; `context` stands in where the parser gave none."""
    try:
        yield
    except UsageError as exc:
        # Help shown for no arguments, and completion's quiet parsing, stay the parser's own.
        if isinstance(exc, click_errors.NoArgsIsHelpError) or (exc.ctx is not None and exc.ctx.resilient_parsing):
            raise
        if exc.ctx is None:
            with contextlib.suppress(KeyError):
                exc.ctx = context()
        fail(usage_message(exc))


def usage_message(exc: UsageError) -> str:
    """The parser's complaint as mlp-tui says it: what was wrong, and what is allowed."""
    command = exc.ctx.command_path if exc.ctx is not None else "mlp-tui"
    see = f"see `{command} --help`"
    if isinstance(exc, click_errors.NoSuchOption):
        names = [n for p in _params(exc) for n in (*p.opts, *p.secondary_opts) if n.startswith("-")]
        return f"unknown option {exc.option_name}{did_you_mean(exc.option_name, names)}; {see}"
    if isinstance(exc, click_errors.BadOptionUsage):
        param = next((p for p in _params(exc) if exc.option_name in (*p.opts, *p.secondary_opts)), None)
        if "requires" in exc.message:
            allowed = _expected(param) if param is not None else ""
            return f"option {exc.option_name}: needs a value" + (f"; expected {allowed}" if allowed else f"; {see}")
        if "does not take a value" in exc.message:
            return f"option {exc.option_name} is a switch and takes no value; {see}"
    if isinstance(exc, click_errors.MissingParameter) and exc.param is not None:
        about = (getattr(exc.param, "help", None) or "").rstrip(".")  # Typer's options and arguments have help
        return f"missing {_hint(exc.param)}" + (f": {about[:1].lower()}{about[1:]}" if about else "") + f"; {see}"
    if isinstance(exc, click_errors.BadParameter) and exc.param is not None:
        return _bad_value(exc)
    if exc.message.startswith("Got unexpected extra argument"):
        extra = exc.message.rpartition("(")[2].rstrip(")")
        wanted = " ".join(p.display_name_raw for p in _params(exc) if p.param_type_name == "argument")
        takes = f"takes {wanted}" if wanted else "takes no arguments"
        return f"unexpected argument(s): {extra}; `{command}` {takes}; {see}"
    text = exc.format_message().rstrip(".")
    return f"{text[:1].lower()}{text[1:]}; {see}"


def _params(exc: UsageError) -> list[Any]:
    return list(exc.ctx.command.params) if exc.ctx is not None else []


def _hint(param: Any) -> str:
    if param.param_type_name == "argument":
        return f"argument {param.display_name_raw}"
    return "option " + "/".join(param.opts)


def _setting_key(param: Any) -> str | None:
    """The run setting an option sets (`--optimizer`), or None for a command's own option."""
    key = param.name
    return key if key in OPTIONS and cli_flag(key) in param.opts else None


def _bad_value(exc: Any) -> str:
    """A value the parser could not take: the config's message for a run setting, else one made
    from what the parser expected (its type and range)."""
    error = _validation_error(exc)
    if error is None:
        return f"{_hint(exc.param)}: {exc.message}"
    raw, kind = error.get("input"), error.get("type", "")
    key = _setting_key(exc.param)
    if key is not None:
        try:
            build_config({key: parse_text(key, str(raw), CLI_SOURCE)}, CLI_SOURCE)
        except ConfigError as refused:
            return str(refused)
    allowed, noun = _expected(exc.param), _NOUNS.get(exc.param.type_descriptor.annotation)
    if noun and (kind.endswith("_parsing") or kind == "int_from_float"):
        problem = f"{raw!r} is not {noun}"
    elif kind in _RANGE_ERRORS:
        problem = f"{raw} is out of range"
    else:
        message = str(error.get("msg", exc.message)).removeprefix("Value error, ")
        problem = message[:1].lower() + message[1:]
    return f"{_hint(exc.param)}: {problem}" + (f"; expected {allowed}" if allowed else "")


def _validation_error(exc: Any) -> dict | None:
    """The first complaint of the validator behind Typer's message, with the value it was given."""
    errors = getattr(exc.__cause__, "errors", None)
    found = errors() if callable(errors) else []
    return found[0] if found else None


def _expected(param: Any) -> str:
    """What a value of `param` must be, in words ('' when any text will do)."""
    key = _setting_key(param)
    if key is not None:
        return expected(key)
    desc = param.type_descriptor
    if desc.choices:
        return "one of " + ", ".join(str(getattr(c, "value", c)) for c in desc.choices)
    noun = _NOUNS.get(desc.annotation)
    if noun is None:
        return "a path" if isinstance(desc.annotation, type) and issubclass(desc.annotation, Path) else ""
    low, high = desc.parameter_info.min, desc.parameter_info.max
    if low is not None and high is not None:
        return f"{noun}, {low}..{high}"
    if low is not None or high is not None:
        return f"{noun} {'>=' if low is not None else '<='} {low if low is not None else high}"
    return noun
