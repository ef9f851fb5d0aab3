"""Load benchmark of the web app: ``python -m fer bench serve`` → ``results/bench_serve.json``.

Starts ``python -m fer serve`` on a free 127.0.0.1 port in a subprocess, then, for 1, 4 and 16 concurrent
clients (threads, each with its own keep-alive connection), posts one 640x480 JPEG with one face (the demo
photo, 400 px high, centred on a gray canvas) to ``POST /v1/predict`` until a request count or a time budget
is reached, and records requests/s and p50 / p95 / p99 latency (plus the server's own medians: total time
inside the endpoint, decoding, and detection + classification). Every answer must be a 200 with exactly one
face, and ``/healthz`` must still answer at the end; the JSON says whether that held. The load average
before and after is recorded next to the numbers, since a busy machine slows every figure.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np

import fer
from fer import environment
from fer.inference import DEMO_IMAGE
from fer.provenance import command_line

RESULTS = Path(fer.__file__).resolve().parents[1] / "results" / "bench_serve.json"
#: The issue's targets: p50 latency of one client alone, throughput with 4 clients.
TARGETS = {"p50_ms_at_1_max": 30.0, "requests_per_s_at_4_min": 40.0}


def demo_frame(width: int = 640, height: int = 480) -> np.ndarray:
    """A BGR ``height x width`` frame with one face: the demo photo, 400 px high, centred on a gray canvas."""
    photo = cv2.imread(str(DEMO_IMAGE))
    if photo is None:
        raise FileNotFoundError(f"demo photo {DEMO_IMAGE} is missing")
    h = min(400, height)
    w = min(width, round(photo.shape[1] * h / photo.shape[0]))
    photo = cv2.resize(photo, (w, h), interpolation=cv2.INTER_AREA)
    frame = np.full((height, width, 3), 110, np.uint8)
    y, x = (height - h) // 2, (width - w) // 2
    frame[y:y + h, x:x + w] = photo
    return frame


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(port: int, models: list[str], concurrency: int, extra: list[str] = (),
                 timeout: float = 300.0) -> subprocess.Popen:
    """``python -m fer serve`` on 127.0.0.1:``port``; returns once ``/healthz`` answers (or raises)."""
    import httpx

    cmd = [sys.executable, "-m", "fer", "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level",
           "warning", "--max-concurrency", str(concurrency)]
    for m in models:
        cmd += ["--model", m]
    cmd += list(extra)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode}: {proc.stderr.read().strip()[-500:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2.0).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    stop_server(proc)
    raise TimeoutError(f"the server did not answer /healthz within {timeout:.0f} s")


def stop_server(proc: subprocess.Popen) -> None:
    """Stop the server subprocess (SIGTERM, then SIGKILL after 20 s)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_load(url: str, payload: bytes, clients: int, max_requests: int, seconds: float) -> dict:
    """``clients`` threads post ``payload`` until ``max_requests`` are sent or ``seconds`` pass."""
    import httpx

    lock = threading.Lock()
    sent = [0]
    latencies: list[float] = []
    server_ms: dict[str, list[float]] = {"total": [], "decode": [], "inference": []}
    statuses: dict[str, int] = {}
    bad: list[str] = []
    deadline = time.perf_counter() + seconds

    def client() -> None:
        with httpx.Client(timeout=60.0) as http:
            while True:
                with lock:
                    if sent[0] >= max_requests or time.perf_counter() >= deadline:
                        return
                    sent[0] += 1
                start = time.perf_counter()
                try:
                    r = http.post(url, content=payload, headers={"content-type": "image/jpeg"})
                    status = str(r.status_code)
                except httpx.HTTPError as err:
                    r, status = None, type(err).__name__
                elapsed = time.perf_counter() - start
                with lock:
                    statuses[status] = statuses.get(status, 0) + 1
                    if r is not None and r.status_code == 200:
                        body = r.json()
                        latencies.append(elapsed)
                        for k, v in server_ms.items():
                            v.append(body["timing_ms"][k])
                        if len(body["faces"]) != 1:
                            bad.append(f"{len(body['faces'])} faces")

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    ms = np.asarray(latencies) * 1000.0
    pct = (lambda q: round(float(np.percentile(ms, q)), 2)) if len(ms) else (lambda q: None)
    return {"clients": clients, "requests": sent[0], "ok": len(latencies), "statuses": statuses,
            "answers_without_one_face": len(bad), "seconds": round(wall, 2),
            "requests_per_s": round(len(latencies) / wall, 2) if wall > 0 else None,
            "p50_ms": pct(50), "p95_ms": pct(95), "p99_ms": pct(99),
            "max_ms": round(float(ms.max()), 2) if len(ms) else None,
            **{f"server_{k}_p50_ms": round(float(np.median(v)), 2) if v else None for k, v in server_ms.items()}}


