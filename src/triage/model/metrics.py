"""One evaluation report, shared by `triage train`, `triage evaluate`, the default build
and the benchmarks, so that a figure means the same thing wherever it is printed."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from triage.model.threshold import coverage_table

#: Thresholds of the coverage-vs-accuracy table (the model's own threshold is added).
TABLE_THRESHOLDS = [0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95]


def report(y_true: Sequence[str], proba: np.ndarray, model_labels: Sequence[str],
           threshold: float, confidence: np.ndarray | None = None,
           groups: Sequence[str] | None = None) -> dict[str, Any]:
    """Accuracy and macro-F1 of the top-1 prediction (no abstention), per-class precision,
    recall and F1, the confusion matrix, and abstention at `threshold` and a few others.

    `confidence` is what the threshold applies to (the model's P(right); default the top
    probability). `groups` (e.g. each text's language) adds accuracy and macro-F1 per group
    under "by_group".

    Labels in `y_true` that the model does not know are kept as rows of their own: the
    model can never predict them, so each such example counts as an error.
    """
    y_true = np.asarray([str(y) for y in y_true], dtype=object)
    model_labels = [str(x) for x in model_labels]
    n = y_true.size
    top = proba.argmax(axis=1) if n else np.empty(0, dtype=int)
    if confidence is None:
        confidence = proba[np.arange(n), top] if n else np.empty(0)
    confidence = np.asarray(confidence, dtype=np.float64)
    y_pred = np.asarray(model_labels, dtype=object)[top] if n else np.empty(0, dtype=object)
    extra = sorted(set(y_true.tolist()) - set(model_labels))
    labels = model_labels + extra
    index = {lab: i for i, lab in enumerate(labels)}
    t_idx = np.fromiter((index[y] for y in y_true), dtype=np.int64, count=n)
    p_idx = np.fromiter((index[y] for y in y_pred), dtype=np.int64, count=n)
    k = len(labels)
    confusion = np.bincount(t_idx * k + p_idx, minlength=k * k).reshape(k, k)
    tp = np.diag(confusion).astype(float)
    support = confusion.sum(axis=1)
    predicted = confusion.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    present = support > 0                      # macro-F1 over the labels that occur in the data
    correct = y_pred == y_true
    accepted = confidence >= threshold
    thresholds = sorted(set(TABLE_THRESHOLDS) | {round(float(threshold), 4)})
    rep = {
        "n": int(n),
        "accuracy": float(correct.mean()) if n else float("nan"),
        "macro_f1": float(f1[present].mean()) if present.any() else float("nan"),
        "labels": labels,
        "unknown_to_model": extra,
        "per_class": {lab: {"precision": float(precision[i]), "recall": float(recall[i]),
                            "f1": float(f1[i]), "support": int(support[i])}
                      for i, lab in enumerate(labels)},
        "confusion": confusion.tolist(),
        "threshold": float(threshold),
        "coverage": float(accepted.mean()) if n else float("nan"),
        "selective_accuracy": float(correct[accepted].mean()) if accepted.any() else float("nan"),
        "coverage_table": coverage_table(confidence, correct, thresholds),
        "ece": expected_calibration_error(confidence, correct),
    }
    if groups is not None:
        g = np.asarray([str(x) for x in groups], dtype=object)
        rep["by_group"] = {}
        for name in sorted(set(g.tolist())):
            rows = g == name
            rep["by_group"][name] = {"n": int(rows.sum()), "accuracy": float(correct[rows].mean()),
                                     "macro_f1": float(np.mean(_group_f1(t_idx[rows], p_idx[rows], k))),
                                     "coverage": float(accepted[rows].mean())}
    return rep


def _group_f1(t_idx: np.ndarray, p_idx: np.ndarray, k: int) -> np.ndarray:
    """Per-class F1 within a subset, over the classes that occur in it."""
    confusion = np.bincount(t_idx * k + p_idx, minlength=k * k).reshape(k, k)
    tp = np.diag(confusion).astype(float)
    support, predicted = confusion.sum(axis=1), confusion.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return f1[support > 0]


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """Mean |accuracy - confidence| over 10 equal-width confidence bins, weighted by bin size:
    how far "0.8 confident" is from "right 80% of the time" (0 is perfectly calibrated)."""
    if confidence.size == 0:
        return float("nan")
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    n = np.bincount(which, minlength=bins)
    gap = np.abs(np.bincount(which, weights=correct.astype(float), minlength=bins)
                 - np.bincount(which, weights=confidence, minlength=bins))
    return float(gap.sum() / n.sum())


def format_report(rep: dict[str, Any]) -> str:
    """The report as a few plain-text tables for a terminal."""
    lines = [f"examples: {rep['n']}",
             f"accuracy (top-1, no abstention): {rep['accuracy']:.4f}",
             f"macro-F1: {rep['macro_f1']:.4f}",
             f"expected calibration error (top-1 confidence, 10 bins): {rep['ece']:.4f}",
             f"threshold {rep['threshold']:.3f}: coverage {rep['coverage']:.4f}, "
             f"accuracy on accepted {rep['selective_accuracy']:.4f}"]
    if rep["unknown_to_model"]:
        lines.append("labels the model does not know (all counted as errors): "
                     + ", ".join(rep["unknown_to_model"]))
    width = max(12, *(len(lab) for lab in rep["labels"]))
    lines += ["", f"{'class':<{width}}  precision  recall     f1  support"]
    for lab, m in rep["per_class"].items():
        lines.append(f"{lab:<{width}}  {m['precision']:9.3f}  {m['recall']:6.3f}  {m['f1']:5.3f}"
                     f"  {m['support']:7d}")
    lines += ["", "confusion matrix (rows: true, columns: predicted, in the order above)"]
    for lab, row in zip(rep["labels"], rep["confusion"]):
        lines.append(f"{lab:<{width}}  " + " ".join(f"{v:4d}" for v in row))
    groups = rep.get("by_language") or rep.get("by_group")
    if groups:
        lines += ["", f"{'language':<12}  texts  accuracy  macro-F1  coverage"]
        for name, g in groups.items():
            lines.append(f"{name:<12}  {g['n']:5d}  {g['accuracy']:8.4f}  {g['macro_f1']:8.4f}"
                         f"  {g['coverage']:8.4f}")
    lines += ["", "threshold  coverage  accuracy on accepted"]
    for row in rep["coverage_table"]:
        lines.append(f"{row['threshold']:9.3f}  {row['coverage']:8.3f}  {row['selective_accuracy']:20.3f}")
    return "\n".join(lines)
