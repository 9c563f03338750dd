"""The engine never drags a UI library in, and the command line starts without torch."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import mlp_tui


def modules_after_import(modules: list[str], cli_env) -> set[str]:
    code = "import json, sys\n" + "".join(f"import {m}\n" for m in modules) + "print(json.dumps(sorted(sys.modules)))\n"
    proc = subprocess.run([sys.executable, "-c", code], env=cli_env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout))


def top_level(names: set[str]) -> set[str]:
    return {name.split(".")[0] for name in names}


PACKAGE = Path(mlp_tui.__file__).parent
# The layers are folders, lowest first: a module may import from its own layer and the ones below.
LAYERS = {"core": 0, "text": 1, "engine": 2, "runs": 3, "views": 4, "cli": 5, "entry": 6}


def layer_of(module: str) -> str:
    parts = module.split(".")[1:]  # below mlp_tui
    if not parts or parts[0] == "__main__":
        return "entry"  # mlp_tui itself and `python -m mlp_tui`
    assert parts[0] in LAYERS, f"{module}: a module outside the layer folders"
    return parts[0]


def package_modules() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(parts))
    return names


def imports_of(module: str) -> set[str]:
    """mlp_tui modules that `module` imports anywhere in its file (lazy imports and those under
    `if TYPE_CHECKING:` included)."""
    path = PACKAGE.parent / (module.replace(".", "/") + ".py")
    is_package = not path.exists()
    if is_package:
        path = PACKAGE.parent / module.replace(".", "/") / "__init__.py"
    package = module if is_package else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("mlp_tui"):
                found.add(target)
                found.update(f"{target}.{alias.name}" for alias in node.names)  # `from . import x`
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("mlp_tui"))
    return {name for name in found if name.split(".")[0] == "mlp_tui"}


def import_graph() -> dict[str, set[str]]:
    """Each module's imports of other mlp_tui modules, lazy ones and those for the type checker
    included (`from pkg import name` counts as the module pkg.name where that is one)."""
    known = set(package_modules())
    graph = {}
    for module in known:
        targets = set()
        for target in imports_of(module):
            while target not in known and "." in target:
                target = target.rsplit(".", 1)[0]
            if target != module:
                targets.add(target)
        graph[module] = targets
    return graph


def test_nothing_loose_at_the_top_of_the_package():
    loose = sorted(p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "__main__.py"))
    assert not loose, f"modules outside the layer folders: {loose}"


def test_no_import_circles_lazy_imports_included():
    graph = import_graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    # A package's __init__ importing its own modules is how a package offers them, not a circle.
    assert not circles, "import circles:\n" + "\n".join(" <-> ".join(c) for c in circles)


def test_layers_import_only_downwards():
    """core < text < engine < runs < views < cli: the engine never reaches the run store or a
    view, the run layer never a view, nothing below the command line reaches it."""
    known = set(package_modules())
    wrong = set()
    for module in package_modules():
        for target in imports_of(module):
            while target not in known and "." in target:
                target = target.rsplit(".", 1)[0]  # `from .x import name`: the module is x
            if LAYERS[layer_of(target)] > LAYERS[layer_of(module)]:
                wrong.add(f"{module} ({layer_of(module)}) imports {target} ({layer_of(target)})")
    assert not wrong, "\n".join(sorted(wrong))


def test_engine_and_run_layers_import_no_ui_library(cli_env):
    below_views = [m for m in package_modules() if LAYERS[layer_of(m)] <= LAYERS["runs"]]
    loaded = modules_after_import([*below_views, "mlp_tui.views.console.headless"], cli_env)
    assert "mlp_tui.engine.trainer" in loaded and "mlp_tui.runs.launch" in loaded and "torch" in top_level(loaded)
    assert not top_level(loaded) & {"textual", "rich", "textual_plotext", "plotext"}


def test_shared_terms_import_no_torch(cli_env):
    shared = [m for m in package_modules() if layer_of(m) in ("core", "text")] + ["mlp_tui.runs.job"]
    loaded = modules_after_import(shared, cli_env)
    assert "mlp_tui.core.config" in loaded
    assert not top_level(loaded) & {"torch", "torchvision", "textual", "rich"}


def test_cli_imports_without_torch(cli_env):
    loaded = modules_after_import(["mlp_tui.cli.main"], cli_env)
    assert "mlp_tui.cli.main" in loaded
    assert not top_level(loaded) & {"torch", "torchvision", "textual"}


@pytest.mark.parametrize(
    "args, expected",
    [(["--help"], "presets"), (["presets"], "784-16-10"), (["run", "--help"], "--preset")],
)
def test_help_and_presets_never_load_torch(args, expected, cli_env):
    code = (
        "import sys\n"
        "from mlp_tui.cli.main import app\n"
        f"app({args!r}, standalone_mode=False)\n"
        "print('LOADED:', sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'torchvision', 'textual'}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=cli_env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert expected in proc.stdout
    assert proc.stdout.splitlines()[-1] == "LOADED: []"
