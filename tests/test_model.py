"""The text model: training, calibrated abstention, verified persistence, data readers, CLI.

Every model here is trained in well under a second on small synthetic data made below,
so the file runs fast and needs neither the corpus nor the shipped model.
"""
from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import numpy as np
import orjson
import pytest
from click.testing import CliRunner

from triage.cli import cli
from triage.errors import ModelError, TriageError
from triage.model import (
    MAX_TEXT_CHARS,
    UNKNOWN,
    Classification,
    TextClassifier,
    load_model,
    read_labelled,
    save_model,
    ticket_text,
)

TOPICS = {
    "service_down": ["port down", "link down no light", "vxc no traffic", "Störung Port komplett weg",
                     "interface down down", "kein Link"],
    "billing": ["invoice wrong", "credit note please", "charged twice", "Rechnung falsch",
                "payment failed", "Gutschrift"],
    "maintenance": ["planned maintenance window", "reschedule the maintenance", "Wartungsfenster",
                    "maintenance notification impact", "Wartung verschieben", "window next week"],
}
FILLER = ["please", "check", "urgent", "thanks", "regards", "our", "since", "today", "bitte",
          "dringend", "danke", "team", "hi", "hello", "asap"]
FAST = dict(min_df=1, C=1.0)


def synthetic(n_per_class: int, seed: int) -> tuple[list[str], list[str], list[str], list[str]]:
    """(subjects, bodies, texts, labels): topic phrases mixed with shared filler words."""
    rng = random.Random(seed)
    subjects, bodies, labels = [], [], []
    for label, phrases in TOPICS.items():
        for _ in range(n_per_class):
            words = rng.sample(FILLER, 4) + [rng.choice(phrases), rng.choice(phrases)]
            rng.shuffle(words)
            subjects.append(rng.choice(phrases) + f" svc-{rng.randrange(10_000)}")
            bodies.append(" ".join(words))
            labels.append(label)
    texts = [ticket_text(s, b) for s, b in zip(subjects, bodies)]
    return subjects, bodies, texts, labels


@pytest.fixture(scope="module")
def trained() -> TextClassifier:
    _, _, texts, labels = synthetic(30, seed=1)
    return TextClassifier(**FAST).fit(texts, labels)


@pytest.fixture()
def model_dir(trained: TextClassifier, tmp_path: Path) -> Path:
    return save_model(trained, tmp_path / "model", metrics={"validation": trained.validation_},
                      data_hash="0" * 64)


# -- the classifier ----------------------------------------------------------------------
def test_fit_predict(trained: TextClassifier) -> None:
    _, _, texts, labels = synthetic(10, seed=2)
    assert list(trained.classes_) == sorted(TOPICS)
    assert (trained.predict(texts) == np.array(labels)).mean() >= 0.9
    proba = trained.predict_proba(texts)
    assert proba.shape == (len(texts), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)   # no out-of-scope data
    assert 0.0 <= trained.threshold_ <= 1.0
    assert {"accuracy", "macro_f1", "coverage", "threshold_rule"} <= set(trained.validation_)


def test_fit_is_deterministic() -> None:
    _, _, texts, labels = synthetic(20, seed=3)
    a = TextClassifier(**FAST).fit(texts, labels)
    b = TextClassifier(**FAST).fit(texts, labels)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert a.threshold_ == b.threshold_


def test_out_of_scope_examples_teach_the_threshold() -> None:
    _, _, texts, labels = synthetic(30, seed=4)
    rng = random.Random(5)
    oos = [" ".join(rng.sample(["weather", "football", "recipe", "holiday", "movie", "pizza",
                                "guitar", "garden", "poem", "song"], 4)) for _ in range(40)]
    clf = TextClassifier(oos_label="oos", **FAST).fit(texts + oos, labels + ["oos"] * len(oos))
    assert "oos" not in clf.classes_
    assert clf.calibrator_.background_
    proba = clf.predict_proba(["pizza recipe for the garden party", "port down no light svc-1"])
    assert proba[0].max() < clf.threshold_ <= proba[1].max()
    assert proba.sum(axis=1).max() <= 1.0 + 1e-9


