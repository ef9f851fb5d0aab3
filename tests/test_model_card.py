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
