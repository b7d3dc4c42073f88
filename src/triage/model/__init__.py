"""The text model: a ticket's text in, category probabilities and `unknown` out.

Modules, in the order a text travels: `text` (what the model reads), `features`
(n-gram TF-IDF in numpy), `classifier` (linear SVM + calibration + threshold),
`calibration`, `threshold`, `verify` and `persist` (check, save, load), `lazy` (load on
first use), `data` and `metrics` (training and evaluation), `build_default` (the
shipped model). Exports load on first access, so `triage.model.lazy` and
`triage.model.verify` import without numpy.
"""
from __future__ import annotations

from typing import Any

_EXPORTS = {
    "TextClassifier": "triage.model.classifier", "LabelledData": "triage.model.data",
    "read_labelled": "triage.model.data", "UNKNOWN": "triage.model.verify",
    "Classification": "triage.model.persist", "LoadedModel": "triage.model.persist",
    "load_model": "triage.model.persist", "save_model": "triage.model.persist",
    "MAX_TEXT_CHARS": "triage.model.text", "ticket_text": "triage.model.text",
    "LazyModel": "triage.model.lazy", "open_model": "triage.model.lazy",
    "verify_model": "triage.model.verify",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'triage.model' has no attribute {name!r}")
