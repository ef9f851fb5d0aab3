"""Reading a finished study back: its table, figures, Markdown and README section, and the runs notebooks show.

A study folder holds one run folder per model, each finished by a ``study.json`` record (what the model
costs, how sure its score is); everything here reads those files and trains nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from fer.data.atomic import write_json, write_text
from fer.provenance import command_line
from fer.run_folder import RunFolder

#: the evaluation split, FER2013 PublicTest
EVAL_SPLIT = "val"
#: the file a finished study run gets last: its presence means "finished"
RECORD = "study.json"
#: where the CPU-scale architecture study lives
DEFAULT_OUT = "results/architectures"


def summary_table(out: str | os.PathLike) -> pd.DataFrame:
    """One row per finished run under ``out`` (best accuracy first): scores with intervals and costs."""
    rows = []
    for record_file in sorted(Path(out).glob(f"*/{RECORD}")):
        r = json.loads(record_file.read_text())
        ci, cost = r["confidence_95"], r["cost"]
        rows.append({
            "name": r["entry"], "model": r["model"], "input": "x".join(map(str, r["input_shape"])),
            "weights": r["weights"], "epochs": r["budget"]["epochs"], "images_seen": r["budget"]["images_seen"],
            "eval_faces": r["eval_faces"],
            "accuracy": r["accuracy"], "accuracy_low": ci["accuracy"]["low"], "accuracy_high": ci["accuracy"]["high"],
            "macro_f1": r["macro_f1"], "macro_f1_low": ci["macro_f1"]["low"], "macro_f1_high": ci["macro_f1"]["high"],
            "params": cost["params"], "flops_per_face": cost["flops_per_face"],
            "train_images_per_s": cost.get("train_images_per_s"),
            "train_hours": r["wall_seconds"] / 3600 if r.get("wall_seconds") else None,
            "latency_batch1_ms": cost["latency_batch1_ms"], "throughput_batch256": cost["throughput_batch256"],
            "file_mb": cost["file_bytes"] / 1e6 if cost.get("file_bytes") else None,
        })
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame(rows).sort_values("accuracy", ascending=False).reset_index(drop=True)


def per_class_f1(out: str | os.PathLike) -> dict[str, dict[str, float]]:
    """Entry name → {class: F1} from each finished run's ``metrics_val.json``."""
    result = {}
    for record_file in sorted(Path(out).glob(f"*/{RECORD}")):
        metrics = json.loads(RunFolder(record_file.parent).metrics(EVAL_SPLIT).read_text())
        result[record_file.parent.name] = {c: row["f1"] for c, row in metrics["per_class"].items()}
    return result


def epoch_log(run_dir: Path) -> pd.DataFrame:
    """A run's per-epoch log (``history.csv``, appended epoch by epoch, so it survives interruptions).

    A stop between the log line and the checkpoint repeats an epoch after the resume: the last one counts."""
    frame = pd.read_csv(RunFolder(run_dir).history_csv)
    return frame.drop_duplicates("epoch", keep="last").sort_values("epoch").reset_index(drop=True)


def histories(out: str | os.PathLike) -> dict[str, pd.DataFrame]:
    """Entry name → its per-epoch history (``history.csv``) for each finished run."""
    return {f.parent.name: epoch_log(f.parent) for f in sorted(Path(out).glob(f"*/{RECORD}"))}


def markdown_table(table: pd.DataFrame, sources: Sequence[dict] = ()) -> str:
    """The study's comparison as a Markdown table (our numbers), then the sources' own numbers (``model``,
    ``reported``, ``protocol`` each)."""
    head = ("| model | input | weights | accuracy (95% CI) | macro-F1 (95% CI) | parameters | MFLOP/face | "
            "train img/s | train h | ms/face (batch 1) | faces/s (batch 256) | MB |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|\n")
    lines = []
    for _, r in table.iterrows():
        lines.append(
            f"| `{r['name']}` | {r['input']} | {'ImageNet' if r['weights'] == 'imagenet' else 'none'} "
            f"| {100 * r['accuracy']:.1f}% ({100 * r['accuracy_low']:.1f}-{100 * r['accuracy_high']:.1f}) "
            f"| {100 * r['macro_f1']:.1f}% ({100 * r['macro_f1_low']:.1f}-{100 * r['macro_f1_high']:.1f}) "
            f"| {r['params'] / 1e6:.2f}M | {r['flops_per_face'] / 1e6:.0f} | {_num(r['train_images_per_s'], 0)} "
            f"| {_num(r['train_hours'], 2)} | {r['latency_batch1_ms']:.1f} | {r['throughput_batch256']:.0f} "
            f"| {_num(r['file_mb'], 1)} |")
    notes = ["", "What the source projects report, each under its own protocol (not comparable number for number):",
               "", "| model | reported | their protocol |", "|---|---|---|"]
    notes += [f"| `{s['model']}` | {s['reported']} | {s['protocol']} |" for s in sources]
    return head + "\n".join(lines) + "\n" + ("\n".join(notes) + "\n" if sources else "")


