"""The text model on CLINC150, a public intent data set with out-of-scope queries.

Data: CLINC150 "Full" (Larson et al., 2019, "An Evaluation Dataset for Intent
Classification and Out-of-Scope Prediction", EMNLP-IJCNLP, https://aclanthology.org/D19-1131),
CC BY 3.0, read from `../shared/datasets/clinc150/data_full.json` (the datasets folder
can be moved with TRIAGE_DATASETS); never copied into the project.

Protocol, the paper's "threshold" setting:
- train `TextClassifier` on the 15,000 in-scope training queries (150 intents);
- validation = the 3,000 in-scope validation queries + `oos_val` (100) + `oos_train`
  (100). `oos_train` is used ONLY here, to calibrate the out-of-scope probability and
  choose the threshold; no out-of-scope query is ever a training example;
- test = 4,500 in-scope + 1,000 out-of-scope queries. In-scope accuracy counts a
  rejected in-scope query as wrong; out-of-scope recall is the share rejected.
Thresholds, all chosen on validation only, applied to each model's confidence (ours:
the acceptor's P(right), `triage.model.abstain`):
- "product rule": the classifier's own, as shipped: least validation cost with a
  review (rejection) costing 0.25 of a wrong answer, out-of-scope accepted = wrong;
- "in-scope >= 0.94 on val": the threshold with the best validation out-of-scope
  recall among those keeping validation in-scope accuracy >= 0.94 (the target);
- "in-scope >= 0.95 on val" (the headline): the same with a point of margin, since
  test in-scope accuracy runs about a point below validation's.
Variants, same run: max-probability as the confidence (no energy / nearest-neighbour
acceptor), the encoder on every input (budget 1), the TF-IDF members alone
(`encoder=False`), and the plain scikit-learn word (1-2) + char_wb (2-5) TF-IDF
LinearSVC (`_model.sklearn_reference`), thresholded on its max decision score.

Also: an imbalanced ("long tail") variant of the training set, class weighting on and
off; the cascade's cost by encoder budget on ticket-length texts; and `classify`
throughput of the shipped ticket model on 10,000 ticket-length texts against the plain
pipeline trained on the same corpus.

Targets (issue 14): in-scope >= 0.94, out-of-scope recall >= 0.65, fit < 60 s on 2 cores.

    python benchmarks/bench_clinc150.py [--quick]
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _model import DEFAULT_DIR, sklearn_reference  # noqa: E402
from _results import (ROOT, argv_quick, fmt_rate, machine, machine_line, print_machine,  # noqa: E402
                      ratio_rounds, side_by_side, table, update_section, verdict, write_json)
from _tickets import load_corpus, text_tickets  # noqa: E402

NAME = "clinc150"
OOS = "oos"
TARGETS = {"in_scope_accuracy": 0.94, "oos_recall": 0.65, "fit_seconds": 60.0}
#: Test in-scope accuracy runs ~1 point below validation's (fewer, easier validation
#: queries): the headline threshold keeps validation at 0.95 to land at 0.94 on test.
SAFE_FLOOR = 0.95
PAPER = [  # Larson et al. 2019, Table 2, "Full", threshold method: in-scope accuracy, OOS recall
    ("SVM (paper)", 88.2, 18.0), ("MLP on USE (paper)", 93.4, 49.1), ("BERT (paper)", 96.2, 52.3)]


def datasets_dir() -> Path:
    return Path(os.environ.get("TRIAGE_DATASETS") or ROOT.parent / "shared" / "datasets")


def load() -> dict[str, list[list[str]]]:
    path = datasets_dir() / "clinc150" / "data_full.json"
    try:
        return orjson.loads(path.read_bytes())
    except OSError as exc:
        sys.exit(f"error: {path}: {exc.strerror} (set TRIAGE_DATASETS to the folder holding clinc150/)")


def split(rows: list[list[str]]) -> tuple[list[str], np.ndarray]:
    return [t for t, _ in rows], np.array([lab for _, lab in rows], dtype=object)


def outcome(conf: np.ndarray, pred: np.ndarray, y: np.ndarray, threshold: float) -> dict[str, float]:
    """In-scope accuracy (rejections wrong), out-of-scope recall, raw top-1 in-scope accuracy."""
    ins = y != OOS
    accepted = conf >= threshold
    return {"in_scope_accuracy": float((accepted & (pred == y))[ins].mean()),
            "oos_recall": float((~accepted)[~ins].mean()),
            "top1_in_scope_accuracy": float((pred == y)[ins].mean()),
            "threshold": float(threshold)}


def threshold_in_scope_floor(conf: np.ndarray, pred: np.ndarray, y: np.ndarray, floor: float) -> float:
    """Best validation OOS recall among thresholds keeping validation in-scope accuracy >= floor."""
    ins = y != OOS
    # Raising the threshold only lowers in-scope accuracy and only raises OOS recall:
    # the answer is the last threshold, sweeping upward, that keeps the floor.
    best = 0.0
    for t in np.unique(np.r_[0.0, conf]):
        if ((conf >= t) & (pred == y))[ins].mean() < floor:
            break
        best = float(t)
    return best


def threshold_least_cost(conf: np.ndarray, correct: np.ndarray, review_cost: float) -> float:
    from triage.model.threshold import choose_threshold

    return choose_threshold(conf, correct, review_cost).threshold


def evaluate_scores(score_fn: Callable[[list[str]], tuple[np.ndarray, np.ndarray]],
                    val: tuple[list[str], np.ndarray], test: tuple[list[str], np.ndarray],
                    product_threshold: float | None) -> dict[str, Any]:
    """Both threshold rules, chosen on validation, measured on test."""
    vc, vp = score_fn(val[0])
    tc, tp = score_fn(test[0])
    rules = {
        "product rule": product_threshold if product_threshold is not None
        else threshold_least_cost(vc, vp == val[1], 0.25),
        "in-scope >= 0.94 on val": threshold_in_scope_floor(vc, vp, val[1], TARGETS["in_scope_accuracy"]),
        "in-scope >= 0.95 on val": threshold_in_scope_floor(vc, vp, val[1], SAFE_FLOOR),
    }
    return {rule: {"validation": outcome(vc, vp, val[1], t), "test": outcome(tc, tp, test[1], t)}
            for rule, t in rules.items()}


def long_tail(train_x: list[str], train_y: np.ndarray, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """An imbalanced CLINC150 training set: class r (in a seeded random order) keeps
    max(5, round(100 * (r + 1) ** -0.7)) of its 100 examples (Zipf-like, 100 down to 5)."""
    rng = np.random.default_rng(seed)
    classes = rng.permutation(np.unique(train_y))
    keep: list[int] = []
    for rank, c in enumerate(classes):
        idx = rng.permutation(np.flatnonzero(train_y == c))
        keep += idx[: max(5, round(100 * (rank + 1) ** -0.7))].tolist()
    keep.sort()
    return [train_x[i] for i in keep], train_y[keep]


def top1_scores(pred: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Accuracy and macro-F1 of top-1 predictions over the in-scope test queries."""
    from sklearn.metrics import f1_score

    return {"accuracy": float((pred == y).mean()), "macro_f1": float(f1_score(y, pred, average="macro"))}


