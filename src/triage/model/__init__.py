"""The text model: a ticket's text in, category probabilities and `unknown` out.

Modules, in the order a text travels: `text` (what the model reads), `features`
(n-gram TF-IDF in numpy), `classifier` (linear SVM + calibration + threshold),
`calibration`, `threshold`, `persist` (save, verify, load), `data` and `metrics`
(training and evaluation), `build_default` (the shipped model).
"""
from triage.model.classifier import TextClassifier
from triage.model.data import LabelledData, read_labelled
from triage.model.persist import (
    UNKNOWN,
    Classification,
    LoadedModel,
    load_model,
    save_model,
)
from triage.model.text import MAX_TEXT_CHARS, ticket_text

__all__ = ["MAX_TEXT_CHARS", "UNKNOWN", "Classification", "LabelledData", "LoadedModel",
           "TextClassifier", "load_model", "read_labelled", "save_model", "ticket_text"]
