"""Build the shipped model: `python -m triage.model.build_default` (or `make model`).

Trains a `TextClassifier` with its default settings and seed on every
`models/corpus/*.jsonl` (text = subject + "\\n" + body, label = category), writes
`models/default/` (model.joblib + manifest.json), measures it on the independent test
split `models/testset/test.jsonl`, and rewrites the measured section of
`models/MODEL_CARD.md` (between its `generated` markers; the prose stays), so that the
card's counts and figures are always those of the model next to it.

Reproducible: the same corpus, library versions and seed give the same model.joblib,
hence the same model version; set SOURCE_DATE_EPOCH to pin the manifest's `created`.
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from triage.errors import TriageError

ROOT = Path(__file__).resolve().parents[3]
DEFAULT_OUT = ROOT / "models" / "default"
DEFAULT_CARD = ROOT / "models" / "MODEL_CARD.md"
TEXT_COLUMNS = ("subject", "body")
LABEL_COLUMN = "category"
CARD_BEGIN, CARD_END = "<!-- generated:build_default -->", "<!-- /generated:build_default -->"


def _records(files: list[Path]) -> list[dict[str, Any]]:
    """The rows of JSONL files in the order `read_labelled` reads them."""
    return [orjson.loads(line) for f in files for line in f.read_bytes().splitlines() if line.strip()]


def corpus_counts(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Examples per category and language, and how many have no body."""
    by_cat = Counter(str(r.get(LABEL_COLUMN)) for r in records)
    by_lang = Counter(str(r.get("lang") or "?") for r in records)
    by_both = Counter((str(r.get(LABEL_COLUMN)), str(r.get("lang") or "?")) for r in records)
    return {"n": len(records), "by_language": dict(sorted(by_lang.items())),
            "by_category": {c: {"n": n, **{lang: by_both[c, lang] for lang in sorted(by_lang)}}
                            for c, n in sorted(by_cat.items())},
            "subject_only": sum(not (r.get("body") or "").strip() for r in records),
            "mean_chars": round(float(np.mean([len(r.get("subject") or "") + len(r.get("body") or "")
                                               for r in records])), 1) if records else 0.0}


def build(corpus: Path, testset: Path | None, out: Path, seed: int = 0) -> dict[str, Any]:
    from triage.model import TextClassifier, load_model, read_labelled, save_model
    from triage.model.features import normalise
    from triage.model.metrics import report

    files = sorted(corpus.glob("*.jsonl"))
    if not files:
        raise TriageError(f"{corpus}: no *.jsonl training files")
    data = read_labelled(files, TEXT_COLUMNS, LABEL_COLUMN)
    t0 = time.perf_counter()
    clf = TextClassifier(random_state=seed).fit(data.texts, data.labels)
    fit_seconds = time.perf_counter() - t0
    # No timings in the manifest: two builds of the same corpus must be byte-identical.
    metrics: dict[str, Any] = {"validation": clf.validation_, "corpus": corpus_counts(_records(files))}
    if testset is not None and testset.exists():
        test = read_labelled([testset], TEXT_COLUMNS, LABEL_COLUMN)
        pred = clf.predict_full(test.texts)
        records = _records([testset])
        rep = report(test.labels, pred.proba, clf.classes_, clf.threshold_, confidence=pred.confidence,
                     groups=[str(r.get("lang") or "?") for r in records])
        rep["by_language"] = rep.pop("by_group")
        rep["encoded_share"] = float(pred.encoded.mean())
        seen = {normalise(t) for t in data.texts}
        rep["texts_also_in_corpus"] = sum(normalise(t) in seen for t in test.texts)
        rep["corpus"] = corpus_counts(records)
        rep["file"] = str(testset.relative_to(ROOT) if testset.is_relative_to(ROOT) else testset)
        metrics["test"] = rep
    save_model(clf, out, metrics=metrics, data_hash=data.sha256())
    return {"model": load_model(out), "metrics": metrics,   # what we ship must load
            "fit_seconds": fit_seconds}


