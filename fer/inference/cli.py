"""The ``predict`` and ``webcam`` commands of ``python -m fer`` and :func:`cli_errors`, every command's error handler.

::

    python -m fer predict                        # the demo photo shipped in fer/assets/
    python -m fer predict photo.jpg faces/ clip.mp4 --out predictions/ [--tta] [--model FILE] [--detector haar]
    python -m fer webcam [--camera 0] [--detector yunet|haar] [--smooth 0.5]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np

from fer.data.atomic import atomic_path, write_csv, write_text
from fer.inference.classifier import Classifier, load_classifier
from fer.inference.detection import DETECTORS, LIVE_SETTINGS, Detector, make_detector
from fer.inference.drawing import draw_predictions, draw_status
from fer.inference.pipeline import FaceResult, detect_and_predict, predict_images
from fer.inference.tracking import IoUTracker
from fer.inference.video import predict_video, track_and_smooth

#: A public-domain face photo shipped with the package (see ``fer/assets/ATTRIBUTION.md``).
DEMO_IMAGE = Path(__file__).resolve().parents[1] / "assets" / "grace_hopper.jpg"
#: File extensions treated as images / videos by the CLI.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")


# --------------------------------------------------------------------------- errors and shared options


class _Status:
    """The exit code of a command run under :func:`cli_errors` (1 until the body sets it)."""

    code = 1


@contextlib.contextmanager
def cli_errors(command: str) -> Iterator[_Status]:
    """Run a CLI command body: errors become one ``fer COMMAND: error: ...`` line on stderr, exit code 1.

    Set the environment variable ``FER_DEBUG=1`` to get the traceback instead.
    """
    status = _Status()
    try:
        yield status
    except KeyboardInterrupt:
        print(f"fer {command}: interrupted", file=sys.stderr)
        status.code = 130
    except Exception as err:  # the CLI promise: a message, never a traceback
        if os.environ.get("FER_DEBUG"):
            raise
        expected = isinstance(err, (FileNotFoundError, ValueError, OSError, ImportError, CLIError))
        text = str(err) if expected else f"{type(err).__name__}: {err} (set FER_DEBUG=1 for the traceback)"
        print(f"fer {command}: error: {text}", file=sys.stderr)
        status.code = 1


class CLIError(Exception):
    """A user-facing failure with a complete message (no face found, no camera...)."""


def _add_detection_args(p: argparse.ArgumentParser, live: bool = False) -> None:
    p.add_argument("--model", "-m", default=None, metavar="FILE", action="append",
                   help="a .keras, .tflite or .onnx model (default: the shipped models/fer2013_default.keras); "
                        "repeat it with .keras files for an ensemble that averages their probabilities")
    p.add_argument("--detector", choices=DETECTORS, default="yunet",
                   help="face detector: yunet (default; eyes level, crop framed like FER2013) or haar (OpenCV's "
                        "cascade, box + --margin; needs an OpenCV that ships cv2.data.haarcascades)")
    p.add_argument("--margin", type=float, default=0.1,
                   help="haar: crop margin around each face, as a fraction of its size (default: 0.1)")
    sizes = {k: v["max_side"] for k, v in LIVE_SETTINGS.items()} if live else {"yunet": 640, "haar": 400}
    p.add_argument("--detect-size", type=int, default=None, metavar="PX",
                   help=f"longer side of the frame the face detector sees (default: yunet {sizes['yunet']}, haar "
                        f"{sizes['haar']}; larger finds smaller faces, slower)")
    p.add_argument("--min-face", type=int, default=None, metavar="PX",
                   help="smallest face to find (default: yunet 20 px, haar 40 px)")
    scale = LIVE_SETTINGS["haar"]["scale_factor"] if live else 1.1
    p.add_argument("--scale-factor", type=float, default=scale, metavar="F",
                   help=f"haar: detector scale step (default: {scale}; larger is faster, may miss faces)")
    p.add_argument("--smooth", type=float, default=0.5, metavar="A",
                   help="videos/webcam: weight of the newest frame in each tracked face's moving average of "
                        "probabilities (default: 0.5; 1 = no smoothing)")


def _detector_from(args: argparse.Namespace, live: bool = False) -> Detector:
    if args.margin < 0:
        raise ValueError(f"--margin must be >= 0, got {args.margin}")
    if args.detect_size is not None and args.detect_size < 48:
        raise ValueError(f"--detect-size must be at least 48 pixels, got {args.detect_size}")
    if args.scale_factor <= 1.0:
        raise ValueError(f"--scale-factor must be > 1, got {args.scale_factor}")
    if not 0.0 < args.smooth <= 1.0:
        raise ValueError(f"--smooth must be in (0, 1] (1 = no smoothing), got {args.smooth}")
    sizes = {"yunet": 640, "haar": 400}
    size = args.detect_size or (LIVE_SETTINGS[args.detector]["max_side"] if live else sizes[args.detector])
    return make_detector(args.detector, max_side=size, min_face=args.min_face, scale_factor=args.scale_factor)


def _expand_inputs(inputs: Sequence[str]) -> list[tuple[Path, str, bool]]:
    """``(path, "image"|"video", explicit)`` for each input; folders are expanded (sorted, recursive)."""
    out = []
    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in
                           IMAGE_EXTENSIONS + VIDEO_EXTENSIONS and not p.name.startswith("."))
            if not found:
                raise FileNotFoundError(f"folder {raw!r} holds no image ({', '.join(IMAGE_EXTENSIONS)}) or video "
                                        f"({', '.join(VIDEO_EXTENSIONS)})")
            out.extend((p, "video" if p.suffix.lower() in VIDEO_EXTENSIONS else "image", False) for p in found)
        elif path.is_file():
            out.append((path, "video" if path.suffix.lower() in VIDEO_EXTENSIONS else "image", True))
        else:
            raise FileNotFoundError(f"input {raw!r} not found; pass an image, a folder of images or a video")
    return out


def _read_image(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{str(path)!r} is not an image OpenCV can read (supported: {', '.join(IMAGE_EXTENSIONS)})")
    return image


def _write_image(path: Path, image: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), image):
            raise OSError(f"could not write image {str(path)!r}")


def _unique_name(name: str, used: set[str]) -> str:
    stem, suffix = os.path.splitext(name)
    candidate, i = name, 1
    while candidate in used:
        candidate, i = f"{stem}_{i}{suffix}", i + 1
    used.add(candidate)
    return candidate


# --------------------------------------------------------------------------- predict CLI


def add_predict_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``predict``: ``python -m fer predict [IMAGE|DIR|VIDEO ...] [--model FILE] [--tta] [--out DIR]``."""
    p = subparsers.add_parser(
        "predict", help="find faces in images/videos and classify their expressions",
        description="Find the faces in images, folders of images or videos and classify their expressions. "
                    "Writes annotated images/videos plus predictions.csv and predictions.json to --out. "
                    "Without INPUT it runs on the demo photo shipped in fer/assets/.",
    )
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="image file, folder of images, or video file")
    p.add_argument("--demo", action="store_true", help="(also) run on the shipped demo photo")
    _add_detection_args(p)
    p.add_argument("--tta", action="store_true", help="test-time augmentation (flips and small shifts)")
    p.add_argument("--out", "-o", default="predictions", metavar="DIR", help="output folder (default: predictions)")
    p.add_argument("--every", type=int, default=1, metavar="N", help="videos: classify every Nth frame (default: 1)")
    p.add_argument("--max-frames", type=int, default=None, metavar="N", help="videos: stop after N frames")
    p.add_argument("--no-detect", action="store_true",
                   help="images are already-cropped faces: classify each whole image, no face detection")
    p.set_defaults(func=run_predict)
    return p


