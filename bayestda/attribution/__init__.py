"""TDA methods: each takes a CheckpointContext and returns [n_train, n_test] score matrices.

Every method is declared once in the registry (`registry.py`), beside its code; `describe()` gives the table.

| name | what | sign: helpful is |
| --- | --- | --- |
| loo | leave-one-out retraining from the checkpoint, baseline = the checkpoint (paper) | positive |
| loo_corrected | the same runs, baseline = the full-data twin run | positive |
| ats | one fresh-Adam step on the train item | negative |
| if | influence function, the paper's one-pass LiSSA | negative |
| if_converged | influence function, exact damped Gauss-Newton inverse | negative |
| gd | Grad-Dot | positive |
| gc | Grad-Cos | positive |
| tracin | TracInCP term η_t·GD_t of this checkpoint | positive |
| loo_pretrained | ViT only, on request: the paper's ViT LOO, re-fine-tuned from the backbone | positive |
"""

# isort: off
# Registration order is the default method order (the analysis tables and CSV columns follow it).
from .retraining import ats, loo, loo_pretrained
from .influence import ConvergedSettings, InverseHVP, LissaSettings, converged, influence_scores, lissa
from .gradients import grad_cos, grad_dot, tracin, tracin_term
# isort: on
from .context import CheckpointContext
from .registry import (
    Method,
    all_methods,
    check_methods,
    default_methods,
    get,
    helpful_signs,
    register,
    script_methods,
    unregister,
)

__all__ = [
    "CheckpointContext", "ConvergedSettings", "InverseHVP", "LissaSettings", "Method", "all_methods", "ats",
    "check_methods", "converged", "default_methods", "get", "grad_cos", "grad_dot", "helpful_signs", "influence_scores",
    "lissa", "loo", "loo_pretrained", "register", "script_methods", "tracin", "tracin_term", "unregister",
]
