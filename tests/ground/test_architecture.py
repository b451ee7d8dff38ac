"""The package's layers, read from its imports (docs/architecture.md): every module belongs to one layer, imports
only from its own layer or below, at module level, and no two modules import each other, directly or around a
cycle. A new module fails here until it is given its layer."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bayestda.paths import REPO_ROOT

PACKAGE = REPO_ROOT / "bayestda"

# bottom to top; a module may import from its own layer and every layer before it
LAYERS: dict[str, tuple[str, ...]] = {
    "ground": ("bayestda", "errors", "paths", "params", "losses", "parallel", "device", "plugins", "seeds", "datasets",
               "channels_last"),
    "io": ("io",),
    "records and numerics": ("provenance", "provenance.records", "training", "gradient_matrix", "per_sample",
                             "layer_grads", "hvp", "evaluation", "models", "models.cnn", "models.vit"),
    "data": ("data", "vit_data", "lds_targets"),
    "declarations": ("attribution", "attribution.*", "tasks", "tasks.*"),
    "analysis": ("analysis", "analysis.*"),
    "naming": ("experiment", "commands", "studies"),
    "producers": ("checkpoints", "ensemble", "vit_finetuning", "vit_pretraining", "trainers", "scores", "pipeline",
                  "lds", "results", "results_records", "damping", "study_results"),
    "entry points": ("cli", "cli_analysis", "flags", "launch", "slurm", "launch_flags", "provenance.__main__"),
}
# records and numerics share a layer but not a job: neither imports the other
APART = ({"provenance", "provenance.records"},
         {"training", "gradient_matrix", "per_sample", "layer_grads", "hvp", "evaluation", "models", "models.cnn",
          "models.vit"})


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) or "bayestda"


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int:
    for index, members in enumerate(LAYERS.values()):
        for member in members:
            if module == member or (member.endswith(".*") and module.startswith(member[:-1])):
                return index
    raise KeyError(module)


def _resolve(module: str, node: ast.ImportFrom | ast.Import, is_package: bool) -> list[str]:
    """The package modules an import statement names (a `from X import name` of a submodule names the submodule)."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        if node.level:
            base = module.split(".") if module != "bayestda" else []
            base = base if is_package else base[:-1]
            base = base[: len(base) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
            target = f"bayestda.{target}" if target else "bayestda"
        else:
            target = node.module or ""
        names = [f"{target}.{a.name}" for a in node.names] + [target]
    out = []
    for name in names:
        if name == "bayestda" or name.startswith("bayestda."):
            short = name.removeprefix("bayestda.") if name != "bayestda" else "bayestda"
            if short in MODULES:
                out.append(short)
    if isinstance(node, ast.ImportFrom) and len(out) > 1:  # `from pkg import submodule`: the submodule, not pkg
        out = out[:-1] if any(o != out[-1] for o in out[:-1]) else out[-1:]
    return out


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports(module: str) -> tuple[set[str], list[tuple[int, str]]]:
    """(package modules imported at module level, [(line, module)] imported inside a function, class or block).
    An import under `if TYPE_CHECKING:` counts as hidden too: a cycle written that way is still a cycle."""
    path = MODULES[module]
    return scan(module, path.read_text(), path.name == "__init__.py")


def scan(module: str, source: str, is_package: bool = False) -> tuple[set[str], list[tuple[int, str]]]:
    """`imports` of a module's source text."""
    tree = ast.parse(source)
    top: set[str] = set()
    inner: list[tuple[int, str]] = []

    def visit(node: ast.AST, nested: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                for target in _resolve(module, child, is_package):
                    if target != module:
                        (inner.append((child.lineno, target)) if nested else top.add(target))
            visit(child, nested or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda)
                  or (isinstance(child, ast.If) and _is_type_checking(child)))

    visit(tree, False)
    return top, inner


GRAPH = {module: imports(module) for module in MODULES}


def test_every_module_has_a_layer():
    unplaced = []
    for module in MODULES:
        try:
            layer_of(module)
        except KeyError:
            unplaced.append(module)
    assert not unplaced, f"give these modules a layer in docs/architecture.md and here: {unplaced}"


def test_no_package_import_is_written_inside_a_function_or_a_type_checking_block():
    hidden = [f"{module}:{line} imports {target}" for module, (_, inner) in GRAPH.items() for line, target in inner]
    assert not hidden, "imports inside functions hide the dependency graph:\n" + "\n".join(hidden)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_a_module_imports_only_from_its_layer_or_below(module):
    top, _ = GRAPH[module]
    upward = [t for t in sorted(top) if layer_of(t) > layer_of(module)]
    names = list(LAYERS)
    assert not upward, (f"{module} ({names[layer_of(module)]}) imports from higher layers: "
                        + ", ".join(f"{t} ({names[layer_of(t)]})" for t in upward))
    for group in APART:
        if module in group:
            other = next(g for g in APART if g is not group)
            assert not top & other, f"{module} imports {sorted(top & other)}: records and numerics stay apart"


def test_the_imports_have_no_cycle():
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(GRAPH[module][0]):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        path.pop()
        state[module] = 2
        return None

    for module in sorted(MODULES):
        if module not in state:
            cycle = visit(module)
            assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_checker_sees_a_cycle_a_hidden_import_and_an_upward_import(tmp_path):
    """The checks above can fail: the resolver finds relative, nested and package imports."""
    source = "from .experiment import Experiment\n\ndef f():\n    from .cli import run\n"
    tree = ast.parse(source)
    found = [_resolve("scores", node, False) for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert found == [["experiment"], ["cli"]]
    assert layer_of("cli") > layer_of("scores") > layer_of("experiment")
    hidden = scan("tasks.base", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..experiment import E\n")
    assert hidden == (set(), [(3, "experiment")])
    package = ast.parse("from . import provenance, scores\nfrom .attribution import CheckpointContext\n")
    targets = [_resolve("pipeline", node, False) for node in ast.walk(package) if isinstance(node, ast.ImportFrom)]
    assert targets == [["provenance", "scores"], ["attribution"]]