def main() -> int:
    quick = argv_quick()
    m = machine()
    print_machine(m)
    d = load()
    train_x, train_y = split(d["train"])
    val = split(d["val"] + d["oos_val"] + d["oos_train"])
    test = split(d["test"] + d["oos_test"])
    print(f"CLINC150: train {len(train_x):,} in-scope, validation {len(val[0]):,} "
          f"({int((val[1] == OOS).sum())} out-of-scope), test {len(test[0]):,} "
          f"({int((test[1] == OOS).sum())} out-of-scope)", flush=True)

    from triage.model import TextClassifier

    t0 = time.perf_counter()
    clf = TextClassifier(oos_label=OOS, random_state=0).fit(train_x, train_y, validation=val)
    ours_fit = time.perf_counter() - t0
    print(f"TextClassifier fit (TF-IDF SVM, encoder on every training text, LR, NN bank, "
          f"fusion, acceptors, threshold): {ours_fit:.1f} s", flush=True)
    pipe, base_fit = sklearn_reference(train_x, list(train_y))
    print(f"plain TF-IDF LinearSVC fit: {base_fit:.1f} s", flush=True)

    # One prediction per split and budget; the abstention variants reuse it.
    preds = {(name, b): clf.predict_full(x, budget=b) for name, x in (("val", val[0]), ("test", test[0]))
             for b in (clf.encoder_budget, 1.0)}

    def scorer(budget: float, max_prob: bool) -> Callable[[list[str]], tuple[np.ndarray, np.ndarray]]:
        def fn(x: list[str]) -> tuple[np.ndarray, np.ndarray]:
            p = preds["val" if x is val[0] else "test", budget]
            conf = p.proba.max(axis=1) if max_prob else p.confidence
            return conf, clf.classes_[p.proba.argmax(axis=1)].astype(object)
        return fn

    def base_scores(x: list[str]) -> tuple[np.ndarray, np.ndarray]:
        s = pipe.decision_function(x)
        return s.max(axis=1), pipe.classes_[s.argmax(axis=1)].astype(object)

    budget = clf.encoder_budget
    variants = {
        f"TextClassifier (encoder budget {budget:g})": evaluate_scores(scorer(budget, False), val, test, clf.threshold_),
        f"same, max-probability only (no energy/NN acceptor)": evaluate_scores(scorer(budget, True), val, test, None),
        "TextClassifier, encoder on every input (budget 1)": evaluate_scores(scorer(1.0, False), val, test, None),
    }
    t0 = time.perf_counter()
    cheap = TextClassifier(oos_label=OOS, random_state=0, encoder=False).fit(train_x, train_y, validation=val)
    cheap_fit = time.perf_counter() - t0

    def cheap_scores(x: list[str]) -> tuple[np.ndarray, np.ndarray]:
        p = cheap.predict_full(x)
        return p.confidence, cheap.classes_[p.proba.argmax(axis=1)].astype(object)

    variants["TF-IDF members only (--no-encoder)"] = evaluate_scores(cheap_scores, val, test, cheap.threshold_)
    variants["plain TF-IDF LinearSVC"] = evaluate_scores(base_scores, val, test, None)
    ours = variants[f"TextClassifier (encoder budget {budget:g})"]
    base = variants["plain TF-IDF LinearSVC"]
    encoded_share = float(preds["test", budget].encoded.mean())

    rounds = 3 if quick else 5
    speed = side_by_side({"TextClassifier.predict_full": lambda: len(clf.predict_full(test[0]).proba),
                          "plain TF-IDF LinearSVC": lambda: len(pipe.decision_function(test[0]))},
                         rounds=rounds)
    clinc_ratio = ratio_rounds(speed["TextClassifier.predict_full"], speed["plain TF-IDF LinearSVC"])

    # The whole trade on test, for reading only (a threshold read off test is not a method).
    p_test = preds["test", budget]
    sweep = []
    test_pred = clf.classes_[p_test.proba.argmax(axis=1)].astype(object)
    for t in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        o = outcome(p_test.confidence, test_pred, test[1], t)
        sweep.append([f"{t:.1f}", f"{100 * o['in_scope_accuracy']:.1f}", f"{100 * o['oos_recall']:.1f}"])

    # The cascade's cost: this (encoder-using) model on ticket-length texts, by budget.
    from triage.model.text import ticket_text

    ticket_texts = [ticket_text(t.get("subject"), t.get("body")) for t in text_tickets(1_000 if quick else 2_000)]
    budgets = (0.0, 0.01, 0.05, 0.25)
    by_budget = side_by_side({**{f"budget {b:g}": (lambda b=b: len(clf.predict_full(ticket_texts, b).proba))
                                 for b in budgets},
                              "plain TF-IDF LinearSVC": lambda: len(pipe.decision_function(ticket_texts))},
                             rounds=3)

    # Long tail: the imbalanced variant, class weighting on and off, beside the plain pipeline.
    lt_x, lt_y = long_tail(train_x, train_y)
    ins = test[1] != OOS
    lt_test_x = [t for t, keep in zip(test[0], ins) if keep]
    lt = {"n_train": len(lt_x), "per_class_min": int(min(np.unique(lt_y, return_counts=True)[1])),
          "per_class_max": int(max(np.unique(lt_y, return_counts=True)[1]))}
    for name, cw in (("TextClassifier, class_weight balanced (default)", "balanced"),
                     ("TextClassifier, class_weight none", None)):
        t0 = time.perf_counter()
        lt_clf = TextClassifier(random_state=0, class_weight=cw).fit(lt_x, lt_y)
        lt[name] = {**top1_scores(lt_clf.predict(lt_test_x), test[1][ins]),
                    "fit_seconds": time.perf_counter() - t0}
    lt_pipe, _ = sklearn_reference(lt_x, list(lt_y))
    lt["plain TF-IDF LinearSVC"] = top1_scores(lt_pipe.predict(lt_test_x), test[1][ins])
    print("long tail:", lt, flush=True)

    # Ticket-length throughput: the shipped model's classify() vs the plain pipeline on its corpus.
    tickets = ticket_throughput(rounds, 2_000 if quick else 10_000)

    rows = []
    for name, res in variants.items():
        for rule, r in res.items():
            o = r["test"]
            rows.append([f"{name}, {rule}", f"{100 * o['top1_in_scope_accuracy']:.1f}",
                         f"{100 * o['in_scope_accuracy']:.1f}", f"{100 * o['oos_recall']:.1f}",
                         f"{o['threshold']:.3f}"])
    rows += [[name, "", f"{acc:.1f}", f"{rec:.1f}", ""] for name, acc, rec in PAPER]
    for row in rows:
        print("  " + " | ".join(row))
    main_rule = ours["in-scope >= 0.95 on val"]["test"]
    prod_rule = ours["product rule"]["test"]
    checks = {
        "in_scope_accuracy": verdict(main_rule["in_scope_accuracy"], TARGETS["in_scope_accuracy"]),
        "oos_recall": verdict(main_rule["oos_recall"], TARGETS["oos_recall"]),
        "fit_seconds": verdict(ours_fit, TARGETS["fit_seconds"], higher_is_better=False),
    }
    b_main = base["in-scope >= 0.95 on val"]["test"]
    ratios = {
        "top1_in_scope_accuracy": main_rule["top1_in_scope_accuracy"] / b_main["top1_in_scope_accuracy"],
        "in_scope_accuracy": main_rule["in_scope_accuracy"] / b_main["in_scope_accuracy"],
        "oos_recall": main_rule["oos_recall"] / max(b_main["oos_recall"], 1e-9),
        "fit_seconds": ours_fit / base_fit,
        "clinc_predictions_per_s": clinc_ratio,
        "ticket_classify_per_s": tickets["ratio"],
    }
    print("ratios ours / plain:", {k: round(v, 3) for k, v in ratios.items()})
    print("targets:", checks)
    data = {"machine": m, "quick": quick, "targets": TARGETS, "checks": checks, "ratios": ratios,
            "ours": {"fit_seconds": ours_fit, "results": ours, "n_features": clf.featurizer_.n_features_,
                     "encoded_share_test": encoded_share, "margin_cutoff": clf.margin_cutoff_,
                     "fusion_weights": clf.fusion_.weights_.tolist(), "settings": clf.get_params()},
            "variants": variants, "no_encoder_fit_seconds": cheap_fit,
            "baseline": {"fit_seconds": base_fit, "results": base}, "long_tail": lt,
            "speed_clinc_test": speed, "tickets": tickets, "test_sweep": sweep,
            "cascade_cost_ticket_texts": by_budget,
            "paper": [{"model": n, "in_scope_accuracy": a, "oos_recall": r} for n, a, r in PAPER]}
    write_json(NAME, data)

    s_ours, s_base = speed["TextClassifier.predict_full"], speed["plain TF-IDF LinearSVC"]
    lt_rows = [[name, f"{100 * r['accuracy']:.1f}", f"{100 * r['macro_f1']:.1f}"]
               for name, r in lt.items() if isinstance(r, dict)]
    md = [f"## Text model on CLINC150{' (quick)' if quick else ''}", "", machine_line(m), "",
          "CLINC150 \"Full\" (Larson et al., 2019, *An Evaluation Dataset for Intent Classification and "
          "Out-of-Scope Prediction*, EMNLP-IJCNLP, https://aclanthology.org/D19-1131; CC BY 3.0). "
          "Trained on the 15,000 in-scope training queries; thresholds chosen on validation (3,000 "
          "in-scope + `oos_val` + `oos_train`: `oos_train` used only there, never as training data); "
          "measured on test (4,500 in-scope + 1,000 out-of-scope). In-scope accuracy counts a rejected "
          "in-scope query as wrong.", "",
          f"**In-scope {100 * main_rule['in_scope_accuracy']:.1f}% (target ≥ 94: "
          f"{checks['in_scope_accuracy']}), out-of-scope recall {100 * main_rule['oos_recall']:.1f}% "
          f"(target ≥ 65: {checks['oos_recall']}), fit {ours_fit:.1f} s (target < 60 s: "
          f"{checks['fit_seconds']})**, with the threshold chosen on validation for in-scope ≥ 0.95 "
          f"(test runs about a point below validation; the ≥ 0.94 rows show it); "
          f"the encoder saw {encoded_share:.1%} of the test queries (budget {budget:g}).", "",
          table(["model, threshold rule", "top-1 in-scope %", "in-scope acc. %", "OOS recall %", "threshold"],
                rows), "",
          f"- The product rule (as shipped: least validation cost, a rejection costing 0.25 of an "
          f"error, an accepted out-of-scope query counting as an error): "
          f"{100 * prod_rule['in_scope_accuracy']:.1f}% / {100 * prod_rule['oos_recall']:.1f}%.",
          f"- Fusion weights learnt on validation (SVM, embedding LR log-probabilities, nearest-neighbour "
          f"cosine): {', '.join(f'{w:.2f}' for w in clf.fusion_.weights_)}; margin cutoff "
          f"{clf.margin_cutoff_:.3f}. The plain pipeline has no probabilities; it is thresholded on its "
          f"max decision score by the same rules.",
          f"- Fit: TextClassifier {ours_fit:.1f} s, without the encoder {cheap_fit:.1f} s, plain "
          f"pipeline {base_fit:.1f} s ({ratios['fit_seconds']:.2f}×). The encoder's cost is most of it "
          f"(every training text is embedded once).", "",
          f"**Long tail** (`long_tail()`: {lt['n_train']:,} training queries, {lt['per_class_max']} down to "
          f"{lt['per_class_min']} per class; top-1 on the 4,500 in-scope test queries):", "",
          table(["model", "accuracy %", "macro-F1 %"], lt_rows), "",
          table(["throughput (median of rounds)", "texts/s", "× plain"],
                [["CLINC test queries: TextClassifier.predict_full", fmt_rate(s_ours["rate_per_s"]),
                  f"{clinc_ratio:.2f}×"],
                 ["CLINC test queries: plain TF-IDF LinearSVC", fmt_rate(s_base["rate_per_s"]), "1.00×"],
                 [f"{tickets['n']:,} ticket texts: {tickets['model']} `classify`",
                  fmt_rate(tickets["ours"]["rate_per_s"]), f"{tickets['ratio']:.2f}×"],
                 [f"{tickets['n']:,} ticket texts: plain pipeline `decision_function`",
                  fmt_rate(tickets["plain"]["rate_per_s"]), "1.00×"]]), "",
          f"**Cascade cost**: this CLINC model (every ticket text is unsure for it, so the budget alone "
          f"decides how many are embedded) on {len(ticket_texts):,} ticket-length texts:", "",
          table(["encoder budget", "texts/s", "× plain"],
                [[k, fmt_rate(v["rate_per_s"]), f"{ratio_rounds(v, by_budget['plain TF-IDF LinearSVC']):.2f}×"]
                 for k, v in by_budget.items()]), "",
          "**Trade on test** (reading only; thresholds are chosen on validation above), "
          "confidence = the acceptor's P(right):", "",
          table(["threshold", "in-scope acc. %", "OOS recall %"], sweep), "",
          f"- Ticket texts: `_tickets.text_tickets` (corpus texts, numbers re-drawn), mean "
          f"{tickets['mean_chars']:.0f} characters; the plain pipeline trained on the same corpus. "
          f"One call per round for the whole batch; {rounds} interleaved rounds; the shipped model "
          f"embedded {tickets['encoded_share']:.2%} of them (its budget {tickets['budget']:g}).",
          "", "`python benchmarks/bench_clinc150.py` writes `benchmarks/results/clinc150.json` and this section."]
    update_section(NAME, "\n".join(md))
    return 0


