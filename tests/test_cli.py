"""The command line: train → evaluate → compare on synthetic data, a real-data smoke run, and bad input."""

from __future__ import annotations

import json

import pytest

from fer.__main__ import main


@pytest.fixture(scope="module")
def synthetic_run(tmp_path_factory):
    # The acceptance command, verbatim but for --out: the baseline CNN (two Dropout(0.5) dense
    # layers, BatchNorm, augmentation on) on the default synthetic set for 3 epochs.
    out = tmp_path_factory.mktemp("runs") / "baseline"
    code = main(["train", "--model", "baseline_cnn", "--data", "synthetic", "--epochs", "3",
                 "--out", str(out), "--quiet"])
    assert code == 0
    return out


def test_train_on_synthetic_learns_well_above_chance(synthetic_run):
    for name in ("config.json", "history.csv", "model.keras", "metrics_val.json", "metrics_test.json",
                 "plots/history.png", "plots/confusion_test.png"):
        assert (synthetic_run / name).is_file(), name
    metrics = json.loads((synthetic_run / "metrics_test.json").read_text())
    assert metrics["num_samples"] == 7 * 150 and metrics["accuracy"] > 0.4  # chance is 1/7


def test_evaluate_reproduces_the_run_metrics(synthetic_run, tmp_path, capsys):
    out = tmp_path / "m.json"
    assert main(["evaluate", "--model", str(synthetic_run / "model.keras"), "--data", "synthetic",
                 "--split", "test", "--out", str(out)]) == 0
    got = json.loads(out.read_text())
    ref = json.loads((synthetic_run / "metrics_test.json").read_text())
    assert got["accuracy"] == pytest.approx(ref["accuracy"]) and got["confusion_matrix"] == ref["confusion_matrix"]
    assert "accuracy" in capsys.readouterr().out and out.with_name("m_confusion.png").is_file()


def test_compare_reads_run_folders(synthetic_run, tmp_path, capsys):
    second = tmp_path / "copy"
    second.mkdir()
    metrics = json.loads((synthetic_run / "metrics_val.json").read_text())
    metrics["accuracy"] = 1.0
    (second / "metrics_val.json").write_text(json.dumps(metrics))
    assert main(["compare", str(synthetic_run), str(second), "--out", str(tmp_path / "cmp")]) == 0
    rows = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    assert [r["name"] for r in rows] == ["copy", "baseline"]  # best accuracy first
    assert (tmp_path / "cmp" / "comparison.png").stat().st_size > 0
    assert "baseline" in capsys.readouterr().out


