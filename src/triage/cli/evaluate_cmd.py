"""`triage evaluate`: how a model does on labelled data, with and without abstention."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import orjson

from triage.cli.common import fail
from triage.errors import TriageError


@click.command(help="Evaluate a text model on labelled CSV, JSONL or Parquet files (or folders): "
                    "accuracy and macro-F1 of the top-1 prediction, per-class precision/recall/F1, "
                    "the confusion matrix, coverage vs accuracy when low-confidence predictions "
                    "become 'unknown', and accuracy and macro-F1 per language (identified from "
                    "the text). Labels the model does not know count as errors.")
@click.argument("data", nargs=-1, required=True, metavar="DATA...")
@click.option("--model", "model_dir", metavar="DIR", help="Model folder (default: the shipped model).")
@click.option("--text-column", "text_columns", multiple=True, required=True, metavar="COL",
              help="Column holding text; repeat to join several with newlines.")
@click.option("--label-column", required=True, metavar="COL", help="Column holding the true category.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
@click.option("--plot", metavar="FILE.png", help="Also draw the confusion matrix as a PNG heat-map.")
def evaluate(data: tuple[str, ...], model_dir: str | None, text_columns: tuple[str, ...],
             label_column: str, as_json: bool, plot: str | None) -> None:
    from triage.defaults import default_model_dir
    from triage.model import load_model, read_labelled
    from triage.model.language import identify
    from triage.model.metrics import format_report, report

    try:
        folder = model_dir or default_model_dir()
        if folder is None:
            raise TriageError("no model: give --model DIR")
        model = load_model(folder)
        rows = read_labelled(data, text_columns, label_column)
        pred = model.predict(rows.texts)
        rep = report(rows.labels, pred.proba, model.labels, model.threshold,
                     confidence=pred.confidence, groups=identify(rows.texts))
        rep["by_language"] = rep.pop("by_group")
        rep["encoded_share"] = float(pred.encoded.mean()) if pred.encoded.size else 0.0
        if plot:
            _plot(rep, Path(plot), f"{Path(folder).name} ({model.version[:15]}…)")
    except TriageError as exc:
        fail(exc, 2, as_json=as_json)
    if as_json:
        rep = {"model": str(model.path), "model_version": model.version, **rep}
        sys.stdout.write(orjson.dumps(rep, option=orjson.OPT_SERIALIZE_NUMPY).decode() + "\n")
    else:
        click.echo(f"model {model.path} ({model.version[:19]}…) on {len(rows.files)} file(s)")
        click.echo(format_report(rep))
        if plot:
            click.echo(f"confusion matrix drawn to {plot}")


def _plot(rep: dict[str, Any], path: Path, title: str) -> None:
    """Confusion matrix heat-map, rows normalised to recall. matplotlib only when asked."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        raise TriageError("--plot needs matplotlib: pip install 'triage[plot]'") from None
    import numpy as np

    labels = rep["labels"]
    counts = np.asarray(rep["confusion"], dtype=float)
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = 2.5 + 0.45 * len(labels)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    try:
        im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
        ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=8)
        ax.set_yticks(range(len(labels)), labels, fontsize=8)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"{title}\naccuracy {rep['accuracy']:.3f}, macro-F1 {rep['macro_f1']:.3f}", fontsize=9)
        for i in range(len(labels)):
            for j in range(len(labels)):
                if counts[i, j]:
                    ax.text(j, i, int(counts[i, j]), ha="center", va="center", fontsize=7,
                            color="white" if share[i, j] > 0.5 else "black")
        fig.colorbar(im, ax=ax, label="share of the true class")
        fig.tight_layout()
        fig.savefig(path, dpi=120)
    except OSError as exc:
        raise TriageError(f"{path}: cannot write the plot: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)