def test_threshold_rule_least_cost() -> None:
    from triage.model.threshold import choose_threshold

    conf = np.array([0.2, 0.3, 0.6, 0.9, 0.95])
    # Rejecting the two wrong, least confident ones costs 2 * 0.25 < 1 per accepted error.
    c = choose_threshold(conf, np.array([False, False, True, True, True]), review_cost=0.25)
    assert 0.3 < c.threshold <= 0.6 and c.coverage == 0.6 and c.selective_accuracy == 1.0
    # A wrong one at 0.6: rejecting it too (one more review) beats accepting it.
    c = choose_threshold(conf, np.array([False, False, False, True, True]), review_cost=0.25)
    assert 0.6 < c.threshold <= 0.9 and c.threshold == 0.75     # nearest 1 - review_cost
    # All right on validation: not 0 (never unknown) but the calibrated default 0.75 where free.
    c = choose_threshold(np.array([0.8, 0.9, 0.99]), np.array([True, True, True]), review_cost=0.25)
    assert c.threshold == 0.75 and c.coverage == 1.0
    # Cheap reviews move the default up; a wrong answer is still worth rejecting at any cost < 1.
    assert choose_threshold(np.array([0.8, 0.9, 0.99]), np.ones(3, bool), 0.05).threshold == 0.8
    assert choose_threshold(conf, np.array([False, True, True, True, True]), 0.99).coverage == 0.8


def test_training_needs_two_categories() -> None:
    with pytest.raises(ValueError, match="two categories"):
        TextClassifier(**FAST).fit(["a b", "c d"], ["x", "x"])


def test_featurizer_matches_sklearn_vocabulary() -> None:
    from sklearn.feature_extraction.text import CountVectorizer

    from triage.model.features import NgramFeaturizer, normalise

    _, _, texts, _ = synthetic(10, seed=6)
    f = NgramFeaturizer(fold_digits=False, max_word_features=None, max_char_features=None).fit(texts)
    chars = CountVectorizer(analyzer="char_wb", ngram_range=(2, 5)).fit([normalise(t) for t in texts])
    words = CountVectorizer(ngram_range=(1, 2)).fit(texts)
    assert f.char_vocab_.size == len(chars.vocabulary_)
    assert f.word_vocab_.size == len(words.vocabulary_)
    x = f.transform(texts[:5])
    np.testing.assert_allclose(x.multiply(x).sum(axis=1).A.ravel(), 2.0, rtol=1e-5)  # 2 unit blocks


# -- the loaded model --------------------------------------------------------------------
def test_save_load_round_trip(trained: TextClassifier, model_dir: Path) -> None:
    import hashlib

    model = load_model(model_dir)
    _, _, texts, _ = synthetic(5, seed=7)
    np.testing.assert_allclose(model.predict_proba(texts), trained.predict_proba(texts))
    assert model.labels == tuple(trained.classes_)
    assert model.threshold == pytest.approx(trained.threshold_)
    assert model.path == model_dir
    digest = hashlib.sha256((model_dir / "model.joblib").read_bytes()).hexdigest()
    assert model.version == f"sha256:{digest}"
    m = model.manifest
    assert {"format", "labels", "threshold", "metrics", "training_data_sha256", "versions",
            "created", "model_file"} <= set(m)
    assert {"triage", "scikit-learn", "numpy", "python"} <= set(m["versions"])
    assert m["model_file"]["size"] == (model_dir / "model.joblib").stat().st_size


def test_classify_one_call_top_three_and_unknown(model_dir: Path) -> None:
    model = load_model(model_dir)
    texts = ["port down no light", "invoice wrong charged twice", ""]
    out = model.classify(texts)
    assert [c.category for c in out[:2]] == ["service_down", "billing"]
    for c in out:
        assert isinstance(c, Classification)
        assert len(c.top) == 3 and c.top[0][1] == c.confidence
        assert [p for _, p in c.top] == sorted((p for _, p in c.top), reverse=True)
        assert c.category == (c.top[0][0] if c.confidence >= model.threshold else UNKNOWN)
    assert model.classify([]) == []
    # The manifest's threshold rules: raised to the top confidence, everything below it
    # (at least the empty text) becomes unknown.
    top = max(c.confidence for c in out)
    assert min(c.confidence for c in out) < top
    _edit_manifest(model_dir, lambda m: m.update(threshold=top))
    again = load_model(model_dir).classify(texts)
    assert [c.category == UNKNOWN for c in again] == [c.confidence < top for c in out]
    assert again[2].category == UNKNOWN


