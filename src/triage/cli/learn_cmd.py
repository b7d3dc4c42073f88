"""`triage learn`: retrain with agents' corrections, and ship the result only if it is no worse.

Agents re-categorise tickets; those corrections are the freshest labelled data there
is. `learn` trains NEW with the settings of CUR on the training data plus the
corrections (a correction replaces a training row with the same text), then gates it:
CUR and NEW are evaluated on the same held-out split, and NEW is written only when
neither its accuracy nor its macro-F1 is below CUR's by more than `--tolerance` plus
the split's own noise (1.645 standard errors of the paired difference:
`triage.model.learn.compare`).

The held-out split is a stratified `--holdout` share of the corrections, and only of
them: CUR never saw the corrections and NEW never trains on the held-out part, so
neither model has seen the split (a split of `--data` would flatter CUR, which was
trained on it: measured on the shipped model with the test set as corrections, CUR
scored 0.999 on such a split, NEW 0.952, and every NEW was refused). `--data` is all
used for training.
"""
from __future__ import annotations

import sys
from typing import Any

import click
import orjson

from triage.cli.common import fail
from triage.errors import TriageError


@click.command(help="Retrain a text model with corrections (labelled CSV/JSONL/Parquet), then gate: CUR "
                    "and NEW are evaluated on the same held-out split, and NEW is written to --out only "
                    "if its accuracy and macro-F1 are no more than --tolerance (plus the held-out split's "
                    "noise, 1.645 standard errors of the paired difference) below CUR's. The held-out "
                    "split is a share of the corrections (neither model has seen it). Exit 0: NEW "
                    "written; 1: NEW refused (per-class deltas printed); 2: bad input.")
@click.argument("corrections", nargs=-1, required=True, metavar="CORRECTIONS...")
@click.option("--model", "model_dir", required=True, metavar="CUR", help="The model in use.")
@click.option("--out", required=True, metavar="NEW", help="Folder to write the new model to (if accepted).")
@click.option("--data", "data", multiple=True, metavar="TRAIN",
              help="The training data of CUR (repeatable); without it NEW trains on the corrections alone.")
@click.option("--text-column", "text_columns", multiple=True, default=("subject", "body"), show_default=True,
              metavar="COL", help="Column holding text; repeat to join several with newlines.")
@click.option("--label-column", default="category", show_default=True, metavar="COL",
              help="Column holding the (corrected) category.")
@click.option("--holdout", default=0.2, show_default=True,
              type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="Share of each category of the corrections held out to compare CUR and NEW.")
@click.option("--tolerance", default=0.005, show_default=True, type=click.FloatRange(0, 1),
              help="How far below CUR NEW's accuracy or macro-F1 may be on the held-out split (0.005 = "
                   "half a point: about the noise of a few hundred held-out texts).")
@click.option("--seed", default=0, show_default=True, help="Seed of the held-out split and of training.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
def learn(corrections: tuple[str, ...], model_dir: str, out: str, data: tuple[str, ...],
          text_columns: tuple[str, ...], label_column: str, holdout: float, tolerance: float, seed: int,
          as_json: bool) -> None:
    from triage.model import TextClassifier, load_model, read_labelled, save_model
    from triage.model.data import data_sha256
    from triage.model.learn import compare, merge_corrections, stratified_holdout

    try:
        cur = load_model(model_dir)
        fixes = read_labelled(corrections, text_columns, label_column)
        base = read_labelled(data, text_columns, label_column) if data else None
        fix_train, fix_test = stratified_holdout(fixes.labels, holdout, seed)
        texts, labels = [fixes.texts[i] for i in fix_train], [fixes.labels[i] for i in fix_train]
        test_texts = [fixes.texts[i] for i in fix_test]
        test_labels = [fixes.labels[i] for i in fix_test]
        if base is not None:
            texts, labels = merge_corrections(base.texts, base.labels, texts, labels)
        if not test_texts:
            raise TriageError("nothing to hold out: every category of the corrections has one row; "
                              "give more corrections")
        params = {**cur.classifier.get_params(), "random_state": seed}
        try:
            new = TextClassifier(**params).fit(texts, labels)
        except ValueError as exc:
            raise TriageError(f"cannot train: {exc}") from None
        result = compare(cur, new, test_texts, test_labels, tolerance)
        if result["accepted"]:
            save_model(new, out, metrics={"validation": new.validation_, "learn": _summary(result)},
                       data_hash=data_sha256(texts, labels))
    except TriageError as exc:
        fail(exc, 2, as_json=as_json)
    result.update(model=str(cur.path), out=out if result["accepted"] else None,
                  n_train=len(texts), n_corrections=len(fixes.texts))
    if as_json:
        sys.stdout.write(orjson.dumps(result).decode() + "\n")
    else:
        _print(result, tolerance)
    sys.exit(0 if result["accepted"] else 1)


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    return {k: result[k] for k in ("n_holdout", "tolerance", "allowed_drop", "current", "new", "delta")}


def _print(result: dict[str, Any], tolerance: float) -> None:
    c, n, d = result["current"], result["new"], result["delta"]
    click.echo(f"held-out split: {result['n_holdout']} texts; trained NEW on {result['n_train']:,} texts "
               f"({result['n_corrections']:,} corrections read)")
    click.echo(f"only CUR right on {result['only_current_right']}, only NEW on {result['only_new_right']}: "
               f"a drop of up to {result['allowed_drop']:.4f} is allowed (tolerance {tolerance:g} + "
               f"noise {result['noise_allowance']:.4f})")
    click.echo(f"{'':10} {'CUR':>8} {'NEW':>8} {'delta':>8}")
    for key in ("accuracy", "macro_f1"):
        click.echo(f"{key:10} {c[key]:8.4f} {n[key]:8.4f} {d[key]:+8.4f}")
    width = max(12, *(len(k) for k in result["per_class"]))
    click.echo(f"\n{'class':<{width}}  support  F1 CUR  F1 NEW   delta")
    for label, r in sorted(result["per_class"].items(), key=lambda kv: kv[1]["delta_f1"]):
        click.echo(f"{label:<{width}}  {r['support']:7d}  {r['f1_current']:6.3f}  {r['f1_new']:6.3f}"
                   f"  {r['delta_f1']:+6.3f}")
    if result["accepted"]:
        click.echo(f"\naccepted (no measure more than {result['allowed_drop']:.4f} below CUR): "
                   f"written to {result['out']}")
    else:
        click.echo(f"\nrefused: {'; '.join(result['reasons'])} (allowed {result['allowed_drop']:.4f}); "
                   "nothing written")