def run_predict(args: argparse.Namespace) -> int:
    """The ``predict`` subcommand; returns the exit code (errors go to stderr, without a traceback)."""
    with cli_errors("predict") as status:
        inputs = list(args.inputs)
        if args.demo or not inputs:
            inputs.append(str(DEMO_IMAGE))
        if args.every < 1:
            raise ValueError(f"--every must be >= 1, got {args.every}")
        items = _expand_inputs(inputs)
        detector = _detector_from(args)
        classifier = load_classifier(args.model)
        status.code = _predict_files(items, classifier, detector, Path(args.out), args)
    return status.code


def _predict_files(items, classifier: Classifier, detector: Detector, out_dir: Path,
                   args: argparse.Namespace) -> int:
    classes = classifier.classes
    images_json, videos_json, rows = [], [], []
    failed, faces_total, used = False, 0, set()
    image_items = [(p, explicit) for p, kind, explicit in items if kind == "image"]
    for start in range(0, len(image_items), 32):  # bounded memory; one classifier call per chunk
        chunk, pictures = [], []
        for path, explicit in image_items[start:start + 32]:
            try:
                pictures.append(_read_image(path))
                chunk.append(path)
            except ValueError as err:
                print(f"fer predict: {'error' if explicit else 'skipped'}: {err}", file=sys.stderr)
                failed |= explicit
        results = predict_images(pictures, classifier, detector=detector, margin=args.margin, tta=args.tta,
                                 detect=not args.no_detect)
        for path, picture, faces in zip(chunk, pictures, results):
            annotated = out_dir / _unique_name(f"{path.stem}.annotated{path.suffix.lower()}", used)
            _write_image(annotated, draw_predictions(picture, faces, classes))
            rows.extend([str(path), *r.csv_row(i)] for i, r in enumerate(faces))
            images_json.append({"image": str(path), "annotated": str(annotated),
                                "size": [int(picture.shape[1]), int(picture.shape[0])],
                                "faces": [r.to_json(classes) for r in faces]})
            faces_total += len(faces)
            if faces:
                summary = "; ".join(f"{r.label} {r.confidence:.0%} at {r.box}" for r in faces)
                print(f"{path}: {len(faces)} face{'s' if len(faces) > 1 else ''}: {summary}")
            else:
                print(f"fer predict: warning: no face found in {path}", file=sys.stderr)
    for path, kind, explicit in items:
        if kind != "video":
            continue
        try:
            summary = predict_video(path, classifier, out_dir, every=args.every, detector=detector,
                                    margin=args.margin, tta=args.tta, max_frames=args.max_frames,
                                    smooth=args.smooth)
        except ValueError as err:
            print(f"fer predict: {'error' if explicit else 'skipped'}: {err}", file=sys.stderr)
            failed |= explicit
            continue
        videos_json.append(summary)
        faces_total += summary["frames_with_face"]
        print(f"{path}: {summary['frames_with_face']}/{summary['processed_frames']} processed frames with a face, "
              f"mostly {summary['dominant']}; wrote {summary['annotated']}")
    if not images_json and not videos_json:  # every input failed, each with its own line: nothing to report
        if not failed:
            named = ", ".join(repr(str(i)) for i in args.inputs)
            print(f"fer predict: error: no readable image or video in {named}; every file was skipped",
                  file=sys.stderr)
        return 1
    csv_path, json_path = out_dir / "predictions.csv", out_dir / "predictions.json"
    write_csv(rows, csv_path, ["image", *FaceResult.csv_header(classes)])
    report = {
        "command": "python -m fer predict " + " ".join(sys.argv[2:] if sys.argv[1:2] == ["predict"] else sys.argv[1:]),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": str(classifier.path) if classifier.path else None, "format": classifier.format,
        "classes": list(classes), "tta": bool(args.tta), "detector": args.detector,
        "margin": args.margin if args.detector == "haar" else None,
        "images": images_json, "videos": videos_json,
    }
    write_text(json.dumps(report, indent=2), json_path)
    print(f"wrote {csv_path} and {json_path}")
    if faces_total == 0:
        print("fer predict: error: no face found in any input; use a frontal face photo, a larger --detect-size "
              "for small faces, or --no-detect for images that are already face crops", file=sys.stderr)
        return 1
    return 1 if failed else 0


