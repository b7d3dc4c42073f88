"""How sure the model is that its top category is right: the number `unknown` is decided on.

Max-probability alone is a weak out-of-scope detector: a softmax only sees score
differences, so a text unlike every class can still get one confident class. Two
more signals see the absolute level:

- the **energy score** `logsumexp(logits)` (Liu et al., 2020, "Energy-based
  Out-of-distribution Detection"): high when some class fits well, low when none does;
- the **nearest-neighbour similarity**: cosine of the text's sentence embedding to the
  closest training text (only where the encoder ran);

plus the margin between the top two probabilities and the share of unseen word
n-grams. `Acceptor` combines them by logistic regression fitted on the validation
split to predict "the top category is right" (an out-of-scope example is never
right), so its output is a calibrated P(right). The router's threshold is applied to
it with the rule in `threshold.py` (least validation cost, a review costing
`review_cost` of an error). Two acceptors are fitted: one on the cheap signals, used
for texts the encoder did not see, and one on all signals.
"""
from __future__ import annotations

import numpy as np


def signals(proba: np.ndarray, logits: np.ndarray, oov: np.ndarray,
            nn_sim: np.ndarray | None = None) -> np.ndarray:
    """Feature rows for `Acceptor`: max prob, margin, energy, oov [, nn similarity]."""
    n = proba.shape[0]
    if proba.shape[1] >= 2:
        top2 = -np.partition(-proba, 1, axis=1)[:, :2]
        pmax, margin = top2[:, 0], top2[:, 0] - top2[:, 1]
    else:
        pmax = proba[:, 0] if n else np.empty(0)
        margin = pmax
    zmax = logits.max(axis=1) if n else np.empty(0)
    energy = zmax + np.log(np.exp(logits - zmax[:, None]).sum(axis=1)) if n else np.empty(0)
    cols = [pmax, margin, energy, np.asarray(oov, dtype=np.float64)]
    if nn_sim is not None:
        cols.append(nn_sim)
    return np.column_stack(cols).astype(np.float64)


class Acceptor:
    """P(top category right | signals), by a standardised logistic regression."""

    def fit(self, x: np.ndarray, correct: np.ndarray) -> Acceptor:
        correct = np.asarray(correct, dtype=bool)
        self.mean_ = x.mean(axis=0) if x.size else np.zeros(x.shape[1])
        self.scale_ = np.where(x.std(axis=0) > 1e-9, x.std(axis=0), 1.0) if x.size else np.ones(x.shape[1])
        if correct.all() or not correct.any():
            # Nothing to learn from: the max probability is the confidence.
            self.coef_, self.intercept_ = None, 0.0
            return self
        from sklearn.linear_model import LogisticRegression  # fitting only

        lr = LogisticRegression(C=1.0, max_iter=1000).fit((x - self.mean_) / self.scale_, correct)
        self.coef_ = lr.coef_[0].astype(np.float64)
        self.intercept_ = float(lr.intercept_[0])
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        """P(right) per row (the max probability when fitting had nothing to learn from)."""
        if self.coef_ is None:
            return x[:, 0].copy()
        z = ((x - self.mean_) / self.scale_) @ self.coef_ + self.intercept_
        return 1.0 / (1.0 + np.exp(-z))
