"""TDA methods: each takes a CheckpointContext and returns [n_train, n_test] score matrices.

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

from .context import CheckpointContext
from .gradients import grad_cos, grad_dot, tracin, tracin_term
from .influence import ConvergedSettings, InverseHVP, LissaSettings, converged, influence_scores, lissa
from .retraining import ats, loo, loo_pretrained

PAPER_METHODS = ("loo", "ats", "if", "gd", "gc")
METHODS = ("loo", "loo_corrected", "ats", "if", "if_converged", "gd", "gc", "tracin")
OPTIONAL_METHODS = ("loo_pretrained",)  # computed only when asked for; never in the default analysis
ALL_METHODS = METHODS + OPTIONAL_METHODS
HELPFUL_SIGN = {"loo_pretrained": 1, "loo": 1, "loo_corrected": 1, "ats": -1, "if": -1, "if_converged": -1, "gd": 1, "gc": 1, "tracin": 1}

__all__ = [
    "ALL_METHODS", "CheckpointContext", "ConvergedSettings", "InverseHVP", "LissaSettings", "METHODS",
    "OPTIONAL_METHODS", "PAPER_METHODS",
    "HELPFUL_SIGN", "ats", "converged", "grad_cos", "grad_dot", "influence_scores", "lissa", "loo", "loo_pretrained", "tracin",
    "tracin_term",
]
