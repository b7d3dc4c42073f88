"""A verified model that unpickles itself when the first text needs classifying.

`triage route` with categories given never needs the model, yet importing numpy,
scipy and the classifier costs about half a second. The file is still checked
against its manifest at once (a bit-flipped or truncated model is refused at
start-up); only the unpickling waits.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Sequence

from triage.model.verify import VerifiedModel, verify_model


class LazyModel:
    """Same interface as `LoadedModel`; loads on first `classify`/`predict`/`predict_proba`."""

    def __init__(self, verified: VerifiedModel):
        self._verified: VerifiedModel | None = verified
        self._loaded: Any = None
        self._lock = threading.Lock()
        self.path: Path = verified.path
        self.manifest: dict[str, Any] = verified.manifest
        self.version: str = verified.version
        self.labels: tuple[str, ...] = verified.labels
        self.threshold: float = verified.threshold

    def __repr__(self) -> str:
        state = "loaded" if self._loaded is not None else "verified, not yet loaded"
        return f"LazyModel({str(self.path)!r}, {self.version[:19]}…, {state})"

    def loaded(self) -> Any:
        """The `LoadedModel`, unpickled once (thread-safe)."""
        if self._loaded is None:
            with self._lock:
                if self._loaded is None:
                    from triage.model.persist import unpickle

                    self._loaded = unpickle(self._verified)
                    self._verified = None  # the file's bytes are no longer needed
        return self._loaded

    @property
    def classifier(self) -> Any:
        return self.loaded().classifier

    def classify(self, texts: Sequence[str]) -> list[Any]:
        return self.loaded().classify(texts)

    def predict_proba(self, texts: Sequence[str]) -> Any:
        return self.loaded().predict_proba(texts)

    def predict(self, texts: Sequence[str], budget: float | None = None) -> Any:
        return self.loaded().predict(texts, budget)


def open_model(path: str | Path) -> LazyModel:
    """Verify a model directory now (raises `ModelError`), unpickle it on first use."""
    return LazyModel(verify_model(path))