def card_section(model: Any) -> str:
    """The measured part of MODEL_CARD.md, from the manifest of the model just built."""
    m = model.manifest["metrics"]
    c, v = m["corpus"], m["validation"]
    langs = list(c["by_language"])
    lines = [f"Model version `{model.version}`, built {model.manifest['created']} with "
             f"scikit-learn {model.manifest['versions']['scikit-learn']}, numpy "
             f"{model.manifest['versions']['numpy']}.", "",
             f"**Training corpus**: {c['n']:,} texts ("
             + ", ".join(f"{lang} {n:,}" for lang, n in c["by_language"].items())
             + f"), mean {c['mean_chars']:.0f} characters, {c['subject_only']} with a subject only.", "",
             "| category | texts | " + " | ".join(langs) + " |",
             "|---|---:|" + "---:|" * len(langs)]
    for cat, row in c["by_category"].items():
        lines.append(f"| {cat} | {row['n']} | " + " | ".join(str(row[lang]) for lang in langs) + " |")
    rule = v["threshold_rule"]
    cascade = v.get("cascade", {})
    enc = model.manifest.get("encoder")
    if cascade.get("encoder_dropped"):
        lines += ["", "**Encoder cascade**: on the validation split the sentence encoder fixed no more "
                  "errors of the TF-IDF members than the 0.2 % tolerance, so the margin cutoff is 0 and "
                  "the dense members were dropped: this model runs without the encoder."]
    elif enc:
        lines += ["", f"**Encoder cascade**: {enc['package']} {enc['version']} on texts whose top-two "
                  f"margin is below {cascade['margin_cutoff']:.3f}, at most "
                  f"{model.manifest['cascade']['encoder_budget']:.0%} of a batch "
                  f"({cascade['encoded_share']:.1%} of the validation split)."]
    lines += ["", f"**Threshold** {model.threshold:.3f} on the model's P(right) (`abstain.py`): least cost on the validation split "
              f"({v['n']} texts, 20% of each category) with a review costing {rule['review_cost']:g} "
              f"of a wrong category; there it accepts {v['coverage']:.1%}, {v['selective_accuracy']:.1%} "
              f"of them right. Validation accuracy {v['accuracy']:.4f}, macro-F1 {v['macro_f1']:.4f}."]
    t = m.get("test")
    if t:
        tc = t["corpus"]
        lines += ["", f"**Independent test split** (`{t['file']}`): {t['n']} texts ("
                  + ", ".join(f"{lang} {n}" for lang, n in tc["by_language"].items())
                  + f"); texts also in the corpus (after lower-casing and collapsing whitespace): "
                  f"{t['texts_also_in_corpus']}.", "",
                  "| measure | value |", "|---|---:|",
                  f"| accuracy (top-1, no abstention) | {t['accuracy']:.4f} |",
                  f"| macro-F1 | {t['macro_f1']:.4f} |",
                  f"| expected calibration error (10 bins) | {t['ece']:.4f} |"]
        lines += [f"| accuracy, {lang} only ({r['n']} texts) | {r['accuracy']:.4f} |"
                  for lang, r in t["by_language"].items()]
        lines += [f"| coverage at the threshold | {t['coverage']:.4f} |",
                  f"| accuracy on accepted at the threshold | {t['selective_accuracy']:.4f} |",
                  "", "| category | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
        lines += [f"| {cat} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} | {r['support']} |"
                  for cat, r in t["per_class"].items()]
        lines += ["", "| threshold | coverage | accuracy on accepted |", "|---:|---:|---:|"]
        lines += [f"| {r['threshold']:.3f} | {r['coverage']:.3f} | {r['selective_accuracy']:.3f} |"
                  for r in t["coverage_table"]]
    return "\n".join(lines)


def update_card(card: Path, section: str) -> None:
    text = card.read_text() if card.exists() else f"# Model card\n\n{CARD_BEGIN}\n{CARD_END}\n"
    block = f"{CARD_BEGIN}\n{section}\n{CARD_END}"
    pattern = re.compile(re.escape(CARD_BEGIN) + ".*?" + re.escape(CARD_END), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    card.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m triage.model.build_default",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "models" / "corpus")
    parser.add_argument("--testset", type=Path, default=ROOT / "models" / "testset" / "test.jsonl")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--card", type=Path, default=None,
                        help="model card to update (default: models/MODEL_CARD.md when --out is models/default)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from triage.model.metrics import format_report

    try:
        result = build(args.corpus, args.testset, args.out, args.seed)
    except TriageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    m, model = result["metrics"], result["model"]
    c = m["corpus"]
    print(f"corpus: {c['n']:,} texts ({', '.join(f'{k} {v:,}' for k, v in c['by_language'].items())}), "
          f"{len(model.labels)} categories; fit {result['fit_seconds']:.1f} s")
    v = m["validation"]
    print(f"validation split: accuracy {v['accuracy']:.4f}, macro-F1 {v['macro_f1']:.4f}; threshold "
          f"{model.threshold:.3f} (coverage {v['coverage']:.3f}, accuracy on accepted "
          f"{v['selective_accuracy']:.4f})")
    if "test" in m:
        t = m["test"]
        print(f"\ntest split ({t['file']}; texts also in the corpus: {t['texts_also_in_corpus']}):")
        print(format_report(t))
        print("by language: " + ", ".join(f"{k} {r['accuracy']:.4f} (n={r['n']})"
                                          for k, r in t["by_language"].items()))
    card = args.card or (DEFAULT_CARD if args.out.resolve() == DEFAULT_OUT.resolve() else None)
    if card is not None:
        update_card(card, card_section(model))
        print(f"updated {card}")
    print(f"wrote {args.out} ({model.version})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