def _num(value, digits: int) -> str:
    return "-" if value is None or pd.isna(value) else f"{value:.{digits}f}"


#: the README lines between which the generated table goes
README_BEGIN = "<!-- architectures table: generated by `python -m fer study architectures --report-only` -->"
README_END = "<!-- end of the architectures table -->"


def write_report(out: str | os.PathLike, readme: str | os.PathLike | None = None, *, protocol: str = "",
                 sources: Sequence[dict] = ()) -> pd.DataFrame:
    """Write ``summary.json`` / ``summary.csv``, ``comparison.md`` and the figures of the finished runs.

    ``protocol`` (text) goes into ``summary.json``; ``sources`` (the source projects' own numbers) below the table.

    With ``readme`` the table also replaces the text between :data:`README_BEGIN` and :data:`README_END`
    in that file (which must hold both lines).
    """
    from fer.plots import save_figure
    from fer.study_plots import plot_accuracy_against, plot_f1_heatmap, plot_scores, plot_validation_curves

    out = Path(out)
    table = summary_table(out)
    if table.empty:
        raise ValueError(f"no finished study run under {out} (no */{RECORD}); run the study first")
    write_json({"command": command_line(), "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "eval_split": f"{EVAL_SPLIT} (FER2013 PublicTest)", "protocol": protocol,
                "runs": json.loads(table.to_json(orient="records"))}, out / "summary.json")
    write_text(table.to_csv(index=False), out / "summary.csv")
    md = markdown_table(table, sources)
    write_text(md, out / "comparison.md")
    figures = out / "figures"
    save_figure(plot_scores(table, "FER2013 PublicTest, one protocol"), figures / "scores.png", close=True)
    save_figure(plot_accuracy_against(table, "params", "parameters"), figures / "accuracy_vs_params.png", close=True)
    save_figure(plot_accuracy_against(table, "latency_batch1_ms", "CPU latency, ms per face (batch 1)", pareto=True),
                figures / "accuracy_vs_latency.png", close=True)
    save_figure(plot_accuracy_against(table, "train_hours", "training time, CPU hours"),
                figures / "accuracy_vs_training_time.png", close=True)
    save_figure(plot_validation_curves(histories(out)), figures / "validation_curves.png", close=True)
    save_figure(plot_f1_heatmap(per_class_f1(out)), figures / "per_class_f1.png", close=True)
    if readme is not None:
        update_readme(Path(readme), md)
    return table


def update_readme(readme: Path, table_md: str) -> None:
    """Replace the text between the README's study markers with ``table_md``."""
    text = readme.read_text()
    if README_BEGIN not in text or README_END not in text:
        raise ValueError(f"{readme} has no study markers; add the lines {README_BEGIN!r} and {README_END!r} "
                         "where the table goes")
    before, rest = text.split(README_BEGIN, 1)
    _, after = rest.split(README_END, 1)
    write_text(f"{before}{README_BEGIN}\n{table_md}{README_END}{after}", readme)


# --------------------------------------------------------------------------- for the notebooks


def committed_runs(names: Iterable[str], out: str | os.PathLike = DEFAULT_OUT) -> dict[str, dict]:
    """Entry name → ``{"record", "metrics", "history"}`` of each finished study run among ``names``.

    Entries that have not finished (or a study folder that does not exist) are left out, so a notebook
    shows whatever part of the study is committed.
    """
    runs = {}
    for name in names:
        run_dir = Path(out) / name
        if (run_dir / RECORD).is_file():
            runs[name] = {"record": json.loads((run_dir / RECORD).read_text()),
                          "metrics": json.loads(RunFolder(run_dir).metrics(EVAL_SPLIT).read_text()),
                          "history": epoch_log(run_dir)}
    return runs


def beside_quick(runs: dict[str, dict], quick: dict[str, dict] | None = None) -> pd.DataFrame:
    """A small table: the committed full runs (:func:`committed_runs`) above a notebook's own quick runs.

    Args:
        runs: from :func:`committed_runs`.
        quick: label → metrics dict of the runs the notebook just trained (:func:`fer.evaluate.evaluate`).
    """
    rows = [{"run": f"study: {name}", "input": "x".join(map(str, r["record"]["input_shape"])),
             "training images seen": r["record"]["budget"]["images_seen"],
             "evaluated faces": r["metrics"]["num_samples"],
             "accuracy": r["metrics"]["accuracy"], "macro_f1": r["metrics"]["macro_f1"]} for name, r in runs.items()]
    rows += [{"run": label, "input": None, "training images seen": None, "evaluated faces": m["num_samples"],
              "accuracy": m["accuracy"], "macro_f1": m["macro_f1"]} for label, m in (quick or {}).items()]
    return pd.DataFrame(rows)
