"""Live classification from a camera or stream: a window (OpenCV's, else matplotlib's), tracked and smoothed
faces, FPS, optional recording (what ``python -m fer webcam`` does; the command is :mod:`fer.cli.predict`)."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from fer.data.atomic import atomic_path
from fer.errors import CommandError
from fer.inference.classifier import Classifier, load_classifier
from fer.inference.detection import Detector
from fer.inference.drawing import draw_predictions, draw_status
from fer.inference.pipeline import FaceResult, detect_and_predict
from fer.inference.tracking import IoUTracker
from fer.inference.video import track_and_smooth


class Window:
    """Shows frames with OpenCV's GUI when available, else a matplotlib window."""

    def __init__(self, title: str):
        self.title, self._plt, self._img = title, None, None
        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL)
            self.kind = "opencv"
            return
        except cv2.error:
            pass
        import matplotlib

        backend = matplotlib.get_backend().lower()
        if backend in ("agg", "pdf", "ps", "svg", "pgf", "cairo", "template") or "inline" in backend:
            raise CommandError("cannot open a window: this OpenCV build is headless and matplotlib has no GUI "
                               f"backend ({backend}); pass --out FILE.mp4 --no-display to record instead")
        import matplotlib.pyplot as plt

        plt.ion()
        self._plt, self.kind = plt, "matplotlib"
        self._fig, self._ax = plt.subplots(num=title)
        self._ax.axis("off")

    def show(self, frame_bgr: np.ndarray) -> bool:
        """Show a frame; ``False`` when the user asked to stop."""
        if self.kind == "opencv":
            cv2.imshow(self.title, frame_bgr)
            key = cv2.waitKey(1) & 0xFF
            return key not in (ord("q"), 27) and cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) >= 1
        rgb = frame_bgr[..., ::-1]
        if self._img is None:
            self._img = self._ax.imshow(rgb)
        else:
            self._img.set_data(rgb)
        self._plt.pause(0.001)
        return self._plt.fignum_exists(self._fig.number)

    def close(self) -> None:
        if self.kind == "opencv":
            cv2.destroyWindow(self.title)
        elif self._plt is not None:
            self._plt.close(self._fig)


def run_camera(source: int | str, model: str | list[str] | None, detector: Detector, *, every: int = 1,
               out: str | os.PathLike | None = None, display: bool = True, max_frames: int | None = None,
               margin: float = 0.1, smooth: float = 0.5) -> int:
    """Classify a camera (index) or video stream live: boxes, labels, probability bars and FPS in a window,
    optionally recorded to ``out`` (mp4, written complete or not at all); return the exit code. ``model`` is
    what :func:`~fer.inference.classifier.load_classifier` takes, loaded once the camera gives a frame.

    Raises:
        CommandError: the camera cannot be opened or gives no frame, or no window can be opened.
        KeyboardInterrupt: Ctrl-C, after the recording so far is saved.

    Example:
        >>> run_camera(0, None, make_detector("yunet", max_side=320))  # doctest: +SKIP
    """
    if every < 1:
        raise ValueError(f"--every must be >= 1, got {every}")
    cap = cv2.VideoCapture(source)
    try:
        if not cap.isOpened():
            raise CommandError(f"no camera {str(source)!r}: OpenCV could not open it. Is a camera connected and "
                               "free? Try another index (--camera 1) or pass a video file")
        ok, frame = cap.read()
        if not ok:
            raise CommandError(f"camera {str(source)!r} opened but returned no frame")
        classifier = load_classifier(model, freeze=True)  # the live loop: a frozen graph, ~13% less CPU a face
        window = Window("fer webcam (q to quit)") if display else None
        if window is None and not out:
            print("fer webcam: no window and no --out: frames are classified and only the FPS is reported",
                  file=sys.stderr)
        return _record_and_show(cap, frame, classifier, detector, window, Path(out) if out else None, every=every,
                                margin=margin, smooth=smooth, max_frames=max_frames)
    finally:
        cap.release()


def _record_and_show(cap, frame, classifier: Classifier, detector: Detector, window, out: Path | None, *, every: int,
                     margin: float, smooth: float, max_frames: int | None) -> int:
    with contextlib.ExitStack() as stack:
        writer = None
        if out is not None:
            tmp = stack.enter_context(atomic_path(out))  # the recording appears complete, or not at all
            fps_in = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
            fps_in = fps_in if np.isfinite(fps_in) and 0 < fps_in <= 120 else 25.0
            writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps_in, frame.shape[1::-1])
            if not writer.isOpened():
                raise OSError(f"could not open a video writer for {str(out)!r}")
            stack.callback(writer.release)
        if window is not None:
            stack.callback(window.close)
        frames, start, interrupted = _stream(cap, frame, classifier, detector, window, writer, every=every,
                                             margin=margin, smooth=smooth, max_frames=max_frames)
    elapsed = time.perf_counter() - start
    print(f"{frames} frames in {elapsed:.1f} s ({frames / max(elapsed, 1e-9):.1f} FPS)"
          + (f"; wrote {out}" if out else ""))
    if interrupted:  # Ctrl-C stops the stream; the recording so far is kept
        raise KeyboardInterrupt
    return 0


def _stream(cap, frame, classifier: Classifier, detector: Detector, window, writer, *, every: int, margin: float,
            smooth: float, max_frames: int | None) -> tuple[int, float, bool]:
    """Classify, draw, show and record frames until the stream ends; ``(frames, start time, interrupted)``.

    Faces are tracked across frames and their probabilities smoothed along each track (``smooth``).
    """
    latest: list[FaceResult] = []
    ids: list[int] = []
    tracker = IoUTracker()
    fps, frames, start, last = 0.0, 0, time.perf_counter(), time.perf_counter()
    ok = True
    try:
        while ok:
            if frames % every == 0:
                raw = detect_and_predict(frame, classifier, detector=detector, margin=margin)
                latest, ids = track_and_smooth(tracker, raw, classifier.classes, smooth)
            shown = draw_predictions(frame, latest, classifier.classes, tracks=ids)
            now = time.perf_counter()
            fps = 1.0 / max(now - last, 1e-6) if frames == 0 else 0.9 * fps + 0.1 / max(now - last, 1e-6)
            last = now
            draw_status(shown, f"{fps:.1f} FPS")
            if writer is not None:
                writer.write(shown)
            frames += 1
            if window is not None and not window.show(shown):
                break
            if max_frames is not None and frames >= max_frames:
                break
            ok, frame = cap.read()
    except KeyboardInterrupt:
        return frames, start, True
    return frames, start, False
