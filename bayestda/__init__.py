"""bayestda: the Bayesian analysis of training data attribution (Nguyen, Seo, Oh, NeurIPS 2023).

Entry points: `bayestda.experiment.Experiment` names everything, `bayestda.scores.load` reads scores,
`bayestda.attribution` holds the methods, `bayestda.analysis` the posterior statistics.
"""

__version__ = "0.1.0"
