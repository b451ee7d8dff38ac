"""TDA methods: each takes a CheckpointContext and returns [n_train, n_test] score matrices.

Every method is declared once, beside its code, in the registry (`registry.py`): its name, score function,
helpful sign, needs and per-seed script. `python -c "from bayestda.attribution import describe; print(describe())"`
prints the table; the registration order below is the default method order.
"""

# isort: off
# Registration order is the default method order (the analysis tables and CSV columns follow it).
from .retraining import ats, loo, loo_pretrained
from .influence import ConvergedSettings, InverseHVP, LissaSettings, converged, influence_scores, lissa
from .gradients import grad_cos, grad_dot, tracin, tracin_term
from .trak import TrakSettings, configure_trak, trak
from .rps import RPSSettings, rps
from .arnoldi import ArnoldiSettings, arnoldi_influence
from .ekfac import EKFACSettings, configure_ekfac, ekfac_influence
# isort: on
from .context import CheckpointContext
from .registry import (
    Method,
    all_methods,
    check_methods,
    default_methods,
    describe,
    get,
    helpful_signs,
    register,
    script_methods,
    unregister,
)

__all__ = [
    "CheckpointContext", "ConvergedSettings", "InverseHVP", "LissaSettings", "Method", "all_methods", "ats",
    "check_methods", "converged", "default_methods", "describe", "get", "grad_cos", "grad_dot", "helpful_signs", "influence_scores",
    "lissa", "loo", "loo_pretrained", "register", "script_methods", "tracin", "tracin_term", "unregister",
    "TrakSettings", "configure_trak", "trak", "RPSSettings", "rps", "ArnoldiSettings", "arnoldi_influence",
    "EKFACSettings", "configure_ekfac", "ekfac_influence",
]
