"""How many posterior samples does the test need? Every test and the within-class metrics recomputed on subsets of
the seeds, against the full run.

For S in `SEED_COUNTS` (those below the run's seeds, and the run's own), up to `SUBSETS` subsets of S seeds
(all of them where there are fewer; drawn with a fixed generator) and every K: each test's fraction of pairs at
p < 0.05, the posterior-mean within-class LOO correlation and within-class LDS
(the LOO truth stays the full run's: the reference a reader compares against). A value "holds" at S where at least
`HOLDS` of the subsets of S seeds give a value inside the full run's 95% interval (the metric's `_cond_` interval;
for the sign-reliable fraction, its interval over test items: a seed bootstrap of a spread-based test is biased, as
repeated seeds shrink σ); `smallest_S` per method is the smallest S at which it holds and keeps holding (NaN:
not even the full run's own seeds, as for a fraction whose interval is narrower than one pair's worth).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from ..data.subset_losses import SubsetLosses
from .classes import ItemClasses
from .metrics import PreparedTarget, bounds
from .posterior import PosteriorScores
from .resampling import Draws, item_weighted, percentile_interval
from .statistics import TEST_BY_KEY, fractions_passing

SEED_COUNTS = (3, 5, 7)
SUBSETS = 20
HOLDS = 0.9
Z_THRESHOLD = 1.959963984540054  # Φ⁻¹(0.975): the paper's z-test passes where |μ|/σ exceeds it


def seed_subsets(n_seeds: int, size: int, limit: int = SUBSETS, seed: int = 0) -> list[tuple[int, ...]]:
    """Every subset of `size` of n_seeds seeds, or `limit` of them drawn without repeats."""
    every = list(combinations(range(n_seeds), size))
    if len(every) <= limit:
        return every
    chosen = np.random.default_rng(seed).choice(len(every), limit, replace=False)
    return [every[i] for i in sorted(chosen)]


def sign_reliable_interval(samples: np.ndarray, draws: Draws) -> tuple[float, float]:
    """The z-test's fraction of pairs at p < 0.05 with its 95% interval over resampled test items (the seeds held:
    a seed bootstrap of a spread-based test is biased, as repeated seeds shrink σ); samples [S, n_train, n_test]."""
    per_item = TEST_BY_KEY["z"].passing(samples).mean(axis=0)
    return percentile_interval(item_weighted(per_item, draws))


def _metric_values(mean: np.ndarray, loo: PreparedTarget | None,
                   lds: tuple[np.ndarray, PreparedTarget] | None) -> dict[str, float]:
    """The within-class metrics of one seed subset's signed posterior mean [n_train, n_test]."""
    out = {}
    if loo is not None:
        out["loo_corr_within_class_mean"] = float(np.nanmean(loo.correlate(mean)))
    if lds is not None:
        subsets, target = lds
        out["lds_within_class_mean"] = float(np.nanmean(target.correlate(subsets @ mean)))
    return out


def seed_count_table(posteriors: dict[str, PosteriorScores], methods: pd.DataFrame, signs: dict[str, int],
                     truth: str | None, classes: ItemClasses | None, within_class_losses: SubsetLosses | None,
                     draws: Draws) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(seed_count.csv: one row per S, seed subset, K and method; seed_count_summary.csv: per method and S, the
    share of subsets inside the full run's interval, and the smallest S that holds)."""
    table = seed_count_rows(posteriors, signs, truth, classes, within_class_losses)
    return table, _holds(table, posteriors, methods, draws)


def seed_count_rows(posteriors: dict[str, PosteriorScores], signs: dict[str, int], truth: str | None,
                    classes: ItemClasses | None, within_class_losses: SubsetLosses | None) -> pd.DataFrame:
    """seed_count.csv's rows. Each seed's mean over its last K checkpoints is made once per method and K (a subset's
    samples are rows of it, its posterior mean their mean) and μ/σ once for the tests that threshold them:
    re-averaging per subset and per test was most of the table's time (1.5x: benchmarks/bench_reproduce_parts.py)."""
    n_seeds = len(next(iter(posteriors.values())).seeds)
    loo = None
    if truth is not None and classes is not None:
        loo = PreparedTarget.of(signs.get(truth, 1) * posteriors[truth].values.mean(axis=(0, 1)), classes=classes)
    lds = None
    if within_class_losses is not None:
        lds = (within_class_losses.subsets.astype(np.float64),
               PreparedTarget.of(-within_class_losses.losses.mean(axis=0)))
    per_seed = {(method, k): scores.last_k_mean(k) for method, scores in posteriors.items()
                for k in range(1, scores.num_checkpoints + 1)}  # [S, n_train, n_test] each
    rows = []
    for size in [s for s in SEED_COUNTS if s < n_seeds] + [n_seeds]:
        for number, seeds in enumerate(seed_subsets(n_seeds, size)):
            for method, scores in posteriors.items():
                for k in range(1, scores.num_checkpoints + 1):
                    samples = per_seed[method, k][list(seeds)]
                    row = {"S": size, "subset": number, "seeds": " ".join(str(scores.seeds[s]) for s in seeds),
                           "method": method, "K": k}
                    row.update({f"fraction_p_below_0.05_{key}": value for key, value in fractions_passing(samples).items()})
                    row.update(_metric_values(signs.get(method, 1) * samples.mean(axis=0), loo, lds))
                    rows.append(row)
    return pd.DataFrame(rows)


def _holds(table: pd.DataFrame, posteriors: dict[str, PosteriorScores], methods: pd.DataFrame,
           draws: Draws) -> pd.DataFrame:
    rows = []
    for method, scores in posteriors.items():
        k = int(methods.loc[method, "K"])
        intervals = {"fraction_p_below_0.05_z": sign_reliable_interval(scores.last_k_mean(k), draws)}
        for column in ("loo_corr_within_class_mean", "lds_within_class_mean"):
            if column in table.columns and bounds(column)[0] in methods.columns:
                intervals[column] = tuple(methods.loc[method, list(bounds(column))])
        at_k = table[(table["method"] == method) & (table["K"] == k)]
        for column, (low, high) in intervals.items():
            shares = {size: float(((group[column] >= low) & (group[column] <= high)).mean())
                      for size, group in at_k.groupby("S")}
            sizes = sorted(shares)
            holding = [s for s in sizes if all(shares[t] >= HOLDS for t in sizes if t >= s)]
            rows.append({"method": method, "K": k, "value": column, "full_run_lo": low, "full_run_hi": high,
                         **{f"inside_at_S={size}": share for size, share in shares.items()},
                         "smallest_S": min(holding) if holding else np.nan})
    return pd.DataFrame(rows)


__all__ = ["SEED_COUNTS", "seed_count_rows", "seed_count_table", "seed_subsets", "sign_reliable_interval"]
