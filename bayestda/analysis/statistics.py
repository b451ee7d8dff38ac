"""The posterior tests of a pair's scores, each named by the question it answers.

The samples of a pair are its S per-seed values (each seed's mean over its last K checkpoints); μ and σ (ddof=1)
are their mean and spread.

- `z (paper)`, the default (fidelity): z = μ/σ, p = 2·(1 − Φ(|z|)). It divides by σ, not by the standard error
  σ/√S, so "p < 0.05" means |μ|/σ > 1.96: **is one model's score sign-reliable** (most of the posterior's mass on
  one side of 0)? It is no 5% test of a non-zero mean: on iid noise it fires at 2·P(|T| > 1.96·√S) with
  T ~ t(S−1), about 1.6e-4 at S = 10.
- `t`: the one-sample t-test, t = μ·√S/σ with S − 1 dof: **is the posterior mean non-zero?** A 5% test.
- `sign`: the exact two-sided binomial test of how many seeds are positive (zeros dropped): **do the seeds agree on
  the sign more than coin flips would?** Distribution-free; discrete, so its size is at most 5% (2.1% at S = 10).
- `predictive`: passes where the 95% prediction interval of a new sample, μ ± t(S−1)·σ·√(1 + 1/S), excludes 0:
  **will a new model's score have μ's sign?** The z-test's question with the small-sample threshold (2.37 at
  S = 10, not 1.96); its p-value is 2·P(T > |μ|/(σ·√(1 + 1/S))), T ~ t(S−1).

Zero variance: σ = 0 with μ ≠ 0 gives p = 0 (every sample agrees on a non-zero score); σ = 0 with μ = 0 gives
p = 1. No NaN is produced.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

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
    """The paper's p-values: z = μ/σ, p = 2·(1 − Φ(|z|)) (sign reliability of one model's score)."""
    mu, sigma = mean_std(samples)
    return 2 * stats.norm.sf(np.abs(_ratio(mu, sigma)))


def t_pvalues(samples: np.ndarray) -> np.ndarray:
    """One-sample t-test p-values with S − 1 degrees of freedom (as scipy.stats.ttest_1samp): a non-zero mean."""
    mu, sigma = mean_std(samples)
    t = _ratio(mu * np.sqrt(len(samples)), sigma)
    return 2 * stats.t.sf(np.abs(t), df=len(samples) - 1)


def sign_pvalues(samples: np.ndarray) -> np.ndarray:
    """Exact two-sided binomial (sign) test p-values of the positive count among the non-zero samples (as
    scipy.stats.binomtest(k, n).pvalue); p = 1 where every sample is 0."""
    positive = (samples > 0).sum(axis=0)
    nonzero = (samples != 0).sum(axis=0)
    smaller = np.minimum(positive, nonzero - positive)
    return _sign_table(len(samples))[nonzero, smaller]


@functools.lru_cache(maxsize=64)
def _sign_table(seeds: int) -> np.ndarray:
    """p[n, k] of the two-sided sign test with n non-zero samples, k of them on the rarer side: the binomial is
    symmetric, p = min(1, 2·P(X ≤ k)) with X ~ Bin(n, 1/2); p = 1 where n = 0."""
    n, k = np.meshgrid(np.arange(seeds + 1), np.arange(seeds + 1), indexing="ij")
    table = np.minimum(1.0, 2 * stats.binom.cdf(k, np.maximum(n, 1), 0.5))
    table[0] = 1.0
    return table


def predictive_threshold(seeds: int, level: float = 0.95) -> float:
    """|μ|/σ above which the prediction interval of a new sample excludes 0: t(S−1)·√(1 + 1/S)."""
    return float(stats.t.ppf(0.5 + level / 2, seeds - 1) * np.sqrt(1 + 1 / seeds))


def predictive_pvalues(samples: np.ndarray) -> np.ndarray:
    """p-values of the predictive rule: 2·P(T > |μ|/(σ·√(1 + 1/S))), T ~ t(S−1); p < 0.05 exactly where the 95%
    prediction interval of a new sample excludes 0."""
    mu, sigma = mean_std(samples)
    seeds = len(samples)
    return 2 * stats.t.sf(np.abs(_ratio(mu, sigma * np.sqrt(1 + 1 / seeds))), df=seeds - 1)


@dataclass(frozen=True)
class PosteriorTest:
    """One test of a pair's posterior samples: its name in the tables, the question it answers, its p-values."""

    key: str  # short, stable: file names and columns
    question: str
    pvalues: Callable[[np.ndarray], np.ndarray]
    label: Callable[[int], str]  # the `test` column of significance.csv, given the number of seeds
    noise_rate: Callable[[int], float]  # the fraction of pairs at p < 0.05 expected on iid normal noise, given S
    ratio_threshold: Callable[[int], float] | None = None  # p < 0.05 exactly where |μ|/σ exceeds it (given S)

    def passing(self, samples: np.ndarray) -> np.ndarray:
        """Where p < 0.05, without computing p where a threshold on |μ|/σ says it (the seed-count study's speed)."""
        if self.ratio_threshold is None:
            return self.pvalues(samples) < 0.05
        mu, sigma = mean_std(samples)
        return np.abs(_ratio(mu, sigma)) > self.ratio_threshold(len(samples))