def ticket_throughput(rounds: int, n: int) -> dict[str, Any]:
    """classify() of the shipped model (or one trained here) vs the plain pipeline, same texts."""
    from triage.model import TextClassifier, load_model
    from triage.model.text import ticket_text

    texts = [ticket_text(t.get("subject"), t.get("body")) for t in text_tickets(n)]
    corpus = load_corpus()
    x = [ticket_text(s, b) for s, b, _ in corpus]
    y = [lab for *_, lab in corpus]
    if (DEFAULT_DIR / "manifest.json").is_file():
        model, name = load_model(DEFAULT_DIR), "models/default"
    else:  # no shipped model yet: the same classifier, trained here
        from triage.model.persist import LoadedModel

        clf = TextClassifier(random_state=0).fit(x, y)
        model = LoadedModel(clf, {"threshold": clf.threshold_}, Path("."), "bench")  # budget: the classifier's
        name = "TextClassifier (trained here)"
    pipe, _ = sklearn_reference(x, y)
    speed = side_by_side({"ours": lambda: len(model.classify(texts)),
                          "plain": lambda: len(pipe.decision_function(texts))}, rounds=rounds)
    pred = model.predict(texts)
    return {"n": n, "model": name, "mean_chars": float(np.mean([len(t) for t in texts])),
            "encoded_share": float(pred.encoded.mean()), "budget": float(model.encoder_budget),
            "ours": speed["ours"], "plain": speed["plain"], "ratio": ratio_rounds(speed["ours"], speed["plain"])}


if __name__ == "__main__":
    sys.exit(main())
