"""The method registry: each TDA method declared once, beside the code that computes it.

A `Method` names its score function, what it needs, the sign that means "helpful", the per-seed script that
writes it and its output files. The pipeline, the per-seed scripts, the launcher's stages, the analysis
defaults and the sign table all read this registry. A new method is one `register(Method(...))` call; a
module outside the package registers its methods when it is imported, and `BAYESTDA_PLUGINS` (comma-separated
module names or .py files) imports such modules in every script and launcher job.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import BadInput
from ..core.plugins import load_plugins

NEEDS = ("gradients", "test_losses", "inverse_hvp", "retraining")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Method:
    """One TDA method: `score(ctx)` gives its [n_train, n_test] matrix at one checkpoint.

    Args:
        name: lower-case letters, digits and '_' (its folder under tda_scores/).
        score: ctx -> [n_train, n_test] tensor (or (ctx, inverse) -> tensor with an `inverse_hvp` stage).
        helpful_sign: +1 where a positive score means the train item helps, -1 where a negative one does.
        description: one line for `describe()`.
        needs: what it uses of the context: gradients, test_losses, inverse_hvp, retraining.
        script, script_flags: the per-seed script that writes it (default: the generic `all` with --methods).
        inverse_hvp: ctx -> InverseHVP, a stage the scripts can store (`run_<f>_s_test.py`).
        default: computed and analysed unless methods are named.
        version: bump when its numbers change (its old files become stale).
        settings: what changes its numbers, recorded with every file; `configure` makes it with other settings.
        per_seed: one score per seed, the sum of its checkpoints' files.
        whole_posterior: one score per pair from all the posterior's samples (the analysis computes it from each
            sample's losses; no per-checkpoint file, no posterior test): `bif_ensemble`.
        phantoms: its rows follow `ctx.rows` (`ctx.scored_gradients()`, ...), so it can score items that are not
            train items as if they were (the phantom null); methods that do not say so are left out of it.

    Methods with an `inverse_hvp(ctx)` stage are scored as `score(ctx, inverse)`: the per-seed scripts can store
    the vectors first (`run_<f>_s_test.py`) and score them later (`run_<f>_if.py`), as the paper's IF scripts.
    script: the per-seed script that writes it, `tda_<f>_scripts/run_<f>_<script>.py` with `script_flags`;
    'all' (the default for new methods) is the generic script, called with `--methods <name>`.
    """

    name: str
    score: Callable
    helpful_sign: int  # +1: a positive score means the train item helps the test item (the paper's raw signs)
    description: str = ""
    needs: tuple[str, ...] = ("gradients",)
    script: str = "all"
    script_flags: tuple[str, ...] = ()
    inverse_hvp: Callable | None = None
    default: bool = True  # computed and analysed unless methods are named
    version: str = "1"  # bump when the method's numbers change: its old files become stale
    settings: dict = field(default_factory=dict)  # settings that change its numbers (recorded with every file)
    per_seed: bool = False  # one score per seed, the sum of its checkpoints' files: the posterior samples are the seeds
    configure: Callable[[Any], Method] | None = None  # settings object -> this method with those settings
    damped: Callable[[Any, float], Any] | None = None  # (ctx, λ) -> scores at damping λ (the damping curve)
    whole_posterior: bool = False  # one score per pair from every sample's losses, made in the analysis, untested
    phantoms: bool = False  # scores other items than the train items (ctx.scored, ctx.rows): the phantom null

    def with_settings(self, settings: Any) -> Method:
        """This method with other settings (e.g. TRAK's k), for one call: the registry keeps its defaults, and the
        files it writes record the settings used."""
        if self.configure is None:
            raise BadInput(f"method {self.name!r} takes no settings")
        return self.configure(settings)

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"method name {self.name!r} must be lower-case letters, digits and '_'")
        if self.helpful_sign not in (1, -1):
            raise ValueError(f"helpful_sign of {self.name!r} must be 1 or -1, not {self.helpful_sign!r}")
        unknown = set(self.needs) - set(NEEDS)
        if unknown:
            raise ValueError(f"{self.name!r} needs unknown {sorted(unknown)}; allowed: {', '.join(NEEDS)}")
        if self.inverse_hvp is not None and "inverse_hvp" not in self.needs:
            object.__setattr__(self, "needs", (*self.needs, "inverse_hvp"))

    def script_path(self, scripts: str, script: str | None = None) -> str:
        """The per-seed script file for a model family's script folder (`cnn` or `vit`)."""
        return script_path(scripts, script or self.script)

    def commands(self, scripts: str) -> list[list[str]]:
        """The script calls (relative argv, before the experiment flags' position) that write this method."""
        if self.inverse_hvp is not None and self.script != "all":
            return [[self.script_path(scripts, "s_test")], [self.script_path(scripts)]]
        extra = ["--methods", self.name] if self.script == "all" else []
        return [[self.script_path(scripts), *self.script_flags, *extra]]


def script_path(scripts: str, script: str) -> str:
    """A per-seed script file: tda_<scripts>_scripts/run_<scripts>_<script>.py."""
    return f"tda_{scripts}_scripts/run_{scripts}_{script}.py"


_REGISTRY: dict[str, Method] = {}
BUILT_IN_ORDER = ("loo", "loo_corrected", "ats", "loo_pretrained", "if", "if_converged", "gd", "gc", "tracin",
                  "tracincp", "trak", "rps", "arnoldi", "ekfac", "bif", "bif_ensemble", "random",
                  "same_class")  # the default method order; plugins' follow


def register(method: Method) -> Method:
    """Add (or replace, by name) a method.

    Args:
        method: the Method; a plugin module (BAYESTDA_PLUGINS) calls this when imported.

    Returns:
        The method, so that it can be kept beside its code.
    """
    _REGISTRY[method.name] = method
    return method


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def _registry() -> dict[str, Method]:
    """Every registered method: the built-in ones in BUILT_IN_ORDER (registered when `bayestda.attribution` is
    imported), then the others (plugins, BAYESTDA_PLUGINS) in registration order."""
    load_plugins()
    built_in = [name for name in BUILT_IN_ORDER if name in _REGISTRY]
    return {name: _REGISTRY[name] for name in built_in + [n for n in _REGISTRY if n not in BUILT_IN_ORDER]}


def all_methods() -> list[str]:
    """Every registered method, in registration order."""
    return list(_registry())


def whole_posterior_methods() -> list[str]:
    """Methods with one score per pair from the whole posterior, computed in the analysis (bif_ensemble)."""
    return [name for name, m in _registry().items() if m.whole_posterior]


def per_seed_methods() -> list[str]:
    """Methods whose score is one matrix per seed (the sum of its per-checkpoint files), e.g. tracincp."""
    return [name for name, m in _registry().items() if m.per_seed]


def phantom_methods() -> list[str]:
    """Methods that score other items than the train items (`Method.phantoms`): the phantom null's."""
    return [name for name, m in _registry().items() if m.phantoms]


def default_methods() -> list[str]:
    """The methods computed and analysed when none are named."""
    return [name for name, m in _registry().items() if m.default]


def get(name: str) -> Method:
    registry = _registry()
    if name not in registry:
        raise BadInput(f"unknown method {name!r}; allowed: {', '.join(registry)}")
    return registry[name]


def check_methods(names) -> list[str]:
    """The names, validated (one line naming the first unknown one and the allowed ones), in the given order."""
    for name in names:
        get(name)
    return list(names)


def in_registry_order(methods) -> list[Method]:
    """The methods (names, or Method objects, e.g. with their own settings) as Methods, in the registry's order."""
    given = {m.name: m for m in methods if isinstance(m, Method)}
    wanted = set(check_methods([m if isinstance(m, str) else m.name for m in methods]))
    return [given.get(name, m) for name, m in _registry().items() if name in wanted]


def configured(methods, settings: dict[str, Any] | None = None) -> list[Method]:
    """The methods in the registry's order, each with its settings from `settings` ({method: settings object})
    where given: settings travel with the call, the registry keeps its defaults."""
    settings = settings or {}
    chosen = in_registry_order(methods)
    names = [m.name for m in chosen]
    stray = [name for name in settings if name not in names]
    if stray:
        raise BadInput(f"settings are given for {stray[0]!r}, which is not among the methods computed "
                       f"({', '.join(names)}); add it with --methods")
    return [m.with_settings(settings[m.name]) if m.name in settings else m for m in chosen]


def helpful_signs() -> dict[str, int]:
    """The sign table: the factor that makes "helpful" positive for each method."""
    return {name: m.helpful_sign for name, m in _registry().items()}


def script_methods(script: str, flags: tuple[str, ...] = ()) -> list[str]:
    """The methods a per-seed script writes (with the given script flags)."""
    return [name for name, m in _registry().items() if m.script == script and m.script_flags == tuple(flags)]


def inverse_methods(names=None) -> list[Method]:
    """Registered methods with an inverse-HVP stage (among `names` if given)."""
    names = all_methods() if names is None else names
    return [m for m in in_registry_order(names) if m.inverse_hvp is not None]


def describe() -> str:
    """The registry as a markdown table: name, what it is, the helpful sign, what it needs, its per-seed script."""
    lines = ["| method | what | helpful is | needs | script | default |", "| --- | --- | --- | --- | --- | --- |"]
    for name, m in _registry().items():
        script = " ".join([f"run_<f>_{m.script}.py", *m.script_flags, *(["--methods", name] if m.script == "all" else [])])
        if m.inverse_hvp is not None and m.script != "all":
            script = f"run_<f>_s_test.py`, then `{script}"
        lines.append(f"| `{name}` | {m.description} | {'positive' if m.helpful_sign > 0 else 'negative'} | "
                     f"{', '.join(m.needs)} | `{script}` | {'yes' if m.default else 'on request'} |")
    return "\n".join(lines)
