"""fer.cli: every command is reachable as ``python -m fer COMMAND``, runs under the one error handler (the exit
code and the single line each class of error gets), and ``fer/__main__.py`` only hands over to it."""

from __future__ import annotations

import argparse
import ast
import contextlib
import io
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

import fer
from fer.cli import build_parser, main
from fer.cli.handler import handled
from fer.errors import CommandError, UsageError

#: Every command line the README promises, as words after ``python -m fer``.
COMMANDS = ["train", "evaluate", "compare", "predict", "webcam", "export", "recalibrate", "models", "card",
            "audit", "bench data", "bench inference", "bench detect", "bench serve", "bench landmarks",
            "bench peer", "bench allocator", "study architectures", "study losses", "study landmarks", "study framing",
            "serve", "landmarks reference"]
#: Old module names kept because committed results record them → the command they run now.
ALIASES = {"fer.bench": "bench data", "fer.bench_inference": "bench inference", "fer.serve.bench": "bench serve",
           "fer.inference.bench_detect": "bench detect", "fer.landmarks.bench": "bench landmarks",
           "fer.loss_comparison": "study losses", "fer.inference.calibrate_framing": "study framing",
           "fer.landmarks.study": "study landmarks", "fer.model_card": "card", "fer.data.audit": "audit"}


def _help(argv: list[str]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as stop:
        build_parser().parse_args(argv)
    assert stop.value.code == 0
    return out.getvalue()


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_parses_its_help(command):
    assert _help([*command.split(), "--help"]).startswith(f"usage: python -m fer {command} ")


def test_every_command_runs_under_the_error_handler():
    def leaves(parser: argparse.ArgumentParser, words: tuple[str, ...] = ()):
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            yield words, parser
        for action in subs:
            for name, child in action.choices.items():
                yield from leaves(child, (*words, name))

    found = {" ".join(words): p.get_default("func") for words, p in leaves(build_parser())}
    assert sorted(found) == sorted(COMMANDS)
    unhandled = [name for name, func in found.items() if not hasattr(func, "__wrapped__")]
    assert not unhandled, f"commands not wrapped by fer.cli.handler.handled: {unhandled}"


def _run(error: BaseException, capsys, monkeypatch, debug: bool = False) -> tuple[int, list[str]]:
    monkeypatch.setenv("FER_DEBUG", "1") if debug else monkeypatch.delenv("FER_DEBUG", raising=False)

    @handled("demo")
    def body(args):
        raise error

    code = body(argparse.Namespace(command_line="python -m fer demo"))
    return code, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize("error, code", [
    (UsageError("--epochs 0: give a positive number of epochs"), 2),
    (FileNotFoundError("data file 'nope.csv' not found"), 1),
    (ValueError("'x.png' is not an image OpenCV can read"), 1),
    (OSError("could not write image 'out.png'"), 1),
    (ImportError("the web app needs the serve extra (fastapi is missing)"), 1),
    (CommandError("no camera 0: OpenCV could not open it"), 1),
])
def test_expected_errors_are_one_line_and_an_exit_code(error, code, capsys, monkeypatch):
    got, lines = _run(error, capsys, monkeypatch)
    assert got == code and lines == [f"fer demo: error: {error}"]


def test_a_message_on_several_lines_is_printed_on_one(capsys, monkeypatch):
    got, lines = _run(ValueError("first part\nsecond part"), capsys, monkeypatch)
    assert got == 1 and lines == ["fer demo: error: first part second part"]


def test_ctrl_c_is_one_line_and_exit_130(capsys, monkeypatch):
    assert _run(KeyboardInterrupt(), capsys, monkeypatch) == (130, ["fer demo: interrupted"])


def test_an_unexpected_error_keeps_its_traceback(capsys, monkeypatch):
    with pytest.raises(ZeroDivisionError):
        _run(ZeroDivisionError("a bug"), capsys, monkeypatch)
    assert capsys.readouterr().err == ""


def test_fer_debug_shows_the_traceback_of_expected_errors(capsys, monkeypatch):
    with pytest.raises(UsageError):
        _run(UsageError("--epochs 0"), capsys, monkeypatch, debug=True)


def test_a_real_usage_error_through_main(tmp_path, capsys):
    assert main(["train", "--data", "synthetic", "--out", str(tmp_path / "r")]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "fer train: error: give --model NAME or --recipe NAME (`python -m fer models` lists the models)"]


@pytest.mark.parametrize("module", sorted(ALIASES))
def test_old_module_names_run_the_new_command(module, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [module, "--help"])
    with pytest.raises(SystemExit) as stop:
        runpy.run_module(module, run_name="__main__", alter_sys=False)
    assert stop.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: python -m fer {ALIASES[module]} ")


def test_dunder_main_only_hands_over_to_fer_cli():
    path = Path(fer.__file__).with_name("__main__.py")
    tree = ast.parse(path.read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert imported <= {"sys", "fer.cli"}, imported
    assert not [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    assert len(path.read_text().splitlines()) <= 10


def test_python_dash_m_fer_lists_every_command():
    done = subprocess.run([sys.executable, "-m", "fer", "--help"], capture_output=True, text=True, timeout=300,
                          cwd=Path(fer.__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr
    listed = done.stdout.split("positional arguments:")[1]
    assert all(c.split()[0] in listed for c in COMMANDS)
