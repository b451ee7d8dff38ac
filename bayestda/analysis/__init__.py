"""Posterior statistics of TDA scores: p-values, correlations, noise decomposition, figures, summary.

For anyone's scores, without an experiment of this repository:

    >>> from bayestda.analysis import posterior_test
    >>> result = posterior_test({"gd": scores_gd, "if": scores_if}, out="results/mine")  # arrays (seeds, ckpts, train, test)

or from a folder of score files in the paper's layout: `posterior_test(load_scores_dir("my_scores"), out=...)`.
A pure library: arrays or PosteriorScores in, tables out. An experiment's own analysis (its files, records,
LDS models) is `bayestda.results`.
"""

from ..data.subset_losses import SubsetLosses
from .classes import ItemClasses, read_classes
from .metrics import LOO_TRUTH
from .posterior import PosteriorScores, load_files, load_scores_dir
from .report import PosteriorResult, Roles, as_posteriors, correlations_of, posterior_test, pvalues_of, roles_for

__all__ = ["LOO_TRUTH", "ItemClasses", "PosteriorResult", "PosteriorScores", "Roles", "SubsetLosses", "as_posteriors",
           "correlations_of", "load_files", "load_scores_dir", "posterior_test", "pvalues_of", "read_classes",
           "roles_for"]
