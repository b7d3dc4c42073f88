"""Turning linear decision scores into probabilities, with room for "none of these".

A linear SVM's scores rank classes well but are not probabilities. We fit, on held-out
data, a softmax over the scale-adjusted scores plus one *background* logit:

    p = softmax([b0 + b1 * oov, a * s_1, ..., a * s_K]),   P(class k) = p[k]

`a` is an inverse temperature (Guo et al., 2017, "On Calibration of Modern Neural
Networks"): one parameter, it keeps the ranking and fixes over/under-confidence.
A softmax alone only sees score *differences*, so a text unlike every class can still
get a confident top class; the background logit restores the absolute level, and
`oov` (the share of the text's word n-grams that the model never saw) is a cheap sign
of such a text. Measured on CLINC150 (threshold chosen on validation for in-scope
accuracy >= 0.92): out-of-scope recall 0.613 with temperature scaling alone, 0.629 with
the background logit. Thresholding the raw max SVM score does about as well (0.66 at
in-scope 0.919): calibrating is not about ranking but about confidences that mean what
they say (expected calibration error ~0.02 on the ticket test split), since the router
reports them and users set thresholds on them.

`b0, b1` can only be learnt from held-out examples of the out-of-scope kind. Without
them the background is off (b0 = -inf) and this is plain temperature scaling: the
class probabilities then sum to 1; with it they sum to 1 - P(out of scope).
"""
from __future__ import annotations

import numpy as np

_LOG_SCALE_BOUNDS = (np.log(0.5), np.log(50.0))   # inverse temperature in [0.5, 50]


class BackgroundSoftmax:
    """Softmax calibration of decision scores with an optional background (out-of-scope) logit."""

    def fit(self, scores: np.ndarray, oov: np.ndarray, y: np.ndarray) -> BackgroundSoftmax:
        """Maximum likelihood on held-out data; `y` is the class index, -1 for out of scope."""
        from scipy.optimize import minimize, minimize_scalar  # fitting only: keeps loading light
        from scipy.special import log_softmax

        scores = np.asarray(scores, dtype=np.float64)
        oov = np.asarray(oov, dtype=np.float64)
        y = np.asarray(y)
        out = y < 0
        self.background_ = bool(out.any())
        if not self.background_:
            rows = np.arange(y.size)

            def nll1(log_a: float) -> float:
                return -log_softmax(scores * np.exp(log_a), axis=1)[rows, y].mean()

            res = minimize_scalar(nll1, bounds=_LOG_SCALE_BOUNDS, method="bounded")
            self.scale_, self.bias_, self.oov_weight_ = float(np.exp(res.x)), -np.inf, 0.0
            return self
        # Column 0 is the background; class k sits in column k + 1.
        target = np.where(out, 0, y + 1)
        rows = np.arange(y.size)

        def nll(theta: np.ndarray) -> float:
            log_a, b0, b1 = theta
            z = np.concatenate(((b0 + b1 * oov)[:, None], scores * np.exp(log_a)), axis=1)
            return -log_softmax(z, axis=1)[rows, target].mean()

        res = minimize(nll, x0=np.array([np.log(5.0), 0.0, 0.0]), method="L-BFGS-B",
                       bounds=[_LOG_SCALE_BOUNDS, (-50.0, 50.0), (-50.0, 50.0)])
        log_a, b0, b1 = res.x
        self.scale_, self.bias_, self.oov_weight_ = float(np.exp(log_a)), float(b0), float(b1)
        return self

    def predict_proba(self, scores: np.ndarray, oov: np.ndarray) -> np.ndarray:
        """Class probabilities, one row per text (float64, rows sum to <= 1)."""
        z = np.asarray(scores, dtype=np.float64) * self.scale_
        if not self.background_:
            z -= z.max(axis=1, keepdims=True)
            np.exp(z, out=z)
            z /= z.sum(axis=1, keepdims=True)
            return z
        bg = self.bias_ + self.oov_weight_ * np.asarray(oov, dtype=np.float64)
        top = np.maximum(z.max(axis=1), bg)
        z -= top[:, None]
        np.exp(z, out=z)
        z /= (z.sum(axis=1) + np.exp(bg - top))[:, None]
        return z


class FusedSoftmax:
    """Late fusion of several members' per-class scores into one calibrated softmax:

        p = softmax([b0 + b1 * oov, sum_m w_m * S_m[:, 1], ..., sum_m w_m * S_m[:, K]])

    One non-negative weight per member (each member's inverse temperature and its say in
    the vote at once), fitted by maximum likelihood on held-out data, plus the background
    logit of `BackgroundSoftmax` when the held-out data has out-of-scope examples.
    Members here: linear-SVM scores on TF-IDF, log-probabilities of a logistic regression
    on sentence embeddings, and cosine similarity to each class's nearest training
    embedding. Few parameters, so a validation split of a few hundred texts fits them.
    """

    def fit(self, members: list[np.ndarray], oov: np.ndarray, y: np.ndarray) -> FusedSoftmax:
        from scipy.optimize import minimize
        from scipy.special import log_softmax

        members = [np.asarray(s, dtype=np.float64) for s in members]
        oov = np.asarray(oov, dtype=np.float64)
        y = np.asarray(y)
        out = y < 0
        self.background_ = bool(out.any())
        m = len(members)
        rows = np.arange(y.size)
        target = np.where(out, 0, y + 1)

        def logits(theta: np.ndarray) -> np.ndarray:
            z = sum(np.exp(theta[i]) * s for i, s in enumerate(members))
            bg = theta[m] + theta[m + 1] * oov if self.background_ else np.full(y.size, -1e9)
            return np.concatenate((bg[:, None], z), axis=1)

        def nll(theta: np.ndarray) -> float:
            return -log_softmax(logits(theta), axis=1)[rows, target].mean()

        x0 = np.r_[np.zeros(m), 0.0, 0.0]
        bounds = [(np.log(1e-3), np.log(100.0))] * m + [(-50.0, 50.0)] * 2
        res = minimize(nll, x0=x0, method="L-BFGS-B", bounds=bounds)
        self.weights_ = np.exp(res.x[:m])
        self.bias_, self.oov_weight_ = ((float(res.x[m]), float(res.x[m + 1])) if self.background_
                                        else (-np.inf, 0.0))
        return self

    def logits(self, members: list[np.ndarray]) -> np.ndarray:
        """The fused class logits (texts x classes), before the softmax."""
        return sum(w * np.asarray(s, dtype=np.float64) for w, s in zip(self.weights_, members))

    def predict_proba(self, members: list[np.ndarray], oov: np.ndarray) -> np.ndarray:
        """Class probabilities (rows sum to 1 - P(out of scope))."""
        z = self.logits(members)
        top = z.max(axis=1)
        if self.background_:
            bg = self.bias_ + self.oov_weight_ * np.asarray(oov, dtype=np.float64)
            top = np.maximum(top, bg)
        z -= top[:, None]
        np.exp(z, out=z)
        rest = np.exp(bg - top) if self.background_ else 0.0
        z /= (z.sum(axis=1) + rest)[:, None]
        return z
