"""Naming: an `Experiment` names every file of an experiment; `commands` builds every command line; `studies`
names sets of experiments."""

from .experiment import Experiment

__all__ = ["Experiment"]