def test_texts_are_cut_to_max_chars(model_dir: Path) -> None:
    model = load_model(model_dir)
    head = ("invoice wrong " * 2000)[:MAX_TEXT_CHARS]
    a, b = model.classify([head, head + " port down no light" * 500])
    assert a == b


def _edit_manifest(model_dir: Path, edit) -> None:
    path = model_dir / "manifest.json"
    manifest = json.loads(path.read_text())
    edit(manifest)
    path.write_text(json.dumps(manifest))


def test_manifest_hash_mismatch(model_dir: Path) -> None:
    _edit_manifest(model_dir, lambda m: m["model_file"].update(sha256="ab" * 32))
    with pytest.raises(ModelError, match="does not match its manifest") as e:
        load_model(model_dir)
    assert str(model_dir) in str(e.value)


def test_truncated_file(model_dir: Path) -> None:
    f = model_dir / "model.joblib"
    f.write_bytes(f.read_bytes()[:100])
    with pytest.raises(ModelError, match="truncated"):
        load_model(model_dir)


def test_bit_flipped_file(model_dir: Path) -> None:
    f = model_dir / "model.joblib"
    blob = bytearray(f.read_bytes())
    blob[len(blob) // 2] ^= 0x01
    f.write_bytes(bytes(blob))
    with pytest.raises(ModelError, match="SHA-256"):
        load_model(model_dir)


def test_unloadable_file_that_matches_its_manifest(model_dir: Path) -> None:
    """Even a broken pickle the manifest vouches for gives a ModelError, not a traceback."""
    import hashlib

    f = model_dir / "model.joblib"
    blob = f.read_bytes()[:200]
    f.write_bytes(blob)
    _edit_manifest(model_dir, lambda m: m["model_file"].update(
        sha256=hashlib.sha256(blob).hexdigest(), size=len(blob)))
    with pytest.raises(ModelError, match="cannot be loaded"):
        load_model(model_dir)


def test_missing_manifest_and_model(model_dir: Path, tmp_path: Path) -> None:
    (model_dir / "manifest.json").unlink()
    with pytest.raises(ModelError, match="manifest.json is missing"):
        load_model(model_dir)
    with pytest.raises(ModelError, match="no such model directory"):
        load_model(tmp_path / "nowhere")


def test_missing_model_file(model_dir: Path) -> None:
    (model_dir / "model.joblib").unlink()
    with pytest.raises(ModelError, match="model.joblib is missing"):
        load_model(model_dir)


@pytest.mark.parametrize("edit, message", [
    (lambda m: m["versions"].update({"scikit-learn": "0.1.0"}), "scikit-learn 0.1.0"),
    (lambda m: m["versions"].update({"numpy": "1.0.0"}), "numpy 1.0.0"),
    (lambda m: m.update(format=99), "format 99"),
])
def test_version_mismatch(model_dir: Path, edit, message: str) -> None:
    _edit_manifest(model_dir, edit)
    with pytest.raises(ModelError, match=message) as e:
        load_model(model_dir)
    assert "make model" in str(e.value)


@pytest.mark.parametrize("content, message", [
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "not a JSON object"),
    (b'{"format": 1}', "no 'labels' field"),
])
def test_broken_manifest(model_dir: Path, content: bytes, message: str) -> None:
    (model_dir / "manifest.json").write_bytes(content)
    with pytest.raises(ModelError, match=message):
        load_model(model_dir)


# -- data files --------------------------------------------------------------------------
def write_data(folder: Path, fmt: str, subjects, bodies, labels, name: str = "data") -> Path:
    rows = [{"subject": s, "body": b, "category": c} for s, b, c in zip(subjects, bodies, labels)]
    path = folder / f"{name}.{fmt}"
    if fmt == "csv":
        with path.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=["subject", "body", "category"])
            w.writeheader()
            w.writerows(rows)
    elif fmt == "jsonl":
        path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), path)
    return path


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_read_labelled_joins_text_columns(tmp_path: Path, fmt: str) -> None:
    path = write_data(tmp_path, fmt, ["s1", None], ["b1", "b2"], ["x", "y"])
    data = read_labelled([path], ["subject", "body"], "category")
    assert data.texts == ["s1\nb1", "\nb2"]       # null reads as ""
    assert data.labels == ["x", "y"]


