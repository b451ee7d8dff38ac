"""The paper's test of H0: E[τ] = 0 across posterior samples, and the checks we add beside it.

Paper (default): for each pair, μ and σ (ddof=1) over the 10 seeds of the per-seed mean of the last K
checkpoints; z = μ/σ; p = 2·(1 − Φ(|z|)). Note that z divides by σ, not by the standard error σ/√S.
Added: the one-sample t-test (t = μ·√S/σ, S − 1 degrees of freedom: 9 for the paper's 10 seeds), the fraction
of pairs with p < 0.05 and the number of pairs significant after Benjamini-Hochberg at 5% (scipy's).
Zero variance: σ = 0 with μ ≠ 0 gives z = ±inf and p = 0 (every posterior sample agrees on a non-zero
score); σ = 0 with μ = 0 gives p = 1 (no evidence against H0). No NaN is produced.
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def mean_std(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """μ and σ (ddof=1) over the first axis (the posterior samples)."""
    return samples.mean(axis=0), samples.std(axis=0, ddof=1)


def _ratio(numerator: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = numerator / sigma
        return np.where(sigma == 0, np.where(numerator == 0, 0.0, np.sign(numerator) * np.inf), ratio)


def z_pvalues(samples: np.ndarray) -> np.ndarray:
    """The paper's p-values: z = μ/σ, p = 2·(1 − Φ(|z|))."""
    mu, sigma = mean_std(samples)
    return 2 * stats.norm.sf(np.abs(_ratio(mu, sigma)))


def t_pvalues(samples: np.ndarray) -> np.ndarray:
    """One-sample t-test p-values with S − 1 degrees of freedom (as scipy.stats.ttest_1samp)."""
    mu, sigma = mean_std(samples)
    t = _ratio(mu * np.sqrt(len(samples)), sigma)
    return 2 * stats.t.sf(np.abs(t), df=len(samples) - 1)


def benjamini_hochberg(pvalues: np.ndarray, alpha: float = 0.05) -> np.ndarray:
    """Boolean mask of the p-values significant after Benjamini-Hochberg at level alpha (scipy's adjusted p-values)."""
    flat = np.asarray(pvalues, dtype=np.float64).ravel()
    return (stats.false_discovery_control(flat, method="bh") <= alpha).reshape(np.shape(pvalues))


def signal_to_noise(samples: np.ndarray) -> np.ndarray:
    """μ/σ per pair (the paper's z), with the zero-variance convention above."""
    mu, sigma = mean_std(samples)
    return _ratio(mu, sigma)
