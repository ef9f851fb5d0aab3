"""fer.serve.bench: the load generator counts every answer, checks each holds one face, and stays bounded."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("httpx")

from fer.benchmarks.serve import demo_frame, run_load  # noqa: E402
from fer.cli import main  # noqa: E402
from fer.inference import load_classifier, make_detector  # noqa: E402
from fer.serve.app import create_app  # noqa: E402
from tests.serve_server import running  # noqa: E402


@pytest.fixture(scope="module")
def url():
    with running(create_app([load_classifier()])) as base:
        yield base + "/v1/predict"


def jpeg(image: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", image)[1].tobytes()


def test_demo_frame_is_640x480_with_one_face():
    frame = demo_frame()
    assert frame.shape == (480, 640, 3) and len(make_detector()(frame)) == 1  # the server's default detector


def test_run_load_stops_at_the_request_count_and_counts_every_answer(url):
    r = run_load(url, jpeg(demo_frame()), clients=3, max_requests=7, seconds=120)
    assert r["requests"] == r["ok"] == 7 and r["statuses"] == {"200": 7}
    assert r["answers_without_one_face"] == 0
    assert 0 < r["p50_ms"] <= r["p95_ms"] <= r["p99_ms"] <= r["max_ms"]
    assert r["requests_per_s"] > 0 and r["server_inference_p50_ms"] > 0


def test_run_load_reports_answers_without_one_face_and_errors(url):
    blank = run_load(url, jpeg(np.full((480, 640, 3), 110, np.uint8)), clients=1, max_requests=2, seconds=120)
    assert blank["ok"] == 2 and blank["answers_without_one_face"] == 2
    refused = run_load(url, b"not an image", clients=2, max_requests=4, seconds=120)
    assert refused["statuses"] == {"415": 4} and refused["ok"] == 0 and refused["p50_ms"] is None


def test_run_load_stops_at_the_time_budget(url):
    r = run_load(url, jpeg(demo_frame()), clients=1, max_requests=10_000, seconds=0.5)
    assert 1 <= r["requests"] < 10_000 and r["ok"] == r["requests"]


def test_bad_arguments_are_refused(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "serve", "--clients", "0"])
    assert "--clients" in capsys.readouterr().err
