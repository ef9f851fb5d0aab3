"""Videos: classify the faces frame by frame (:func:`predict_video`) and plot the emotions over time."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from fer.data.atomic import atomic_path, write_csv
from fer.inference.classifier import Classifier
from fer.inference.detection import FaceDetector
from fer.inference.drawing import TAB10, draw_predictions
from fer.inference.pipeline import FaceResult, detect_and_predict

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def predict_video(path: str | os.PathLike, classifier: Classifier, out_dir: str | os.PathLike, *, every: int = 1,
                  detector: FaceDetector | None = None, margin: float = 0.1, tta: bool | str = False,
                  max_frames: int | None = None) -> dict:
    """Classify the faces of a video; write an annotated video, a per-frame CSV and a timeline plot.

    Every ``every``-th frame is detected and classified; the frames in between are annotated with
    the latest result. Outputs in ``out_dir``: ``<stem>.annotated.mp4`` (``mp4v``), ``<stem>.frames.csv``
    (one row per face of each processed frame, ``face = -1`` for frames without a face) and
    ``<stem>.timeline.png`` (probabilities of the largest face over time).

    Returns:
        A summary dict (paths, frame counts, fps, mean probabilities and the dominant class).

    Raises:
        ValueError: when the file cannot be opened as a video or holds no frame.
    """
    path, out_dir = Path(path), Path(out_dir)
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    classes = classifier.classes
    rows, times, timeline = [], [], []
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
            try:
                while ok:
                    if index % every == 0:
                        latest = detect_and_predict(frame, classifier, detector=detector, margin=margin, tta=tta)
                        t = index / fps
                        processed += 1
                        times.append(t)
                        if latest:
                            with_face += 1
                            timeline.append(latest[0].probs)
                            rows.extend([index, f"{t:.4f}", *r.csv_row(i)] for i, r in enumerate(latest))
                        else:
                            timeline.append(np.full(len(classes), np.nan, np.float32))
                            rows.append([index, f"{t:.4f}", -1, "", "", "", "", "", "", *[""] * len(classes)])
                    writer.write(draw_predictions(frame, latest, classes))
                    index += 1
                    if max_frames is not None and index >= max_frames:
                        break
                    ok, frame = cap.read()
            finally:
                writer.release()
    finally:
        cap.release()
    csv_out = write_csv(rows, out_dir / f"{path.stem}.frames.csv", ["frame", "time_s", *FaceResult.csv_header(classes)])
    probs = np.asarray(timeline, dtype=np.float32).reshape(len(times), len(classes))
    plot_out = out_dir / f"{path.stem}.timeline.png"
    with atomic_path(plot_out) as tmp_plot:
        plot_timeline(times, probs, classes, title=path.name).savefig(tmp_plot, dpi=120)
    mean = np.nanmean(probs, axis=0) if with_face else np.full(len(classes), np.nan)
    return {
        "video": str(path), "annotated": str(video_out), "csv": str(csv_out), "timeline": str(plot_out),
        "fps": fps, "frames": index, "processed_frames": processed, "frames_with_face": with_face,
        "every": every,
        "mean_probabilities": {c: (None if np.isnan(p) else round(float(p), 6)) for c, p in zip(classes, mean)},
        "dominant": classes[int(np.nanargmax(mean))] if with_face else None,
    }


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