def test_bad_data_path_is_one_clear_line(tmp_path, capsys):
    code = main(["train", "--model", "baseline_cnn", "--data", str(tmp_path / "nope.csv"), "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1 and "nope.csv" in err and "Traceback" not in err


def test_compare_without_metrics_names_the_file(tmp_path, capsys):
    assert main(["compare", str(tmp_path)]) == 1
    assert "metrics_val.json" in capsys.readouterr().err


def test_real_fer2013_smoke_run(shared_data, tmp_path):
    """A few hundred real faces, one epoch: the real reader, pipeline, training and evaluation fit together."""
    out = tmp_path / "real"
    assert main(["train", "--model", "baseline_cnn", "--data", str(shared_data / "fer2013" / "fer2013.csv.gz"),
                 "--train-size", "300", "--epochs", "1", "--out", str(out), "--quiet"]) == 0
    metrics = json.loads((out / "metrics_val.json").read_text())
    assert metrics["num_samples"] == 3589  # all of PublicTest
    assert not (out / "metrics_test.json").exists()  # PrivateTest is withheld: no test split, no test metrics


def test_epochs_cannot_silently_change_a_multi_phase_recipe(tmp_path):
    with pytest.raises(SystemExit, match="--epochs cannot change recipe 'fer2013_default'"):
        main(["train", "--recipe", "fer2013_default", "--data", "synthetic:2", "--epochs", "3", "--out", str(tmp_path)])
    assert not any(tmp_path.iterdir())  # refused before anything was written


def test_soft_labels_without_soft_labels_is_one_clear_line(tmp_path, capsys):
    assert main(["train", "--model", "baseline_cnn", "--data", "synthetic:2", "--soft-labels",
                 "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert "--soft-labels" in err and "fer2013+ferplus" in err and not (tmp_path / "run").exists()


def test_real_fer2013_with_ferplus_votes_smoke_run(shared_data, tmp_path):
    """FER2013 labels with the FER+ votes as soft targets: trains, and evaluates on FER2013's own labels."""
    if not (shared_data / "ferplus" / "fer2013new.csv").is_file():
        pytest.skip("FER+ votes not found beside fer2013.csv")
    out = tmp_path / "votes"
    assert main(["train", "--model", "baseline_cnn", "--data", "fer2013+ferplus:0.3", "--soft-labels",
                 "--train-size", "300", "--epochs", "1", "--out", str(out), "--quiet"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["soft_labels"] is True and config["classes"][-1] == "neutral" and len(config["classes"]) == 7
    assert json.loads((out / "metrics_val.json").read_text())["num_samples"] == 3589


def test_rerunning_a_finished_run_says_where_it_is_and_trains_nothing(synthetic_run, capsys):
    before = {p.name: p.read_bytes() for p in synthetic_run.iterdir() if p.is_file()}
    assert main(["train", "--model", "baseline_cnn", "--data", "synthetic", "--epochs", "3",
                 "--out", str(synthetic_run), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"run folder: {synthetic_run} (already finished; nothing trained: --force" in out
    assert {p.name: p.read_bytes() for p in synthetic_run.iterdir() if p.is_file()} == before


TINY_TRAIN = ["train", "--model", "baseline_cnn", "--data", "synthetic:2", "--input-size", "48", "--epochs", "1"]


@pytest.mark.parametrize("flags, message", [
    (["--model", "nope"], "model='nope' (--model): no such architecture"),
    (["--epochs", "0"], "epochs=0 (--epochs): train at least 1 epoch, e.g. --epochs 30"),
    (["--lr", "-0.01"], "lr=-0.01 (--lr): the learning rate must be a positive number, e.g. --lr 1e-3"),
    (["--lr", "0"], "lr=0.0 (--lr)"),
    (["--batch-size", "0"], "batch_size=0 (--batch-size)"),
])
def test_usage_errors_exit_2_with_one_line_and_write_nothing(tmp_path, capsys, flags, message):
    # the flags come last: argparse keeps the last value of a repeated option
    assert main([*TINY_TRAIN, "--out", str(tmp_path / "run"), *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("fer train: error: ") and message in err and "\n" not in err
    assert not (tmp_path / "run").exists()


@pytest.fixture
def read_only_dir(tmp_path):
    """A folder nobody can write in: chmod for a normal user, a read-only tmpfs mount for root."""
    import os
    import subprocess

    path = tmp_path / "ro"
    path.mkdir()
    path.chmod(0o555)
    if os.access(path, os.W_OK):  # root ignores permissions
        path.chmod(0o755)
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro", "tmpfs", str(path)], capture_output=True,
                          check=False).returncode:
            pytest.skip("cannot make a read-only folder here (root without mount permission)")
        yield path
        subprocess.run(["umount", str(path)], check=False)
        return
    yield path
    path.chmod(0o755)


def test_read_only_out_is_one_clear_line(read_only_dir, capsys):
    assert main([*TINY_TRAIN, "--out", str(read_only_dir / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert f"--out {read_only_dir / 'run'}: cannot write in {read_only_dir}" in err and "\n" not in err
    assert "choose a folder you can write to" in err and "Errno" not in err


def test_ctrl_c_ends_with_one_line_saying_how_to_resume(tmp_path):
    """SIGINT during training: exit 130, no traceback, one line saying to re-run the same command; the
    checkpoint it names is there."""
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "fer", "train", "--model", "baseline_cnn", "--data", "synthetic:30",
                             "--input-size", "48", "--epochs", "200", "--batch-size", "8", "--quiet",
                             "--out", str(out)],
                            cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            # a pytest-xdist worker ignores SIGINT and a child would inherit that: give it
                            # a terminal's default, where Ctrl-C raises KeyboardInterrupt
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.time() + 600  # generous: the suite may share the CPU with other workers
        while not (out / "backup").is_dir() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.5)
        assert (out / "backup").is_dir(), "no checkpoint within 600 s"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert err.strip().splitlines()[-1] == ("fer train: interrupted; re-run the same command to resume from the last "
                                            f"checkpoint in {out}")
