"""The confidence threshold below which a prediction becomes `unknown`, and how it is chosen.

The rule (Chow's reject option, made empirical): sending a ticket to a person
(`unknown`, `needs_review`) costs `review_cost`, a wrong category costs 1 (a misrouted
ticket: wrong queue, wrong tier, an SLA at risk). On held-out validation data we take
the threshold that minimises

    (accepted predictions that are wrong) + review_cost * (predictions rejected)

where, when the data has an out-of-scope label, every accepted out-of-scope example
counts as wrong, so the threshold also learns to turn those away. The cost is flat
between two neighbouring validation confidences; within the best such interval we take
the point nearest 1 - review_cost, the Bayes-optimal threshold for calibrated
probabilities (accept when P(right) > 1 - review_cost). So with a small or very clean
validation split the threshold falls back to that principled value instead of to 0:
an earlier rule ("lowest threshold with >= 95% accuracy on accepted") gave threshold 0,
i.e. never `unknown`, once the validation accuracy passed 95%.

The default review cost 0.25 says a misrouted ticket costs about four reviews.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ThresholdChoice:
    threshold: float
    coverage: float            # share of validation examples accepted
    selective_accuracy: float  # accuracy among them
    cost: float                # mean cost per validation example at the threshold

    def to_dict(self) -> dict[str, float]:
        return {"threshold": self.threshold, "coverage": self.coverage,
                "selective_accuracy": self.selective_accuracy, "cost": self.cost}


def choose_threshold(confidence: np.ndarray, correct: np.ndarray,
                     review_cost: float = 0.25) -> ThresholdChoice:
    """Apply the module's rule; `correct[i]` is False for wrong and for out-of-scope examples."""
    conf = np.asarray(confidence, dtype=np.float64)
    corr = np.asarray(correct, dtype=bool)
    n = conf.size
    prior = 1.0 - review_cost
    if n == 0:
        return ThresholdChoice(prior, float("nan"), float("nan"), float("nan"))
    order = np.argsort(conf, kind="stable")
    c, ok = conf[order], corr[order]
    # Rejecting the k least confident (k = 0..n): wrong among the rest + review_cost * k.
    wrong_after = np.concatenate((np.cumsum((~ok)[::-1])[::-1], [0]))
    k = np.arange(n + 1)
    cost = wrong_after + review_cost * k
    # Only cuts between different confidences are thresholds (ties go together).
    valid = np.ones(n + 1, dtype=bool)
    valid[1:n] = c[1:] != c[:-1]
    best_cost = cost[valid].min()
    best = np.flatnonzero(valid & np.isclose(cost, best_cost))
    # Threshold interval of cut k: (c[k-1], c[k]]; pick the point nearest 1 - review_cost.
    lo = np.where(best > 0, np.nextafter(c[np.maximum(best - 1, 0)], np.inf), 0.0)
    hi = np.where(best < n, c[np.minimum(best, n - 1)], 1.0)
    candidates = np.clip(prior, lo, hi)
    i = int(np.argmin(np.abs(candidates - prior)))
    threshold = float(candidates[i])
    accepted = conf >= threshold
    return ThresholdChoice(threshold, float(accepted.mean()),
                           float(corr[accepted].mean()) if accepted.any() else float("nan"),
                           float(best_cost / n))


def coverage_table(confidence: np.ndarray, correct: np.ndarray,
                   thresholds: list[float]) -> list[dict[str, float]]:
    """Coverage and accuracy on accepted at fixed thresholds (a row per threshold)."""
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    rows = []
    for t in thresholds:
        accepted = confidence >= t
        n = int(accepted.sum())
        rows.append({"threshold": float(t),
                     "coverage": n / confidence.size if confidence.size else 0.0,
                     "selective_accuracy": float(correct[accepted].mean()) if n else float("nan")})
    return rows
