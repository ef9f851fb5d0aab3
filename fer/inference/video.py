"""Videos: classify the faces frame by frame, each face tracked and smoothed (:func:`predict_video`), and plot them.

Each face keeps an identity across frames (:class:`~fer.inference.tracking.IoUTracker`) and its class
probabilities are an exponential moving average over the frames of its track (``smooth``: the weight
of the newest frame; 1 = no smoothing).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from fer.data.atomic import atomic_path, write_csv
from fer.inference.classifier import Classifier
from fer.inference.detection import Detector
from fer.inference.drawing import TAB10, draw_predictions
from fer.inference.pipeline import FaceResult, detect_and_predict, resolve_detector
from fer.inference.tracking import IoUTracker

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def predict_video(path: str | os.PathLike, classifier: Classifier, out_dir: str | os.PathLike, *, every: int = 1,
                  detector: Detector | str | None = None, margin: float = 0.1, tta: bool | str = False,
                  max_frames: int | None = None, smooth: float = 0.5, align: bool = True) -> dict:
    """Classify the faces of a video; write an annotated video, a per-frame CSV and a timeline plot.

    Every ``every``-th frame is detected and classified; the frames in between are annotated with
    the latest result. Each face is tracked (IoU) and its probabilities smoothed along its track
    (``smooth`` in (0, 1]: weight of the newest frame, 1 = none). Outputs in ``out_dir``:
    ``<stem>.annotated.mp4`` (``mp4v``), ``<stem>.frames.csv`` (one row per face per processed frame
    with its ``track`` id and smoothed probabilities; ``face = -1`` and no track for frames without a
    face) and ``<stem>.timeline.png`` (one line per tracked face: its smoothed label over time).

    Returns:
        A summary dict (paths, frame counts, fps, mean probabilities and the dominant class).

    Raises:
        ValueError: when the file cannot be opened as a video or holds no frame.

    Example:
        >>> from fer.inference import load_classifier, predict_video
        >>> summary = predict_video("clip.mp4", load_classifier(), "predictions/", every=3)  # doctest: +SKIP
        >>> summary["dominant"]  # doctest: +SKIP
        'happy'
    """
    path, out_dir = Path(path), Path(out_dir)
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    if not 0.0 < smooth <= 1.0:
        raise ValueError(f"smooth must be in (0, 1] (1 = no smoothing), got {smooth}")
    classes = classifier.classes
    detector = resolve_detector(detector, photo=False)  # frames of a video: the one-pass YuNet
    tracker = IoUTracker()
    rows, times, timeline, track_rows = [], [], [], []
    index = processed = with_face = 0
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise ValueError(f"could not open video {str(path)!r}: not a video, or a codec OpenCV cannot read")
        ok, frame = cap.read()
        if not ok:
            raise ValueError(f"video {str(path)!r} holds no readable frame")
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if not np.isfinite(fps) or fps <= 0 or fps > 1000:
            fps = 25.0
        video_out = out_dir / f"{path.stem}.annotated.mp4"
        with atomic_path(video_out) as tmp_video:
            height, width = frame.shape[:2]
            writer = cv2.VideoWriter(str(tmp_video), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
            if not writer.isOpened():
                raise OSError(f"could not open a video writer for {str(video_out)!r}")
            latest: list[FaceResult] = []
            ids: list[int] = []
            try:
                while ok:
                    if index % every == 0:
                        raw = detect_and_predict(frame, classifier, detector=detector, margin=margin, tta=tta,
                                                 align=align)
                        latest, ids = track_and_smooth(tracker, raw, classes, smooth)
                        t = index / fps
                        processed += 1
                        times.append(t)
                        if latest:
                            with_face += 1
                            timeline.append(latest[0].probs)
                            rows.extend([index, f"{t:.4f}", track, *r.csv_row(i)]
                                        for i, (track, r) in enumerate(zip(ids, latest)))
                            track_rows.extend((track, t, int(np.argmax(r.probs)), r.confidence)
                                              for track, r in zip(ids, latest))
                        else:
                            timeline.append(np.full(len(classes), np.nan, np.float32))
                            rows.append([index, f"{t:.4f}", "", -1, "", "", "", "", "", "", *[""] * len(classes)])
                    writer.write(draw_predictions(frame, latest, classes, tracks=ids))
                    index += 1
                    if max_frames is not None and index >= max_frames:
                        break
                    ok, frame = cap.read()
            finally:
                writer.release()
    finally:
        cap.release()
    csv_out = write_csv(rows, out_dir / f"{path.stem}.frames.csv",
                        ["frame", "time_s", "track", *FaceResult.csv_header(classes)])
    probs = np.asarray(timeline, dtype=np.float32).reshape(len(times), len(classes))
    plot_out = out_dir / f"{path.stem}.timeline.png"
    with atomic_path(plot_out) as tmp_plot:
        plot_tracks(track_rows, classes, times, title=path.name).savefig(tmp_plot, dpi=120)
    mean = np.nanmean(probs, axis=0) if with_face else np.full(len(classes), np.nan)
    return {
        "video": str(path), "annotated": str(video_out), "csv": str(csv_out), "timeline": str(plot_out),
        "fps": fps, "frames": index, "processed_frames": processed, "frames_with_face": with_face,
        "every": every, "smooth": smooth, "tracks": len({r[0] for r in track_rows}),
        "mean_probabilities": {c: (None if np.isnan(p) else round(float(p), 6)) for c, p in zip(classes, mean)},
        "dominant": classes[int(np.nanargmax(mean))] if with_face else None,
    }


def track_and_smooth(tracker: IoUTracker, results: Sequence[FaceResult], classes: Sequence[str],
                     smooth: float) -> tuple[list[FaceResult], list[int]]:
    """Give each face of a frame its track id and its track's smoothed probabilities (label follows them)."""
    tracks = tracker.update([r.box for r in results])
    out = []
    for track, r in zip(tracks, results):
        probs = track.smooth("probs", r.probs, alpha=smooth).astype(np.float32)
        out.append(FaceResult(r.box, probs, classes[int(np.argmax(probs))]))
    return out, [t.id for t in tracks]


