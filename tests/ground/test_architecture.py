"""The package's layers, read from its imports (docs/architecture.md): every module belongs to one layer, imports
only from its own layer or below, at module level, and no two modules import each other, directly or around a
cycle. A new module fails here until it is given its layer."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import bayestda.analysis as analysis
import bayestda.attribution as attribution
import bayestda.families as families
import bayestda.pipeline as pipeline
import bayestda.scores as scores
import bayestda.tasks as tasks
from bayestda.core.paths import REPO_ROOT

PACKAGE = REPO_ROOT / "bayestda"

# bottom to top: each folder of the package is inside one layer, so a new module takes its layer from where it is
# put; a module may import from its own layer and every layer before it
LAYERS: dict[str, tuple[str, ...]] = {
    "ground": ("bayestda", "core"),
    "records and numerics": ("provenance", "numerics", "models"),
    "data": ("data",),
    "declarations": ("attribution", "families", "samplers"),
    "analysis": ("analysis",),
    "naming": ("experiments",),
    "producers": ("training", "scores", "results"),
    "orchestration": ("launch",),
    "entry points": ("cli",),
}
# modules outside the folder rule: names kept for code written against 0.3 (re-exports only, in their target's
# layer), and `python -m` scripts (never imported: above every layer, like the scripts at the repository root)
ALIASES = {"tasks": "declarations", "pipeline": "producers"}
SCRIPTS = ("provenance.__main__",)
# records and numerics share a layer but not a job: neither imports the other
APART = (("provenance",), ("numerics", "models"))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) or "bayestda"


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def folder_of(module: str) -> str:
    return module.split(".")[0]


def layer_of(module: str) -> int:
    names = list(LAYERS)
    if module in SCRIPTS:
        return len(names)
    if module in ALIASES:
        return names.index(ALIASES[module])
    for index, folders in enumerate(LAYERS.values()):
        if module == "bayestda" and "bayestda" in folders or folder_of(module) in folders:
            if module == folder_of(module) and MODULES.get(module, PACKAGE).name != "__init__.py" and module != "bayestda":
                raise KeyError(module)  # a module at the package's top: put it in a folder
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
    assert not unplaced, f"put these modules in a folder of a layer (docs/architecture.md): {unplaced}"


def test_the_aliases_only_re_export():
    """A name kept for old code holds imports and `__all__`, nothing else: its code lives in the folder it names."""
    for alias in ALIASES:
        tree = ast.parse(MODULES[alias].read_text())
        body = [n for n in tree.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
        assert all(isinstance(n, ast.ImportFrom) or (isinstance(n, ast.Assign) and n.targets[0].id == "__all__")
                   for n in body), f"{alias} holds code: move it into its folder"


def test_no_package_import_is_written_inside_a_function_or_a_type_checking_block():
    hidden = [f"{module}:{line} imports {target}" for module, (_, inner) in GRAPH.items() for line, target in inner]
    assert not hidden, "imports inside functions hide the dependency graph:\n" + "\n".join(hidden)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_a_module_imports_only_from_its_layer_or_below(module):
    top, _ = GRAPH[module]
    upward = [t for t in sorted(top) if layer_of(t) > layer_of(module)]
    names = [*LAYERS, "scripts"]
    assert not upward, (f"{module} ({names[layer_of(module)]}) imports from higher layers: "
                        + ", ".join(f"{t} ({names[layer_of(t)]})" for t in upward))
    for group in APART:
        if folder_of(module) in group and module not in SCRIPTS:
            other = next(g for g in APART if g is not group)
            crossing = sorted(t for t in top if folder_of(t) in other)
            assert not crossing, f"{module} imports {crossing}: records and numerics stay apart"


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
    """The checks above can fail: the resolver finds relative, nested and package imports; a folder gives a new
    module its layer, and a module at the package's top has none."""
    source = "from ..experiments.experiment import Experiment\n\ndef f():\n    from ..cli.scripts import run\n"
    tree = ast.parse(source)
    found = [_resolve("scores.files", node, False) for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert found == [["experiments.experiment"], ["cli.scripts"]]
    assert layer_of("cli.scripts") > layer_of("scores.files") > layer_of("experiments.experiment")
    assert layer_of("training.a_new_loop") == list(LAYERS).index("producers")
    hidden = scan("families.base", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                   "    from ..experiments.experiment import E\n")
    assert hidden == (set(), [(3, "experiments.experiment")])
    package = ast.parse("from .. import provenance\nfrom . import files\nfrom ..attribution import CheckpointContext\n")
    targets = [_resolve("scores.pipeline", node, False) for node in ast.walk(package) if isinstance(node, ast.ImportFrom)]
    assert targets == [["provenance"], ["scores.files"], ["attribution"]]
    with pytest.raises(KeyError):
        layer_of("a_flat_module")


def test_the_analysis_library_imports_without_torch():
    """Anyone's scores are analysed with numpy, pandas and scipy alone: `import bayestda.analysis` loads no torch and
    none of the methods."""
    code = "import sys, bayestda.analysis; print(sorted(m for m in ('torch', 'bayestda.attribution') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_public_import_paths_users_have_keep_working():
    """What README, docs/extending.md and 0.3's users import still imports, and names the same objects."""
    assert callable(analysis.posterior_test) and callable(scores.load) and callable(scores.load_array)
    assert callable(attribution.register) and attribution.Method
    assert tasks.register_task is families.register_family and tasks.ModelTask is families.ModelFamily
    assert pipeline.run_scores is scores.run_scores
    result = subprocess.run([sys.executable, "-m", "bayestda.provenance", "--help"], capture_output=True, text=True,
                            cwd=REPO_ROOT)
    assert result.returncode == 0 and "show" in result.stdout
