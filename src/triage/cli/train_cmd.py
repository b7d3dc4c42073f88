"""`triage train`: fit a text model on labelled CSV/JSONL/Parquet and write a model folder."""
from __future__ import annotations

import time

import click

from triage.cli.common import fail
from triage.errors import TriageError


@click.command(help="Train a text model from labelled CSV, JSONL or Parquet files (or folders of them). "
                    "Prints metrics on a held-out validation split and writes DIR/model.joblib and "
                    "DIR/manifest.json.")
@click.argument("data", nargs=-1, required=True, metavar="DATA...")
@click.option("--text-column", "text_columns", multiple=True, required=True, metavar="COL",
              help="Column holding text; repeat to join several (e.g. subject and body) with newlines.")
@click.option("--label-column", required=True, metavar="COL", help="Column holding the category.")
@click.option("--out", "out", required=True, metavar="DIR", help="Model folder to write.")
@click.option("--seed", default=0, show_default=True, help="Seed of the validation split and the SVM.")
@click.option("--val-fraction", default=0.2, show_default=True,
              type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="Share of each category held out to calibrate and choose the threshold.")
@click.option("--review-cost", default=0.25, show_default=True,
              type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="Cost of an 'unknown' (a person reviews the ticket) relative to a wrong category (1); "
                   "the threshold minimises the total on the validation split.")
@click.option("--oos-label", default=None, metavar="LABEL",
              help="A label meaning 'none of the categories': used to calibrate and set the threshold, "
                   "never learnt as a category.")
@click.option("--class-weight", type=click.Choice(["balanced", "none"]), default="balanced",
              show_default=True, help="Weight classes inversely to their frequency (long-tailed data).")
@click.option("--encoder/--no-encoder", default=True, show_default=True,
              help="Use the multilingual sentence encoder where the TF-IDF model is unsure.")
@click.option("--encoder-budget", default=0.25, show_default=True, type=click.FloatRange(0, 1),
              help="Largest share of each batch sent to the sentence encoder (the least confident "
                   "first); stored in the manifest, editable there.")
def train(data: tuple[str, ...], text_columns: tuple[str, ...], label_column: str, out: str, seed: int,
          val_fraction: float, review_cost: float, oos_label: str | None, class_weight: str,
          encoder: bool, encoder_budget: float) -> None:
    from triage.model import TextClassifier, read_labelled, save_model
    from triage.model.metrics import format_report

    try:
        rows = read_labelled(data, text_columns, label_column)
        clf = TextClassifier(val_fraction=val_fraction, review_cost=review_cost,
                             oos_label=oos_label, random_state=seed,
                             class_weight=None if class_weight == "none" else class_weight,
                             encoder=encoder, encoder_budget=encoder_budget)
        t0 = time.perf_counter()
        try:
            clf.fit(rows.texts, rows.labels)
        except ValueError as exc:
            raise TriageError(f"cannot train: {exc}") from None
        fit_seconds = time.perf_counter() - t0
        folder = save_model(clf, out, metrics={"validation": clf.validation_,
                                               "fit_seconds": round(fit_seconds, 2)},
                            data_hash=rows.sha256())
    except TriageError as exc:
        fail(exc, 2)
    v = clf.validation_
    click.echo(f"trained on {clf.n_train_:,} texts from {len(rows.files)} file(s), "
               f"{len(clf.classes_)} categories; validation split ({v['n']:,} texts, "
               f"{val_fraction:.0%} of each category):")
    click.echo(format_report(v))
    rule = v["threshold_rule"]
    click.echo(f"\nthreshold {rule['threshold']:.3f}: least cost on validation with a review costing "
               f"{rule['review_cost']:g} of a wrong category (accepts {rule['coverage']:.1%}, "
               f"{rule['selective_accuracy']:.1%} of them right)")
    cascade = v["cascade"]
    if clf.encoder:
        click.echo(f"cascade: the encoder sees texts with a top-two margin below "
                   f"{cascade['margin_cutoff']:.3f}, at most {encoder_budget:.0%} of a batch "
                   f"({cascade['encoded_share']:.1%} of the validation split)")
    click.echo(f"fit {fit_seconds:.1f} s; model written to {folder}")