def plot_tracks(rows: Sequence[tuple[int, float, int, float]], classes: Sequence[str],
                times: Sequence[float] = (), *, title: str | None = None) -> Figure:
    """One line per tracked face: its (smoothed) label over time.

    Args:
        rows: ``(track id, time in s, class index, confidence)`` per face per processed frame.
        classes: the class names (the y axis).
        times: every processed frame's time (sets the x range, also where no face was found).
        title: optional title.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.6), layout="constrained")
    ax = fig.add_subplot()
    ids = sorted({r[0] for r in rows})
    for n, track in enumerate(ids):
        mine = [r for r in rows if r[0] == track]
        t = [r[1] for r in mine]
        k = [r[2] + (n - (len(ids) - 1) / 2) * 0.06 for r in mine]  # a small offset keeps overlapping tracks apart
        ax.plot(t, k, drawstyle="steps-post", marker="o", ms=2.5, lw=1.6, label=f"face {track}",
                color=np.array(TAB10[n % len(TAB10)]) / 255)
    ax.set_yticks(range(len(classes)), list(classes))
    ax.set_ylim(-0.5, len(classes) - 0.5)
    span = [*times, *[r[1] for r in rows]]
    if span:
        ax.set_xlim(float(min(span)), max(float(max(span)), float(min(span)) + 1e-3))
    ax.set_xlabel("time (s)")
    ax.set_ylabel("label (smoothed)")
    ax.grid(alpha=0.3)
    if ids:
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    else:
        ax.text(0.5, 0.5, "no face found", transform=ax.transAxes, ha="center", va="center")
    if title:
        ax.set_title(title)
    return fig


def plot_timeline(times: Sequence[float], probs: np.ndarray, classes: Sequence[str], *,
                  title: str | None = None) -> Figure:
    """Emotion probabilities over time (one line per class; gaps where no face was found).

    Args:
        times: seconds of each processed frame.
        probs: ``T x len(classes)`` probabilities (rows of NaN for frames without a face).
        classes: the class names.
        title: optional title.

    Returns:
        A ``matplotlib.figure.Figure`` (not attached to pyplot; save it with ``fig.savefig``).
    """
    from matplotlib.figure import Figure  # matplotlib only when a timeline is drawn

    probs = np.asarray(probs, dtype=np.float32).reshape(len(times), len(classes))
    fig = Figure(figsize=(9, 3.6), layout="constrained")
    ax = fig.add_subplot()
    for k, name in enumerate(classes):
        ax.plot(times, probs[:, k], color=np.array(TAB10[k % len(TAB10)]) / 255, lw=1.6, label=name)
    ax.set_ylim(0, 1)
    if len(times):
        ax.set_xlim(float(np.min(times)), max(float(np.max(times)), float(np.min(times)) + 1e-3))
    ax.set_xlabel("time (s)")
    ax.set_ylabel("probability")
    ax.grid(alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    if title:
        ax.set_title(title)
    return fig