def test_read_labelled_errors(tmp_path: Path) -> None:
    good = write_data(tmp_path, "jsonl", ["s"], ["b"], ["x"])
    with pytest.raises(TriageError, match="no column 'nope'"):
        read_labelled([good], ["nope"], "category")
    with pytest.raises(TriageError, match="no such file"):
        read_labelled([tmp_path / "missing.csv"], ["subject"], "category")
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(TriageError, match="empty.jsonl: no data rows"):
        read_labelled([tmp_path / "empty.jsonl"], ["subject"], "category")
    (tmp_path / "bad.jsonl").write_text('{"subject": "a", "category": "x"}\n{oops\n')
    with pytest.raises(TriageError, match=r"bad.jsonl:2: not valid JSON"):
        read_labelled([tmp_path / "bad.jsonl"], ["subject"], "category")
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(TriageError, match="bad.parquet: not a readable Parquet"):
        read_labelled([tmp_path / "bad.parquet"], ["subject"], "category")
    (tmp_path / "data.txt").write_text("x")
    with pytest.raises(TriageError, match="unknown format"):
        read_labelled([tmp_path / "data.txt"], ["subject"], "category")


# -- command line ------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_train_cli_two_text_columns(tmp_path: Path, fmt: str) -> None:
    subjects, bodies, _, labels = synthetic(20, seed=8)
    data = write_data(tmp_path, fmt, subjects, bodies, labels)
    out = tmp_path / "model"
    res = CliRunner().invoke(cli, ["train", str(data), "--text-column", "subject", "--text-column", "body",
                                   "--label-column", "category", "--out", str(out), "--seed", "3",
                                   "--val-fraction", "0.25"])
    assert res.exit_code == 0, res.output
    assert "macro-F1" in res.output and "model written to" in res.output
    model = load_model(out)
    assert model.labels == tuple(sorted(TOPICS))
    assert model.manifest["settings"]["random_state"] == 3
    assert len(model.manifest["training_data_sha256"]) == 64


def test_train_cli_bad_column_exits_2(tmp_path: Path) -> None:
    subjects, bodies, _, labels = synthetic(5, seed=9)
    data = write_data(tmp_path, "csv", subjects, bodies, labels)
    res = CliRunner().invoke(cli, ["train", str(data), "--text-column", "subjekt", "--label-column",
                                   "category", "--out", str(tmp_path / "m")])
    assert res.exit_code == 2
    assert "error:" in res.stderr and "no column 'subjekt'" in res.stderr and "data.csv" in res.stderr
    assert "Traceback" not in res.output


def test_evaluate_cli_json(model_dir: Path, tmp_path: Path) -> None:
    subjects, bodies, _, labels = synthetic(5, seed=10)
    labels[0] = "security"                         # a label the model does not know: an error
    data = write_data(tmp_path, "jsonl", subjects, bodies, labels)
    res = CliRunner().invoke(cli, ["evaluate", "--model", str(model_dir), str(data), "--text-column",
                                   "subject", "--text-column", "body", "--label-column", "category",
                                   "--json"])
    assert res.exit_code == 0, res.output
    rep = json.loads(res.stdout)
    assert {"accuracy", "macro_f1", "per_class", "confusion", "labels", "coverage",
            "selective_accuracy", "coverage_table", "model_version"} <= set(rep)
    assert rep["unknown_to_model"] == ["security"]
    assert rep["per_class"]["security"]["recall"] == 0.0
    assert rep["accuracy"] <= 1 - 1 / len(labels)
    assert len(rep["confusion"]) == len(rep["labels"]) == 4


def test_evaluate_cli_tables_and_plot(model_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    subjects, bodies, _, labels = synthetic(5, seed=11)
    data = write_data(tmp_path, "csv", subjects, bodies, labels)
    png = tmp_path / "cm.png"
    res = CliRunner().invoke(cli, ["evaluate", "--model", str(model_dir), str(data), "--text-column",
                                   "subject", "--label-column", "category", "--plot", str(png)])
    assert res.exit_code == 0, res.output
    assert "confusion matrix" in res.output and "accuracy on accepted" in res.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_cli_broken_model_exits_2(model_dir: Path, tmp_path: Path) -> None:
    (model_dir / "model.joblib").write_bytes(b"garbage")
    data = write_data(tmp_path, "jsonl", ["s"], ["b"], ["billing"])
    res = CliRunner().invoke(cli, ["evaluate", "--model", str(model_dir), str(data), "--text-column",
                                   "subject", "--label-column", "category"])
    assert res.exit_code == 2
    assert res.stderr.startswith("error: ") and "model.joblib" in res.stderr
