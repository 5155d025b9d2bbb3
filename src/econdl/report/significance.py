"""How sure are we that one classifier beats another on the same test images?

- A 95% bootstrap interval for each model's test accuracy: the test examples are resampled
  with replacement (a seeded generator, so the interval is repeatable) and the 2.5% and
  97.5% quantiles of the resampled accuracies are reported.
- An exact McNemar test of each model against the most accurate one.  It uses only the
  images on which the two disagree (one right, the other wrong), which is the right test for
  two models scored on the same images; the p-values are Holm-adjusted across the
  comparisons, so "p < 0.05" holds for the family of comparisons, not just one.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests


def hits(prediction: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Which test examples a model got right, from class scores (n, K) or labels (n,)."""
    prediction = np.asarray(prediction)
    labels = prediction.reshape(len(targets), -1).argmax(axis=1) if prediction.ndim > 1 else prediction
    return labels == np.asarray(targets).reshape(-1)


def bootstrap_interval(
    correct: np.ndarray, n_boot: int = 2000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the accuracy ``correct.mean()``.  ``correct`` is one
    model's right/wrong vector over the test examples, or a (seeds, examples) array of its fits
    with several seeds: the examples are resampled, the same draw for every seed, so the
    interval is that of the accuracy averaged over the seeds."""
    correct = np.asarray(correct, dtype=float)
    correct = correct.reshape(-1, correct.shape[-1]) if correct.ndim else correct.reshape(1, 1)
    n = correct.shape[1]
    if n == 0:
        raise ValueError("a bootstrap interval needs at least one test example, got none")
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(n_boot, n))
    by_example = correct.mean(axis=0)  # the share of seeds that got each example right
    accuracies = by_example[draws].mean(axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(accuracies, [tail, 1 - tail])
    return float(low), float(high)


def mcnemar_p(best: np.ndarray, other: np.ndarray) -> float:
    """Exact (binomial) McNemar p-value of two models' right/wrong vectors on the same examples."""
    best, other = np.asarray(best, bool), np.asarray(other, bool)
    table = [
        [int(np.sum(best & other)), int(np.sum(best & ~other))],
        [int(np.sum(~best & other)), int(np.sum(~best & ~other))],
    ]
    return float(mcnemar(table, exact=True).pvalue)


def significance_table(
    predictions: Mapping[str, np.ndarray | list[np.ndarray]], targets: np.ndarray, n_boot: int = 2000, seed: int = 0
) -> pd.DataFrame:
    """Per model: ``test_acc``, its bootstrap interval (``test_acc_ci_low``/``_high``), and the
    McNemar p-value against the most accurate model, raw (``p_vs_best_raw``) and Holm-adjusted
    (``p_vs_best``; empty for the best model itself).  A model given as a list of its seeds'
    predictions has the mean accuracy over them and its interval; its McNemar test uses its
    first seed (the test pairs one prediction per example with another's)."""
    seeds = {name: p if isinstance(p, list) else [p] for name, p in predictions.items()}
    by_seed = {name: np.stack([hits(np.asarray(p), targets) for p in ps]) for name, ps in seeds.items()}
    correct = {name: c[0] for name, c in by_seed.items()}
    rows = {}
    for name, c in by_seed.items():
        low, high = bootstrap_interval(c, n_boot=n_boot, seed=seed)
        rows[name] = {"test_acc": float(c.mean()), "test_acc_ci_low": low, "test_acc_ci_high": high}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame["p_vs_best_raw"] = np.nan
    frame["p_vs_best"] = np.nan
    best = frame["test_acc"].idxmax()
    others = [name for name in correct if name != best]
    if others:
        raw = [mcnemar_p(correct[best], correct[name]) for name in others]
        adjusted = multipletests(raw, method="holm")[1]
        frame.loc[others, "p_vs_best_raw"] = raw
        frame.loc[others, "p_vs_best"] = adjusted
    frame.attrs["best"] = best
    return frame
