"""The landmark and fusion entries of the architecture study: their protocol, costs with FaceMesh, mesh failures,
the report rows and the command line, on synthetic faces (real FaceMesh on them; a cache of their own)."""

import json

import keras
import pandas as pd
import pytest

from fer.data import make_synthetic
from fer.studies import architectures as arch, report

LANDMARK_ENTRIES = ["landmark_mlp", "landmark_gnn_mesh", "landmark_gnn_anatomical", "landmark_transformer",
                    "fer_landmark_fusion"]


@pytest.fixture(scope="module")
def faces():
    return make_synthetic(n_per_class=8, seed=0)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("landmark-cache")


@pytest.fixture(scope="module")
def study(faces, cache, tmp_path_factory):
    """One epoch each of landmark_mlp and the fusion model, into a study folder of their own."""
    mp = pytest.MonkeyPatch()
    mp.setenv("FER_CACHE_DIR", str(cache))  # never the user's cache of the real data
    out = tmp_path_factory.mktemp("study")
    arch.run_study(faces, out, ["landmark_mlp", "fer_landmark_fusion"], epochs=1, seconds=0.05, log=lambda _: None)
    yield out
    mp.undo()


def _failures(faces, split: str) -> int:
    """Faces of ``split`` whose mesh fails, counted here with FaceMesh itself (not through the study)."""
    from fer.landmarks.facemesh import PRESENCE_THRESHOLD, FaceMesh

    mesh = FaceMesh(workers=1)
    try:
        _, presence = mesh(faces.images[faces.split == split])
    finally:
        mesh.close()
    return int((presence < PRESENCE_THRESHOLD).sum())


def test_the_landmark_entries_are_in_the_study_with_their_inputs():
    names = [e.name for e in arch.ENTRIES]
    assert set(LANDMARK_ENTRIES) <= set(names)
    for name in LANDMARK_ENTRIES[:4]:
        cfg = arch.run_config(arch.entry(name))
        assert cfg.resolved_shape() == (468, 3) and arch.entry(name).sees == "landmarks"
    assert arch.run_config(arch.entry("landmark_gnn_mesh")).model_options == {"graph": "mesh"}
    assert arch.run_config(arch.entry("landmark_gnn_anatomical")).model_options == {"graph": "anatomical"}
    # fusion at fer_resnet's budget and image input: only the model and the augmentation differ
    fusion, resnet = (arch.run_config(arch.entry(n)) for n in ("fer_landmark_fusion", "fer_resnet"))
    assert arch.entry("fer_landmark_fusion").sees == "image + landmarks"
    assert fusion.resolved_shape() == resnet.resolved_shape() == (48, 48, 1)
    assert {k for k, v in fusion.to_dict().items() if resnet.to_dict()[k] != v} == {"model", "augment"}
    assert arch.budget(fusion, 28709) == arch.budget(resnet, 28709)
    # the protocol text (summary.json, --help) says what these models see and how they are augmented
    assert "468 FaceMesh points" in arch._protocol_text() and "LANDMARK_AUGMENT" in arch._protocol_text()


def test_the_plan_lists_the_landmark_entries(capsys):
    from fer.__main__ import main

    assert main(["study", "architectures", "--plan"]) == 0
    lines = {line.split("  ")[0].removeprefix("name="): line for line in capsys.readouterr().out.splitlines()}
    assert set(LANDMARK_ENTRIES) <= set(lines)
    assert "sees=landmarks" in lines["landmark_mlp"] and "input=(468, 3)" in lines["landmark_mlp"]
    assert "'graph': 'anatomical'" in lines["landmark_gnn_anatomical"]
    assert "input=(48, 48, 1) + (468, 3)" in lines["fer_landmark_fusion"]
    assert "augment=landmark" in lines["fer_landmark_fusion"] and "augment=True" in lines["fer_resnet"]


