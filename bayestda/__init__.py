"""bayestda: the Bayesian analysis of training data attribution (Nguyen, Seo, Oh, NeurIPS 2023).

Entry points: `bayestda.experiments.Experiment` names everything; `bayestda.attribution` holds the method
registry (`register`, `Method`); `bayestda.families` the model families (`ModelFamily`, `register_family`);
`bayestda.scores.load` reads scores and `bayestda.scores.run_scores` writes a seed's; `bayestda.analysis.posterior_test`
tests anyone's scores; `bayestda.launch.stages` is the stage graph every runner reads. Layers: docs/architecture.md.
"""

__version__ = "0.5.0"
