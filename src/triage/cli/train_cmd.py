"""`triage train`: fit a text model on labelled CSV/JSONL/Parquet and write a model folder."""
from __future__ import annotations

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
def train(data: tuple[str, ...], text_columns: tuple[str, ...], label_column: str, out: str, seed: int,
          val_fraction: float, review_cost: float, oos_label: str | None) -> None:
    from triage.model import TextClassifier, read_labelled, save_model
    from triage.model.metrics import format_report

    try:
        rows = read_labelled(data, text_columns, label_column)
        clf = TextClassifier(val_fraction=val_fraction, review_cost=review_cost,
                             oos_label=oos_label, random_state=seed)
        try:
            clf.fit(rows.texts, rows.labels)
        except ValueError as exc:
            raise TriageError(f"cannot train: {exc}") from None
        folder = save_model(clf, out, metrics={"validation": clf.validation_}, data_hash=rows.sha256())
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
    click.echo(f"model written to {folder}")
