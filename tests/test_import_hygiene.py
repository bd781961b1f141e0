"""The shape of the code: recdesk never imports textual, no module imports in a cycle, no module calls another's
private names. Read from the source itself (ast), so a new module is covered the day it is written."""

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import recdesk
import screens

ROOT = Path(__file__).resolve().parent.parent


def _modules(package) -> list[str]:
    names = [package.__name__]
    names += [m.name for m in pkgutil.walk_packages(package.__path__, prefix=package.__name__ + ".")]
    return sorted(names)


RECDESK = _modules(recdesk)
SCREENS = _modules(screens)
ALL = set(RECDESK) | set(SCREENS)


def _source(module: str) -> Path:
    path = ROOT.joinpath(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def _imports(module: str) -> list[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for every import in the module, local ones included."""
    tree = ast.parse(_source(module).read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, [alias.name for alias in node.names], node.lineno))
    return found


def _edges(module: str) -> set[str]:
    """The desk's own modules this one imports (a name taken from a package counts as its submodule)."""
    out = set()
    for target, names, _ in _imports(module):
        if target.split(".")[0] not in ("recdesk", "screens"):
            continue
        subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in ALL]
        out |= set(subs) if subs else {target}
    out.discard(module)
    # importing a.b.c runs a and a.b first, but their __init__ files hold no code of their own
    return {m for m in out if m in ALL}


def test_the_walk_finds_every_feature_package():
    for package in ("vault", "patients", "documents", "release", "completion", "paper", "serve", "demo", "pdf"):
        assert f"recdesk.{package}" in RECDESK
    assert len(RECDESK) > 40 and "screens.app" in SCREENS


@pytest.mark.parametrize("module", RECDESK)
def test_recdesk_module_leaves_textual_unimported(module):
    code = f"import sys, {module}; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_no_module_imports_textual_in_recdesk_not_even_locally():
    """A local import would escape the subprocess check until its function runs: read the source too."""
    offenders = [f"{m}:{line}" for m in RECDESK for target, _, line in _imports(m)
                 if target.split(".")[0] in ("textual", "screens", "rich") and not _allowed_tui_start(m, target)]
    assert offenders == [], "recdesk/ must not import the TUI (cli.py starts it by `screens.app` only): " + \
        ", ".join(offenders)


def _allowed_tui_start(module: str, target: str) -> bool:
    return module == "recdesk.cli" and target == "screens.app"


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_in_recdesk_or_screens_local_imports_included():
    graph = {m: {t for t in _edges(m) if not _allowed_tui_start(m, t)} for m in ALL}
    assert _cycles(graph) == []


def test_screens_read_services_not_tables():
    """Screens get plain views from services: they never import the ORM models or peewee."""
    offenders = [f"{m}:{line} {target}" for m in SCREENS for target, _, line in _imports(m)
                 if target in ("recdesk.vault.models", "peewee")
                 or (target == "recdesk.vault" and "models" in _)]
    assert offenders == []


def _private_uses(module: str) -> list[str]:
    """Names starting with one underscore taken from, or reached through, another of the desk's modules."""
    tree = ast.parse(_source(module).read_text())
    aliases: dict[str, str] = {}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in ("recdesk", "screens") and alias.asname:
                    aliases[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                and node.module.split(".")[0] in ("recdesk", "screens"):
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                if full in ALL:
                    aliases[alias.asname or alias.name] = full
                elif alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{module}:{node.lineno} {node.module}.{alias.name}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases \
                and node.attr.startswith("_") and not node.attr.startswith("__"):
            found.append(f"{module}:{node.lineno} {aliases[node.value.id]}.{node.attr}")
    return found


def test_no_module_calls_another_modules_private_names():
    assert [use for m in sorted(ALL) for use in _private_uses(m)] == []


def test_textual_is_importable_for_the_screens():
    out = subprocess.run([sys.executable, "-c", "import textual, screens; print(textual.__version__)"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.startswith("8.2")
