"""bayestda: the Bayesian analysis of training data attribution (Nguyen, Seo, Oh, NeurIPS 2023).

Entry points: `bayestda.experiment.Experiment` names everything; `bayestda.attribution` holds the method
registry (`register`, `Method`); `bayestda.tasks` the model families (`ModelTask`, `register_task`);
`bayestda.scores.load` reads scores; `bayestda.analysis.posterior_test` tests anyone's scores.
"""

__version__ = "0.2.0"