def machine() -> dict:
    """The machine the numbers come from."""
    return {**environment.machine(), **environment.versions("python", "tensorflow", "fastapi", "uvicorn", "opencv"),
            "niceness": os.nice(0)}


def run(models: list[str] | None = None, levels: list[int] = (1, 4, 16), *, requests: int = 300,
        seconds: float = 20.0, warmup: int = 10, detector_name: str = "yunet", detect_size: int = 400,
        scale_factor: float = 1.1, command: str | None = None) -> dict:
    """Start ``python -m fer serve`` on a free port, load it with ``levels`` concurrent clients (each level
    after ``warmup`` uncounted requests, until ``requests`` or ``seconds``), stop it; return the report
    (``every_request_answered`` and ``server_up_after`` say whether it held).

    Example:
        >>> report = run(levels=[1, 4], requests=50, seconds=5)  # doctest: +SKIP
        >>> report["results"][0]["p50_ms"]  # doctest: +SKIP
    """
    models = list(models or [])
    import httpx

    _, jpeg = cv2.imencode(".jpg", demo_frame(), [cv2.IMWRITE_JPEG_QUALITY, 90])
    payload = jpeg.tobytes()
    load_before = environment.load_average()
    port = free_port()
    detector = {"name": detector_name, "max_side": detect_size, "scale_factor": scale_factor}
    proc = start_server(port, models, max(16, max(levels)),
                        ["--detector", detector_name, "--detect-size", str(detect_size), "--scale-factor",
                         str(scale_factor)])
    url = f"http://127.0.0.1:{port}/v1/predict"
    try:
        runs = []
        for c in levels:
            run_load(url, payload, c, warmup, 60.0)
            runs.append(run_load(url, payload, c, requests, seconds))
            r = runs[-1]
            print(f"{c:3d} clients: {r['requests_per_s']} req/s  p50 {r['p50_ms']} ms  p95 {r['p95_ms']} ms  "
                  f"({r['ok']}/{r['requests']} ok)", file=sys.stderr)
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10.0)
        models = httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=10.0).json()["models"]
    finally:
        stop_server(proc)
    load_after = environment.load_average()
    every_answered = all(r["ok"] == r["requests"] and r["answers_without_one_face"] == 0 for r in runs)
    at1 = next((r for r in runs if r["clients"] == 1), None)
    at4 = next((r for r in runs if r["clients"] == 4), None)
    result = {
        "command": command or command_line(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "endpoint": "POST /v1/predict (raw image/jpeg body), 127.0.0.1",
        "frame": f"fer/assets/grace_hopper.jpg 400 px high on a 640x480 canvas (one face), JPEG q90, "
                 f"{len(payload)} bytes",
        "model": {k: models[0][k] for k in ("name", "version", "format")},
        "detector": detector,
        "limits": {"requests_per_level": requests, "seconds_per_level": seconds, "warmup": warmup},
        "machine": {**machine(), "load_average_before": load_before, "load_average_after": load_after},
        "results": runs,
        "server_up_after": health.status_code == 200,
        "every_request_answered": every_answered,
        "targets": {**TARGETS,
                    "p50_at_1_met": bool(at1 and at1["p50_ms"] is not None
                                         and at1["p50_ms"] <= TARGETS["p50_ms_at_1_max"]),
                    "requests_per_s_at_4_met": bool(at4 and at4["requests_per_s"]
                                                    and at4["requests_per_s"] >= TARGETS["requests_per_s_at_4_min"])},
    }
    return result