def test_a_landmark_and_the_fusion_run_record_their_costs_and_mesh_failures(study, faces):
    from fer.cost import count_flops
    from fer.models import build

    expected = _failures(faces, "val")
    for name, inputs in (("landmark_mlp", {"landmarks": [468, 3]}),
                         ("fer_landmark_fusion", {"image": [48, 48, 1], "landmarks": [468, 3]})):
        run = study / name
        rec = json.loads((run / arch.RECORD).read_text())
        metrics = json.loads((run / "metrics_val.json").read_text())
        assert rec["inputs"] == inputs and rec["eval_faces"] == int((faces.split == "val").sum())
        assert rec["mesh_failures"] == metrics["mesh_failures"] == expected
        per_split = rec["landmarks"]["mesh_failures_per_split"]
        assert per_split["val"] == expected and per_split["train"] == _failures(faces, "train")
        assert json.loads((run / "config.json").read_text())["augment"]["rotation"] == 5.0  # the landmark recipe
        cost = rec["cost"]
        model = keras.saving.load_model(run / "model.keras", compile=False)
        assert cost["params"] == model.count_params() and cost["train_images_per_s"] > 0
        mesh = cost["facemesh"]
        assert mesh["latency_batch1_ms"] > 0 and mesh["throughput_batch256"] > 0 and mesh["crop_shape"] == [48, 48, 1]
        assert cost["end_to_end_latency_batch1_ms"] == pytest.approx(cost["latency_batch1_ms"]
                                                                     + mesh["latency_batch1_ms"])
        assert cost["end_to_end_throughput_batch256"] < min(cost["throughput_batch256"], mesh["throughput_batch256"])
    mlp = json.loads((study / "landmark_mlp" / arch.RECORD).read_text())["cost"]["flops_per_face"]
    macs = 1404 * 512 + 512 * 256 + 256 * 7  # the MLP's three dense layers
    assert 2 * macs <= mlp <= 2.05 * macs
    fusion = json.loads((study / "fer_landmark_fusion" / arch.RECORD).read_text())["cost"]["flops_per_face"]
    assert fusion > count_flops(build("fer_resnet", (48, 48, 1))) + 2 * 1404 * 512  # both branches counted


def test_the_report_rows_say_what_the_landmark_models_see(study, faces):
    table = arch.write_report(study).set_index("name")
    assert set(table.index) == {"landmark_mlp", "fer_landmark_fusion"}
    assert table.loc["landmark_mlp", "sees"] == "landmarks" and table.loc["landmark_mlp", "input"] == "468x3"
    assert table.loc["fer_landmark_fusion", "input"] == "48x48x1 + 468x3"
    rec = json.loads((study / "landmark_mlp" / arch.RECORD).read_text())
    assert table.loc["landmark_mlp", "mesh_failures"] == rec["mesh_failures"]
    assert table.loc["landmark_mlp", "end_to_end_latency_ms"] > table.loc["landmark_mlp", "latency_batch1_ms"]
    md = (study / "comparison.md").read_text()
    row = next(line for line in md.splitlines() if line.startswith("| `landmark_mlp`"))
    assert "468x3 FaceMesh points" in row and f"{rec['mesh_failures']} of {rec['eval_faces']}" in row
    assert "see no pixels" in md and "Fusion against image-only" not in md  # no fer_resnet run to compare with
    summary = json.loads((study / "summary.json").read_text())
    assert {r["name"]: r["sees"] for r in summary["runs"]} == {"landmark_mlp": "landmarks",
                                                              "fer_landmark_fusion": "image + landmarks"}


def test_remeasured_costs_keep_the_facemesh_step(study):
    before = json.loads((study / "landmark_mlp" / arch.RECORD).read_text())
    assert arch.remeasure_costs(study, ["landmark_mlp"], seconds=0.05, log=lambda _: None) == [study / "landmark_mlp"]
    after = json.loads((study / "landmark_mlp" / arch.RECORD).read_text())
    assert after["cost"]["facemesh"]["latency_batch1_ms"] > 0 and after["mesh_failures"] == before["mesh_failures"]
    assert after["accuracy"] == before["accuracy"] and "cost_remeasured" in after


