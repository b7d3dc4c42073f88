"""Learning from corrections: merging them into training data, and the gate NEW must pass.

Used by `triage learn` (see `triage.cli.learn_cmd` for the protocol). Kept here, apart
from the CLI, so the gate can be called from code and tested without a terminal.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from triage.model.features import normalise
from triage.model.metrics import report


def stratified_holdout(labels: Sequence[str], share: float, seed: int) -> tuple[list[int], list[int]]:
    """(train, held-out) row indices: `share` of each label held out; a label with one row
    stays in training (it could not be both learnt and measured)."""
    rng = np.random.default_rng(seed)
    y = np.asarray(labels, dtype=object)
    train: list[int] = []
    test: list[int] = []
    for label in sorted(set(y.tolist())):
        idx = rng.permutation(np.flatnonzero(y == label)).tolist()
        k = min(len(idx) - 1, max(1, round(len(idx) * share))) if len(idx) > 1 else 0
        test += idx[:k]
        train += idx[k:]
    return sorted(train), sorted(test)


def merge_corrections(texts: Sequence[str], labels: Sequence[str], fix_texts: Sequence[str],
                      fix_labels: Sequence[str]) -> tuple[list[str], list[str]]:
    """Training rows plus corrections; a correction replaces every training row with the same
    text (after lower-casing and collapsing whitespace): the agent's label wins."""
    corrected = {normalise(t) for t in fix_texts}
    keep = [(t, lab) for t, lab in zip(texts, labels) if normalise(t) not in corrected]
    return [t for t, _ in keep] + list(fix_texts), [lab for _, lab in keep] + list(fix_labels)


def compare(current: Any, new: Any, texts: Sequence[str], labels: Sequence[str],
            tolerance: float) -> dict[str, Any]:
    """Evaluate CUR (a loaded model) and NEW (a fitted `TextClassifier`) on the same texts.

    NEW is refused when its accuracy or macro-F1 is below CUR's by more than
    `tolerance` plus the held-out split's own noise: 1.645 standard errors of the paired
    accuracy difference, sqrt(b + c) / n with b and c the texts only CUR, or only NEW,
    gets right (a one-sided 95 % bound). Without that term a split of a hundred texts
    refuses a model for one unlucky text: measured on the shipped model, with the test
    set as corrections, NEW lost 3 and won 1 of 117 held-out texts (-0.017) and was
    refused at a tolerance of 0.005.
    """
    y = np.asarray([str(x) for x in labels], dtype=object)
    cur_pred = current.predict(texts)
    new_pred = new.predict_full(texts, current.encoder_budget)
    cur = report(labels, cur_pred.proba, current.labels, current.threshold, cur_pred.confidence)
    nxt = report(labels, new_pred.proba, new.classes_, new.threshold_, new_pred.confidence)
    cur_right = np.asarray(current.labels, dtype=object)[cur_pred.proba.argmax(axis=1)] == y
    new_right = new.classes_[new_pred.proba.argmax(axis=1)].astype(object) == y
    only_cur, only_new = int((cur_right & ~new_right).sum()), int((new_right & ~cur_right).sum())
    noise = 1.645 * float(np.sqrt(only_cur + only_new)) / max(len(y), 1)
    allowed = tolerance + noise
    delta = {k: nxt[k] - cur[k] for k in ("accuracy", "macro_f1")}
    reasons = [f"{k} {nxt[k]:.4f} is {-d:.4f} below CUR's {cur[k]:.4f}"
               for k, d in delta.items() if d < -allowed]
    per_class = {}
    for label in sorted(set(cur["per_class"]) | set(nxt["per_class"])):
        a = cur["per_class"].get(label, {"f1": 0.0, "support": 0})
        b = nxt["per_class"].get(label, {"f1": 0.0, "support": 0})
        if max(a["support"], b["support"]) == 0:
            continue                         # a class of one model that the split lacks
        per_class[label] = {"support": max(a["support"], b["support"]), "f1_current": a["f1"],
                            "f1_new": b["f1"], "delta_f1": b["f1"] - a["f1"]}
    return {"accepted": not reasons, "reasons": reasons, "tolerance": tolerance,
            "noise_allowance": noise, "allowed_drop": allowed, "n_holdout": len(texts),
            "only_current_right": only_cur, "only_new_right": only_new,
            "current": {k: cur[k] for k in ("accuracy", "macro_f1", "coverage")},
            "new": {k: nxt[k] for k in ("accuracy", "macro_f1", "coverage")},
            "delta": delta, "per_class": per_class}
