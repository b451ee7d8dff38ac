"""TDA methods: each takes a CheckpointContext and returns [n_train, n_test] score matrices.

Every method is declared once, beside its code, in the registry (`registry.py`): its name, score function,
helpful sign, needs and per-seed script. `python -c "from bayestda.attribution import describe; print(describe())"`
prints the table. Importing this package registers the built-in methods; the default method order is
`registry.BUILT_IN_ORDER`, not import order. A method's settings travel with the call
(`registry.configured(methods, {"trak": TrakSettings(dim=256)})`, `run_scores(..., settings=...)`).
"""

from .arnoldi import ArnoldiSettings, arnoldi_influence
from .bif import BifSettings, bif, bif_method
from .context import CheckpointContext
from .controls import random_scores, same_class_scores
from .ekfac import EKFACSettings, ekfac_influence, ekfac_method
from .gradients import grad_cos, grad_dot, tracin, tracin_term
from .influence import ConvergedSettings, InverseHVP, LissaSettings, converged, influence_scores, lissa
from .registry import (
    BUILT_IN_ORDER,
    Method,
    all_methods,
    check_methods,
    configured,
    default_methods,
    describe,
    get,
    helpful_signs,
    register,
    script_methods,
    unregister,
)
from .retraining import ats, loo, loo_pretrained
from .rps import RPSSettings, rps
from .trak import TrakSettings, trak, trak_method

__all__ = [
    "BUILT_IN_ORDER", "ArnoldiSettings", "BifSettings", "bif", "bif_method",
    "CheckpointContext", "ConvergedSettings", "EKFACSettings", "InverseHVP",
    "LissaSettings", "Method", "RPSSettings", "TrakSettings", "all_methods", "arnoldi_influence", "ats",
    "check_methods", "configured", "converged", "default_methods", "describe", "ekfac_influence", "ekfac_method",
    "get", "grad_cos", "grad_dot", "helpful_signs", "influence_scores", "lissa", "loo", "loo_pretrained", "register",
    "random_scores", "rps", "same_class_scores", "script_methods", "tracin", "tracin_term", "trak", "trak_method", "unregister",
]