def z_noise_rate(seeds: int) -> float:
    """P(|μ|/σ > 1.96) on iid normal noise: |T| > 1.96·√S with T ~ t(S−1)."""
    return float(2 * stats.t.sf(stats.norm.ppf(0.975) * np.sqrt(seeds), seeds - 1))


def sign_noise_rate(seeds: int) -> float:
    """The exact size of the two-sided sign test at 0.05 (below 5%: the binomial is discrete)."""
    k = np.arange(seeds + 1)
    p = np.minimum(1.0, 2 * stats.binom.cdf(np.minimum(k, seeds - k), seeds, 0.5))
    return float(stats.binom.pmf(k, seeds, 0.5)[p < 0.05].sum())


def predictive_noise_rate(seeds: int) -> float:
    """P(prediction interval excludes 0) on iid normal noise: |T| > t(S−1)·√(S+1)."""
    return float(2 * stats.t.sf(stats.t.ppf(0.975, seeds - 1) * np.sqrt(seeds + 1), seeds - 1))


Z_TEST = "z (paper)"
TESTS = (
    PosteriorTest("z", "sign-reliable: |μ|/σ > 1.96, one model's sign (the paper's test)", z_pvalues,
                  lambda seeds: Z_TEST, z_noise_rate, lambda seeds: float(stats.norm.ppf(0.975))),
    PosteriorTest("t", "non-zero posterior mean: one-sample t-test, S−1 dof", t_pvalues,
                  lambda seeds: f"t, {seeds - 1} dof", lambda seeds: 0.05,
                  lambda seeds: float(stats.t.ppf(0.975, seeds - 1) / np.sqrt(seeds))),
    PosteriorTest("sign", "seeds agree on the sign: exact binomial sign test", sign_pvalues,
                  lambda seeds: f"sign, {seeds} seeds", sign_noise_rate),
    PosteriorTest("predictive", "a new model's sign: 95% prediction interval excludes 0, |μ|/σ > t(S−1)·√(1+1/S)",
                  predictive_pvalues, lambda seeds: f"predictive, {seeds - 1} dof", predictive_noise_rate,
                  predictive_threshold),
)
TEST_BY_KEY = {test.key: test for test in TESTS}


def fractions_passing(samples: np.ndarray) -> dict[str, float]:
    """{test key: fraction of pairs at p < 0.05} for every test, μ/σ computed once for the tests that threshold it
    (what the seed-count study and the nulls compute thousands of times)."""
    ratio = None
    out = {}
    for test in TESTS:
        if test.ratio_threshold is None:
            out[test.key] = float(np.count_nonzero(test.pvalues(samples) < 0.05)) / samples[0].size
            continue
        if ratio is None:
            ratio = np.abs(_ratio(*mean_std(samples)))
        out[test.key] = float(np.count_nonzero(ratio > test.ratio_threshold(len(samples)))) / samples[0].size
    return out


def named_test(label: str) -> PosteriorTest:
    """The test a `test` column entry of significance.csv names ("z (paper)", "t, 9 dof", "sign, 10 seeds", ...)."""
    key = "z" if label == Z_TEST else label.split(",")[0]
    return TEST_BY_KEY[key]


def benjamini_hochberg(pvalues: np.ndarray, alpha: float = 0.05) -> np.ndarray:
    """Boolean mask of the p-values significant after Benjamini-Hochberg at level alpha (scipy's adjusted p-values)."""
    flat = np.asarray(pvalues, dtype=np.float64).ravel()
    return (stats.false_discovery_control(flat, method="bh") <= alpha).reshape(np.shape(pvalues))


def holm(pvalues: np.ndarray, alpha: float = 0.05) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error at any alpha: reject where adjusted ≤ alpha)."""
    flat = np.asarray(pvalues, dtype=np.float64).ravel()
    order = np.argsort(flat, kind="stable")
    m = len(flat)
    stepped = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * flat[order]))
    adjusted = np.empty(m)
    adjusted[order] = stepped
    return adjusted.reshape(np.shape(pvalues))


def signal_to_noise(samples: np.ndarray) -> np.ndarray:
    """μ/σ per pair (the paper's z), with the zero-variance convention above."""
    mu, sigma = mean_std(samples)
    return _ratio(mu, sigma)