# --------------------------------------------------------------------------- webcam CLI


def add_webcam_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``webcam``: ``python -m fer webcam [--camera 0]`` (live, with FPS)."""
    p = subparsers.add_parser(
        "webcam", help="classify expressions live from a camera",
        description="Classify facial expressions live from a camera, showing boxes, labels, probability bars "
                    "and FPS. Press q or Esc (or close the window) to stop. --camera also accepts a video file.",
    )
    p.add_argument("--camera", default="0", help="camera index (default: 0) or a video file / stream URL")
    _add_detection_args(p, live=True)
    p.add_argument("--every", type=int, default=1, metavar="N", help="classify every Nth frame (default: 1)")
    p.add_argument("--out", "-o", default=None, metavar="FILE.mp4", help="also record the annotated stream")
    p.add_argument("--no-display", action="store_true", help="do not open a window (use with --out)")
    p.add_argument("--max-frames", type=int, default=None, metavar="N", help="stop after N frames")
    p.set_defaults(func=run_webcam)
    return p


class _Window:
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
            raise CLIError("cannot open a window: this OpenCV build is headless and matplotlib has no GUI "
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


def run_webcam(args: argparse.Namespace) -> int:
    """The ``webcam`` subcommand; returns the exit code (no camera → message on stderr, exit 1)."""
    with cli_errors("webcam") as status:
        if args.every < 1:
            raise ValueError(f"--every must be >= 1, got {args.every}")
        source = int(args.camera) if str(args.camera).isdigit() else str(args.camera)
        cap = cv2.VideoCapture(source)
        try:
            if not cap.isOpened():
                raise CLIError(f"no camera {args.camera!r}: OpenCV could not open it. Is a camera connected and "
                                "free? Try another index (--camera 1) or pass a video file")
            ok, frame = cap.read()
            if not ok:
                raise CLIError(f"camera {args.camera!r} opened but returned no frame")
            detector = _detector_from(args, live=True)
            classifier = load_classifier(args.model)
            window = None if args.no_display else _Window("fer webcam (q to quit)")
            if window is None and not args.out:
                print("fer webcam: no window and no --out: frames are classified and only the FPS is reported",
                      file=sys.stderr)
            status.code = _webcam_loop(cap, frame, classifier, detector, window, args)
        finally:
            cap.release()
    return status.code


def _webcam_loop(cap, frame, classifier: Classifier, detector: Detector, window, args) -> int:
    with contextlib.ExitStack() as stack:
        writer, out = None, Path(args.out) if args.out else None
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
        frames, start, interrupted = _stream(cap, frame, classifier, detector, window, writer, args)
    elapsed = time.perf_counter() - start
    print(f"{frames} frames in {elapsed:.1f} s ({frames / max(elapsed, 1e-9):.1f} FPS)"
          + (f"; wrote {out}" if out else ""))
    if interrupted:  # Ctrl-C stops the stream; the recording so far is kept
        raise KeyboardInterrupt
    return 0


def _stream(cap, frame, classifier: Classifier, detector: Detector, window, writer,
            args) -> tuple[int, float, bool]:
    """Classify, draw, show and record frames until the stream ends; ``(frames, start time, interrupted)``.

    Faces are tracked across frames and their probabilities smoothed along each track (``--smooth``).
    """
    latest: list[FaceResult] = []
    ids: list[int] = []
    tracker = IoUTracker()
    fps, frames, start, last = 0.0, 0, time.perf_counter(), time.perf_counter()
    ok = True
    try:
        while ok:
            if frames % args.every == 0:
                raw = detect_and_predict(frame, classifier, detector=detector, margin=args.margin)
                latest, ids = track_and_smooth(tracker, raw, classifier.classes, args.smooth)
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
            if args.max_frames is not None and frames >= args.max_frames:
                break
            ok, frame = cap.read()
    except KeyboardInterrupt:
        return frames, start, True
    return frames, start, False
