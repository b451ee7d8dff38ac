"""Score files and the per-seed pipeline that writes them.

`bayestda.scores.load(experiment, method, seed, ckpt)` reads one score file (the paper's layout: `files`);
`bayestda.scores.run_scores(experiment, seed, methods)` computes and writes a seed's (`pipeline`).
"""

from .files import is_done, load, load_array, missing, record_method, residuals_path, to_frame, write, write_residuals
from .pipeline import compute, inverse_hvp_path, make_context, run_inverse_hvps, run_scores

__all__ = ["compute", "inverse_hvp_path", "is_done", "load", "load_array", "make_context", "missing", "record_method",
           "residuals_path", "run_inverse_hvps", "run_scores", "to_frame", "write", "write_residuals"]
