"""`bayestda.pipeline`: where `run_scores` lived before 0.4, kept for scripts written against it. New code imports
`bayestda.scores` (`from bayestda.scores import run_scores`)."""

from .scores.pipeline import compute, inverse_hvp_path, make_context, run_inverse_hvps, run_scores

__all__ = ["compute", "inverse_hvp_path", "make_context", "run_inverse_hvps", "run_scores"]
