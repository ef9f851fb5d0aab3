"""Benchmark of FaceMesh extraction speed (faces per second) for several interpreter / thread / batch settings.

``python -m fer bench landmarks --data ../shared/data/fer2013/fer2013.csv.gz --faces 1000`` times
:class:`fer.landmarks.FaceMesh` (crop preparation included, no cache) on the first training faces for each
setting and writes ``results/bench_landmarks.json`` (command, date, CPU count, load average, faces/s and
share of faces with presence > 0.5 per setting). ``--full`` also times the best setting on every face of
the dataset (all splits, no cache), as ``landmark_dataset`` extracts them on first use.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime, timezone

import numpy as np

SETTINGS = ({"workers": 1, "num_threads": 1, "batch_size": 1}, {"workers": 1, "num_threads": 2, "batch_size": 8},
            {"workers": 2, "num_threads": 1, "batch_size": 8}, {"workers": 2, "num_threads": 1, "batch_size": 16})


def bench(faces: np.ndarray, settings=SETTINGS, repeats: int = 2) -> list[dict]:
    """Best-of-``repeats`` faces/s of :class:`~fer.landmarks.facemesh.FaceMesh` on ``faces`` per setting."""
    from fer.landmarks.facemesh import PRESENCE_THRESHOLD, FaceMesh

    rows = []
    for s in settings:
        mesh = FaceMesh(**s)
        try:
            mesh(faces[:32])  # warm-up: interpreter creation, allocation
            best = float("inf")
            for _ in range(repeats):
                t = time.perf_counter()
                _, presence = mesh(faces)
                best = min(best, time.perf_counter() - t)
        finally:
            mesh.close()
        rows.append({**s, "faces": len(faces), "seconds": round(best, 3),
                     "faces_per_second": round(len(faces) / best, 1), "ms_per_face": round(1000 * best / len(faces), 2),
                     "presence_ok": float((presence >= PRESENCE_THRESHOLD).mean())})
        print(rows[-1], file=sys.stderr)
    return rows


def run(data: str, faces_n: int = 1000, *, full: bool = False, command: str | None = None) -> dict:
    """Time FaceMesh on the first ``faces_n`` training faces of ``data`` under each setting of :func:`bench`;
    with ``full``, also on every face of ``data`` with the best setting (``full_extraction``). Return the record.

    Example:
        >>> record = run("synthetic:20", 50)  # doctest: +SKIP
        >>> record["best"]["faces_per_second"]  # doctest: +SKIP
    """
    from fer.data.sources import load_dataset
    from fer.environment import load_average
    from fer.landmarks.facemesh import FaceMesh
    from fer.provenance import command_line

    ds = load_dataset(data)
    pool = ds.subset("train") if "train" in ds.splits() else ds
    if pool is ds:
        print(f"[bench landmarks] {data} has no 'train' split ({ds.splits()}): timing its first faces instead",
              file=sys.stderr)
    faces = pool.images[:faces_n]
    load_before = load_average()
    rows = bench(faces)
    best = max(rows, key=lambda r: r["faces_per_second"])
    record = {"command": command or command_line(), "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "dataset": str(data), "faces": int(len(faces)), "cpu_count": os.cpu_count(),
              "load_average_before": load_before, "note": "crop preparation (margin 0.25, resize) included",
              "settings": rows, "best": best, "target_faces_per_second": 200,
              "reaches_target": best["faces_per_second"] >= 200}
    if full:
        settings = {k: best[k] for k in ("workers", "num_threads", "batch_size")}
        mesh = FaceMesh(**settings)
        try:
            start = time.perf_counter()
            mesh(ds.images)
            seconds = time.perf_counter() - start
        finally:
            mesh.close()
        record["full_extraction"] = {"faces": int(len(ds.images)), "seconds": round(seconds, 3),
                                     "faces_per_second": round(len(ds.images) / seconds, 1), "settings": settings}
    record["load_average_after"] = load_average()
    record["cpu_busy_before"] = busy(load_before, os.cpu_count())
    return record


def busy(before: list[float] | None, cpus: int | None) -> bool | None:
    """Whether something else was using the CPU when the benchmark started: a 1-minute load average above half
    the CPU count; ``None`` where the load is unknown."""
    if not before or not cpus:
        return None
    return before[0] > cpus / 2