def test_a_finished_landmark_run_is_skipped_by_the_next_start(study, faces, cache, monkeypatch):
    import fer.train

    monkeypatch.setenv("FER_CACHE_DIR", str(cache))

    def no_training(*a, **k):
        raise AssertionError("a finished run must not be trained again")

    monkeypatch.setattr(fer.train, "train", no_training)
    lines = []  # the augmentation train() wrote into config.json is the one the study expects
    arch.run_study(faces, study, ["landmark_mlp", "fer_landmark_fusion"], epochs=1, log=lines.append)
    assert all("skipped" in line for line in lines) and len(lines) == 2


def test_the_command_line_trains_one_landmark_entry(tmp_path, monkeypatch, capsys):
    from fer.__main__ import main

    monkeypatch.setenv("FER_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["study", "architectures", "--data", "synthetic:6", "--only", "landmark_mlp", "--epochs", "1",
                 "--out", str(tmp_path / "study"), "--seconds", "0.05"]) == 0
    rec = json.loads((tmp_path / "study" / "landmark_mlp" / arch.RECORD).read_text())
    assert rec["budget"]["epochs"] == 1 and rec["sees"] == "landmarks" and "facemesh" in rec["cost"]
    assert "landmark_mlp" in capsys.readouterr().out


def _row(name, accuracy, low, high, epochs=8, sees="image + landmarks"):
    return {"name": name, "sees": sees, "accuracy": accuracy, "accuracy_low": low, "accuracy_high": high,
            "macro_f1": accuracy - 0.1, "epochs": epochs, "images_seen": epochs * 28709, "facemesh_ms": 3.0}


def test_the_fusion_note_compares_with_fer_resnet_and_says_when_it_is_not_shown_to_differ():
    above = pd.DataFrame([_row("fer_landmark_fusion", 0.60, 0.584, 0.616),
                          _row("fer_resnet", 0.55, 0.534, 0.566, sees="image")])
    text = "\n".join(report.landmark_notes(above))
    assert "at the same budget" in text and "+5.0 points" in text and "fusion is above" in text
    close = pd.DataFrame([_row("fer_landmark_fusion", 0.552, 0.536, 0.568),
                          _row("fer_resnet", 0.55, 0.534, 0.566, sees="image")])
    assert "not shown to differ" in "\n".join(report.landmark_notes(close))
    lower = pd.DataFrame([_row("fer_landmark_fusion", 0.50, 0.484, 0.516, epochs=3),
                          _row("fer_resnet", 0.55, 0.534, 0.566, sees="image")])
    text = "\n".join(report.landmark_notes(lower))
    assert "fusion is below" in text and "(not the same budget)" in text and "3 vs 8 epochs" in text
    a, b = above.iloc[0], above.iloc[1]
    low, high = report.difference_interval(a, b)
    assert low < 0.05 < high and report.difference_interval(b, a) == pytest.approx((-high, -low))
    assert report.landmark_notes(pd.DataFrame([_row("fer_resnet", 0.55, 0.53, 0.57, sees="image")])) == []


def test_old_records_without_the_landmark_fields_still_make_a_table(study, tmp_path):
    """Runs recorded before this change (no sees / inputs / facemesh) read as image models."""
    import shutil

    old = tmp_path / "old"
    shutil.copytree(study / "landmark_mlp", old / "simple_cnn")
    rec = json.loads((old / "simple_cnn" / arch.RECORD).read_text())
    for key in ("sees", "inputs", "mesh_failures", "landmarks"):
        rec.pop(key)
    for key in ("facemesh", "end_to_end_latency_batch1_ms", "end_to_end_throughput_batch256"):
        rec["cost"].pop(key)
    rec["entry"], rec["input_shape"] = "simple_cnn", [64, 64, 3]
    (old / "simple_cnn" / arch.RECORD).write_text(json.dumps(rec))
    row = report.summary_table(old).iloc[0]
    assert row["sees"] == "image" and row["input"] == "64x64x3" and pd.isna(row["facemesh_ms"])
    assert row["end_to_end_latency_ms"] == row["latency_batch1_ms"]
    assert "see no pixels" not in report.markdown_table(report.summary_table(old))
