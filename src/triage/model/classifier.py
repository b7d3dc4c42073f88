"""`TextClassifier`: n-gram TF-IDF features into a linear SVM, calibrated, with a threshold.

Why this shape: tickets are short, terse, bilingual (EN/DE) and full of ids and pasted
router output. Character n-grams inside words carry German compounds, inflections and
typos ("Störung", "stoerung", "störungen"); word uni/bigrams carry phrases ("no light",
"BGP session"). A linear SVM on those is the strongest cheap text classifier we
measured, and its cost at prediction time is one sparse product. Its scores are made
probabilities by `BackgroundSoftmax` on held-out data, and the same held-out data fixes
the threshold below which the router says `unknown` (rule: `threshold.py`).

scikit-learn conventions: every setting is a constructor argument, `fit` returns self,
what was learnt ends in `_`. scikit-learn is imported only inside `fit`: a saved model
holds numpy arrays and the classes of this package, so loading one to route tickets
does not import it.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from triage.model.calibration import BackgroundSoftmax
from triage.model.features import NgramFeaturizer
from triage.model.metrics import report
from triage.model.text import truncate
from triage.model.threshold import choose_threshold


class TextClassifier:
    """Text -> category probabilities, with a validation-chosen confidence threshold.

    Args:
        C: inverse regularisation of the linear SVM.
        word_ngrams, char_ngrams, min_df, max_word_features, max_char_features,
            fold_digits: featurizer settings (see `NgramFeaturizer`).
        class_weight: passed to `LinearSVC` (None or "balanced").
        val_fraction: share of each category held out to calibrate probabilities and
            choose the threshold, when `fit` gets no separate validation set.
        review_cost: cost of sending a text to review (`unknown`) relative to a wrong
            category (1); the threshold minimises the total on validation (`threshold.py`).
        oos_label: a label meaning "none of the categories" (e.g. CLINC150's "oos").
            Such examples are never a class; they teach the calibrator and the threshold
            what to turn away. They all go to validation.
        refit: after calibrating on the held-out split, train the final linear model on
            all the data (the calibration and threshold are kept).
        random_state: seed of the validation split and of the SVM's coordinate descent.
    """

    def __init__(self, C: float = 1.0, word_ngrams: tuple[int, int] = (1, 2),
                 char_ngrams: tuple[int, int] = (2, 5), min_df: int = 2,
                 max_word_features: int | None = 200_000, max_char_features: int | None = 300_000,
                 fold_digits: bool = True, class_weight: str | None = None,
                 val_fraction: float = 0.2, review_cost: float = 0.25,
                 oos_label: str | None = None, refit: bool = True,
                 random_state: int = 0):
        self.C = C
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.min_df = min_df
        self.max_word_features = max_word_features
        self.max_char_features = max_char_features
        self.fold_digits = fold_digits
        self.class_weight = class_weight
        self.val_fraction = val_fraction
        self.review_cost = review_cost
        self.oos_label = oos_label
        self.refit = refit
        self.random_state = random_state

    _PARAMS = ("C", "word_ngrams", "char_ngrams", "min_df", "max_word_features",
               "max_char_features", "fold_digits", "class_weight", "val_fraction",
               "review_cost", "oos_label", "refit", "random_state")

    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._PARAMS}

    # -- fitting -------------------------------------------------------------------------
    def fit(self, texts: Sequence[str], labels: Sequence[str],
            validation: tuple[Sequence[str], Sequence[str]] | None = None) -> TextClassifier:
        """Train, calibrate and choose the threshold.

        Without `validation`, a stratified `val_fraction` of each category (and every
        out-of-scope example) is held out for calibration and the threshold, and with
        `refit` the final model is then trained on all in-scope examples.
        """
        texts = truncate(texts)
        labels = np.array([str(x) for x in labels], dtype=object)
        if len(texts) != labels.size:
            raise ValueError(f"{len(texts)} texts but {labels.size} labels")
        in_scope = labels != self.oos_label if self.oos_label is not None else np.ones(labels.size, bool)
        if np.unique(labels[in_scope]).size < 2:
            raise ValueError("need examples of at least two categories to train")
        if validation is None:
            if not 0 < self.val_fraction < 1:
                raise ValueError("val_fraction must be between 0 and 1 without a validation set")
            train_idx, val_idx = self._split(labels, in_scope)
            val_texts = [texts[i] for i in val_idx]
            val_labels = labels[val_idx]
        else:
            train_idx = np.flatnonzero(in_scope)
            val_texts = truncate(validation[0])
            val_labels = np.array([str(x) for x in validation[1]], dtype=object)
        self._fit_linear([texts[i] for i in train_idx], labels[train_idx])
        self._calibrate(val_texts, val_labels)
        self.n_train_ = int(train_idx.size)
        if validation is None and self.refit:
            all_idx = np.flatnonzero(in_scope)
            self._fit_linear([texts[i] for i in all_idx], labels[all_idx])
            self.n_train_ = int(all_idx.size)
        return self

    def _split(self, labels: np.ndarray, in_scope: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Stratified split; a category with one example stays in training."""
        rng = np.random.default_rng(self.random_state)
        train, val = [], [np.flatnonzero(~in_scope)]
        for label in np.unique(labels[in_scope]):
            idx = rng.permutation(np.flatnonzero(labels == label))
            k = min(idx.size - 1, max(1, round(idx.size * self.val_fraction))) if idx.size > 1 else 0
            val.append(idx[:k])
            train.append(idx[k:])
        return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))

    def _fit_linear(self, texts: list[str], labels: np.ndarray) -> None:
        from sklearn.svm import LinearSVC  # only training needs scikit-learn

        self.featurizer_ = NgramFeaturizer(
            word_ngrams=self.word_ngrams, char_ngrams=self.char_ngrams, min_df=self.min_df,
            max_word_features=self.max_word_features, max_char_features=self.max_char_features,
            fold_digits=self.fold_digits)
        x = self.featurizer_.fit_transform(texts)
        # The dual solver: text has far more features than examples (primal was 10x slower here).
        svm = LinearSVC(C=self.C, class_weight=self.class_weight, dual=True,
                        random_state=self.random_state, max_iter=5000).fit(x, labels)
        self.classes_ = np.array([str(c) for c in svm.classes_])
        coef, intercept = svm.coef_, svm.intercept_
        if coef.shape[0] == 1:                     # binary: one score, s for class 1, -s for 0
            coef, intercept = np.vstack((-coef, coef)), np.concatenate((-intercept, intercept))
        # float32 and (features, classes) C-order: the layout of the hot sparse product.
        self.coef_ = np.ascontiguousarray(coef.T, dtype=np.float32)
        self.intercept_ = intercept.astype(np.float32)

    def _calibrate(self, texts: list[str], labels: np.ndarray) -> None:
        scores, oov = self._scores(texts)
        index = {c: i for i, c in enumerate(self.classes_)}
        y = np.array([index.get(lab, -1) for lab in labels], dtype=np.int64)
        # Labels the model lacks teach the background only if they mean "out of scope";
        # any other unseen label is left out of the fit (but still counts as an error below).
        usable = (y >= 0) | (labels == self.oos_label)
        self.calibrator_ = BackgroundSoftmax().fit(scores[usable], oov[usable], y[usable])
        proba = self.calibrator_.predict_proba(scores, oov)
        correct = self.classes_[proba.argmax(axis=1)] == labels.astype(str)
        choice = choose_threshold(proba.max(axis=1), correct, self.review_cost)
        self.threshold_ = choice.threshold
        self.validation_ = report(labels, proba, self.classes_, self.threshold_)
        self.validation_["threshold_rule"] = {"review_cost": self.review_cost,
                                              **choice.to_dict()}

    # -- prediction ----------------------------------------------------------------------
    def _scores(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Decision scores (texts x classes) and the share of unseen word n-grams per text."""
        x, oov = self.featurizer_.transform(truncate(texts), return_oov=True)
        return x @ self.coef_ + self.intercept_, oov

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities (texts x `classes_`); rows sum to 1 - P(out of scope)."""
        return self.calibrator_.predict_proba(*self._scores(texts))

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """The most probable class of each text (no threshold: see `LoadedModel.classify`)."""
        return self.classes_[self._scores(texts)[0].argmax(axis=1)]
