"""The text model the benchmarks use, and a plain scikit-learn reference.

In order of preference:
1. the project's default model (`models/default/`, loaded with `triage.model.load_model`);
2. otherwise the project's `TextClassifier` trained here on `models/corpus/*.jsonl`
   (saved to a temporary folder when the package can save it, so `triage route` can
   load it too);
3. otherwise a plain scikit-learn word+char TF-IDF `LinearSVC` trained here.
`info["kind"]` says which one was used, and the reports say it.

`sklearn_reference()` is always the plain word (1-2) + char_wb (2-5) TF-IDF LinearSVC
pipeline: the "plain scikit-learn SVC" a reader compares a text classifier against.
"""
from __future__ import annotations

import hashlib
import importlib
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from _tickets import ROOT, load_corpus

DEFAULT_DIR = ROOT / "models" / "default"


@dataclass(frozen=True)
class Classification:
    category: str
    confidence: float
    top: tuple[tuple[str, float], ...]


class _ProbaModel:
    """Adapts an in-process estimator to the router's model protocol (`classify`, `version`, `path`)."""

    def __init__(self, classes: Sequence[str], proba_fn: Any, threshold: float, version: str):
        self.classes = np.asarray(classes, dtype=object)
        self.proba_fn = proba_fn
        self.threshold = threshold
        self.version = version
        self.path = None

    def classify(self, texts: Sequence[str]) -> list[Classification]:
        if not texts:
            return []
        p = self.proba_fn(list(texts))
        best = p.argmax(axis=1)
        conf = p[np.arange(len(best)), best]
        top3 = np.argsort(-p, axis=1)[:, :3]
        out = []
        for i in range(len(best)):
            c = float(conf[i])
            cat = self.classes[best[i]] if c >= self.threshold else "unknown"
            out.append(Classification(cat, c, tuple((self.classes[j], float(p[i, j])) for j in top3[i])))
        return out


def _corpus_xy() -> tuple[list[str], list[str]]:
    c = load_corpus()
    return [f"{s}\n{b}" for s, b, _ in c], [lab for *_, lab in c]


def _softmax(scores: np.ndarray) -> np.ndarray:
    z = np.exp(3.0 * (scores - scores.max(axis=1, keepdims=True)))
    return z / z.sum(axis=1, keepdims=True)


def sklearn_reference(texts: list[str] | None = None, labels: list[str] | None = None) -> tuple[Any, float]:
    """(fitted plain pipeline, seconds to fit)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline, make_union
    from sklearn.svm import LinearSVC

    if texts is None:
        texts, labels = _corpus_xy()
    t0 = time.perf_counter()
    pipe = make_pipeline(make_union(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2),
                                    TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True,
                                                    min_df=2)),
                         LinearSVC(random_state=0))
    pipe.fit(texts, labels)
    return pipe, time.perf_counter() - t0


def get_model(log: Any = print) -> tuple[Any, dict[str, Any]]:
    """(model for `Triage(model=...)`, info). info["dir"] is a folder `triage route --model`
    can load, or None when the model exists only in this process."""
    if (DEFAULT_DIR / "manifest.json").is_file():
        try:
            from triage.model import load_model

            t0 = time.perf_counter()
            model = load_model(DEFAULT_DIR)
            return model, {"kind": "default", "dir": str(DEFAULT_DIR),
                           "description": f"the project's default model ({DEFAULT_DIR.relative_to(ROOT)})",
                           "load_seconds": round(time.perf_counter() - t0, 3)}
        except Exception as exc:  # a half-written model while others work on it
            log(f"models/default exists but does not load ({type(exc).__name__}: {exc}); training one here")
    cached = _cached()
    if cached is not None:
        model, info = cached
        info = dict(info, description=info["description"] + " (reused from an earlier benchmark of this checkout)")
        return model, info
    texts, labels = _corpus_xy()
    try:
        from triage.model.classifier import TextClassifier
    except Exception:
        TextClassifier = None
    if TextClassifier is not None:
        t0 = time.perf_counter()
        clf = TextClassifier(random_state=0).fit(texts, labels)
        fit_s = time.perf_counter() - t0
        info = {"kind": "TextClassifier", "fit_seconds": round(fit_s, 2), "dir": None, "n_train": len(texts),
                "description": f"no models/default yet: the project's TextClassifier trained in the benchmark on "
                               f"models/corpus ({len(texts):,} texts, {fit_s:.1f} s)"}
        saved = _try_save(clf, log)
        if saved is not None:
            from triage.model import load_model

            import json

            info["dir"] = str(saved)
            info["description"] += ", saved to a temporary folder so that `triage route --model` loads it"
            (saved / "bench-info.json").write_text(json.dumps(info))
            return load_model(saved), info
        digest = hashlib.sha256(repr(clf.get_params()).encode()).hexdigest()[:16]
        return _ProbaModel(clf.classes_, clf.predict_proba, float(getattr(clf, "threshold_", 0.0)),
                           f"bench:{digest}"), info
    pipe, fit_s = sklearn_reference(texts, labels)
    info = {"kind": "sklearn", "fit_seconds": round(fit_s, 2), "dir": None, "n_train": len(texts),
            "description": f"no models/default and no TextClassifier: a plain scikit-learn word+char TF-IDF "
                           f"LinearSVC trained in the benchmark on models/corpus ({fit_s:.1f} s)"}
    return _ProbaModel(pipe.classes_, lambda t: _softmax(pipe.decision_function(t)), 0.0, "bench:sklearn"), info


def _cache_dir() -> Path:
    """Where a model trained here is kept for the other benchmarks of the run: keyed by the
    corpus and the model code, so any change to either trains a new one."""
    h = hashlib.sha256()
    files = sorted((ROOT / "models" / "corpus").glob("*.jsonl"))
    files += sorted((ROOT / "src" / "triage" / "model").glob("*.py"))
    for p in files:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return Path(tempfile.gettempdir()) / f"triage-bench-model-{h.hexdigest()[:16]}"


def _cached() -> tuple[Any, dict[str, Any]] | None:
    folder = _cache_dir()
    if not (folder / "manifest.json").is_file() or not (folder / "bench-info.json").is_file():
        return None
    try:
        import json

        from triage.model import load_model

        info = json.loads((folder / "bench-info.json").read_text())
        return load_model(folder), info
    except Exception:
        return None


def _try_save(clf: Any, log: Any) -> Path | None:
    """Save through the package's own API when it has one (it is being written in parallel)."""
    try:
        mod = importlib.import_module("triage.model")
    except Exception:
        return None
    folder = _cache_dir()
    if folder.exists():
        import shutil

        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name in ("save_model", "save"):
        fn = getattr(mod, name, None)
        if fn is None:
            continue
        try:
            fn(clf, folder)
            if (folder / "manifest.json").is_file():
                return folder
        except Exception as exc:
            log(f"triage.model.{name} failed ({type(exc).__name__}: {exc}); the model stays in this process")
    return None
