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
    """One row per finished run under ``out`` (best accuracy first): scores with intervals and costs.

    ``sees`` says what the model's input is (``image``, ``landmarks``, ``image + landmarks``); ``facemesh_ms`` is
    FaceMesh's latency for a landmark model, added into ``end_to_end_latency_ms`` / ``end_to_end_throughput``
    (the model's own numbers for an image model); ``mesh_failures`` counts the evaluated faces whose mesh failed.
    """
    rows = []
    for record_file in sorted(Path(out).glob(f"*/{RECORD}")):
        r = json.loads(record_file.read_text())
        ci, cost = r["confidence_95"], r["cost"]
        mesh = cost.get("facemesh") or {}
        inputs = r.get("inputs") or {"image": r["input_shape"]}
        rows.append({
            "name": r["entry"], "model": r["model"], "sees": r.get("sees", "image"),
            "input": " + ".join("x".join(map(str, shape)) for shape in inputs.values()),
            "weights": r["weights"], "epochs": r["budget"]["epochs"], "images_seen": r["budget"]["images_seen"],
            "eval_faces": r["eval_faces"],
            "accuracy": r["accuracy"], "accuracy_low": ci["accuracy"]["low"], "accuracy_high": ci["accuracy"]["high"],
            "macro_f1": r["macro_f1"], "macro_f1_low": ci["macro_f1"]["low"], "macro_f1_high": ci["macro_f1"]["high"],
            "params": cost["params"], "flops_per_face": cost["flops_per_face"],
            "train_images_per_s": cost.get("train_images_per_s"),
            "train_hours": _hours(r.get("train_seconds") or r.get("wall_seconds")),
            "train_hours_from": "epochs" if r.get("train_seconds") else "wall clock",
            "latency_batch1_ms": cost["latency_batch1_ms"], "throughput_batch256": cost["throughput_batch256"],
            "facemesh_ms": mesh.get("latency_batch1_ms"),
            "end_to_end_latency_ms": cost.get("end_to_end_latency_batch1_ms", cost["latency_batch1_ms"]),
            "end_to_end_throughput": cost.get("end_to_end_throughput_batch256", cost["throughput_batch256"]),
            "mesh_failures": r.get("mesh_failures"),
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


#: how the table's "input" column reads for each kind of input
_SEES = {"image": "", "landmarks": " FaceMesh points", "image + landmarks": " (image + FaceMesh points)"}


def markdown_table(table: pd.DataFrame, sources: Sequence[dict] = ()) -> str:
    """The study's comparison as a Markdown table (our numbers), a note on the landmark models' input and
    cost (when the table has any), then the sources' own numbers (``model``, ``reported``, ``protocol`` each)."""
    head = ("| model | input | weights | accuracy (95% CI) | macro-F1 (95% CI) | parameters | MFLOP/face | "
            "train img/s | train h | ms/face (batch 1) | ms/face incl. FaceMesh | faces/s incl. FaceMesh (batch 256) "
            "| mesh failures | MB |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
    lines = []
    for _, r in table.iterrows():
        sees = r.get("sees", "image")
        sees = "image" if not isinstance(sees, str) else sees
        failures = r.get("mesh_failures")
        failures = "-" if failures is None or pd.isna(failures) else f"{int(failures)} of {int(r['eval_faces'])}"
        lines.append(
            f"| `{r['name']}` | {r['input']}{_SEES.get(sees, '')} "
            f"| {'ImageNet' if r['weights'] == 'imagenet' else 'none'} "
            f"| {100 * r['accuracy']:.1f}% ({100 * r['accuracy_low']:.1f}-{100 * r['accuracy_high']:.1f}) "
            f"| {100 * r['macro_f1']:.1f}% ({100 * r['macro_f1_low']:.1f}-{100 * r['macro_f1_high']:.1f}) "
            f"| {r['params'] / 1e6:.2f}M | {r['flops_per_face'] / 1e6:.0f} | {_num(r['train_images_per_s'], 0)} "
            f"| {_num(r['train_hours'], 2)}{WALL_MARK if r.get('train_hours_from') == 'wall clock' else ''} "
            f"| {r['latency_batch1_ms']:.1f} "
            f"| {_num(r.get('end_to_end_latency_ms', r['latency_batch1_ms']), 1)} "
            f"| {_num(r.get('end_to_end_throughput', r['throughput_batch256']), 0)} "
            f"| {failures} "
            f"| {_num(r['file_mb'], 1)} |")
    notes = landmark_notes(table)
    if "train_hours_from" in table and (table["train_hours_from"] == "wall clock").any():
        notes += ["", f"*train h* is the number of epochs times the median epoch's time; {WALL_MARK}: a run from "
                  "before epochs were timed, whose time is the training process' wall clock: it includes any "
                  "pause or load of the machine during the run and misses the time before a resume."]
    if sources:
        notes += ["", "What the source projects report, each under its own protocol (not comparable number for "
                  "number):", "", "| model | reported | their protocol |", "|---|---|---|"]
        notes += [f"| `{s['model']}` | {s['reported']} | {s['protocol']} |" for s in sources]
    return head + "\n".join(lines) + "\n" + ("\n".join(notes) + "\n" if notes else "")


def landmark_notes(table: pd.DataFrame) -> list[str]:
    """The lines under the table that say what the landmark and fusion models see and what FaceMesh costs,
    and how the fusion model compares with the image-only ``fer_resnet`` when both are in ``table``."""
    if "sees" not in table or not (table["sees"] != "image").any():
        return []
    lm = table[table["sees"] != "image"]
    mesh_ms = lm["facemesh_ms"].dropna()
    lines = ["", "Landmark models (input `468x3 FaceMesh points`) see no pixels: only the 468 FaceMesh points "
             "(x, y, z, normalised to the eye line) of each 48x48 crop; `fer_landmark_fusion` sees the 48x48 gray "
             "crop and those points. FaceMesh has to run on the crop first"
             + (f" ({mesh_ms.median():.1f} ms per face at batch 1 on this CPU)" if len(mesh_ms) else "")
             + ": the two *incl. FaceMesh* columns add it (for image models they are the model's own "
             "numbers); *MFLOP/face*, *ms/face (batch 1)* and *train img/s* are the model alone (training "
             "reads landmarks extracted once and cached). *Mesh failures*: evaluated faces whose mesh failed "
             "(presence < 0.5); they get the mean training face and are scored, not dropped. Augmentation: "
             "mirror with the left/right point permutation, ±5° roll, ±5% scale; the fusion model's image is "
             "only mirrored with its points."]
    pair = table.set_index("name")
    if {"fer_landmark_fusion", "fer_resnet"} <= set(pair.index):
        f, r = pair.loc["fer_landmark_fusion"], pair.loc["fer_resnet"]
        low, high = difference_interval(f, r)
        same = f["images_seen"] == r["images_seen"]
        verdict = ("above the image-only model" if low > 0 else "below the image-only model" if high < 0
                   else "not shown to differ from the image-only model (the interval holds 0)")
        seen = f"{int(f['images_seen']):,}" if same else f"{int(f['images_seen']):,} vs {int(r['images_seen']):,}"
        lines += ["", f"Fusion against image-only{' at the same budget' if same else ' (not the same budget)'} "
                  f"({int(f['epochs'])}{'' if same else ' vs ' + str(int(r['epochs']))} epochs, "
                  f"{seen} training images seen, 48x48 gray): `fer_landmark_fusion` "
                  f"{100 * f['accuracy']:.1f}% vs `fer_resnet` {100 * r['accuracy']:.1f}% accuracy, a difference "
                  f"of {100 * (f['accuracy'] - r['accuracy']):+.1f} points (95% CI {100 * low:+.1f} to "
                  f"{100 * high:+.1f}, Newcombe's interval for two independent evaluations, conservative for the "
                  f"same faces): fusion is {verdict}; macro-F1 {100 * f['macro_f1']:.1f}% vs "
                  f"{100 * r['macro_f1']:.1f}%. The fusion model's image is only mirrored (with its points); "
                  "`fer_resnet`'s gets the full image augmentation."]
    return lines


def difference_interval(a, b) -> tuple[float, float]:
    """95% interval of ``a.accuracy - b.accuracy`` from each row's Wilson interval (Newcombe's hybrid score
    method; it treats the two evaluations as independent, so on the same faces it is wider than needed)."""
    d = a["accuracy"] - b["accuracy"]
    low = d - ((a["accuracy"] - a["accuracy_low"]) ** 2 + (b["accuracy_high"] - b["accuracy"]) ** 2) ** 0.5
    high = d + ((a["accuracy_high"] - a["accuracy"]) ** 2 + (b["accuracy"] - b["accuracy_low"]) ** 2) ** 0.5
    return float(low), float(high)


#: marks a training time read from the wall clock (see :func:`markdown_table`)
WALL_MARK = "†"


def _hours(seconds: float | None) -> float | None:
    return seconds / 3600 if seconds else None


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
    save_figure(plot_accuracy_against(table, "end_to_end_latency_ms",
                                      "CPU latency, ms per face (batch 1; landmark models incl. FaceMesh)",
                                      pareto=True), figures / "accuracy_vs_latency.png", close=True)
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
