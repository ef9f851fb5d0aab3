"""Predict on files: images, folders of images and videos in; annotated copies, ``predictions.csv`` and
``predictions.json`` out (what ``python -m fer predict`` does; the command is :mod:`fer.cli.predict`)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np

from fer.data.atomic import atomic_path, write_csv, write_text
from fer.inference.classifier import Classifier
from fer.inference.detection import Detector
from fer.inference.drawing import draw_predictions
from fer.inference.pipeline import FaceResult, predict_images
from fer.inference.video import predict_video

#: A public-domain face photo shipped with the package (see ``fer/assets/ATTRIBUTION.md``).
DEMO_IMAGE = Path(__file__).resolve().parents[1] / "assets" / "grace_hopper.jpg"
#: File extensions treated as images / videos.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")


def expand_inputs(inputs: Sequence[str]) -> list[tuple[Path, str, bool]]:
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


def read_image(path: Path) -> np.ndarray:
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


def predict_files(items: Sequence[tuple[Path, str, bool]], classifier: Classifier, detector: Detector,
                  out_dir: str | os.PathLike, *, video_detector: Detector | None = None,
                  detector_name: str = "yunet", margin: float = 0.1, tta: bool = False,
                  detect: bool = True, every: int = 1, max_frames: int | None = None, smooth: float = 0.5,
                  inputs: Sequence[str] = (), command: str = "") -> int:
    """Classify the faces of images and videos (``items`` from :func:`expand_inputs`); write annotated copies,
    ``predictions.csv`` and ``predictions.json`` (with ``command``) into ``out_dir``; return the exit code.
    ``inputs``: what the user named (for the message when nothing could be read). ``video_detector``:
    the detector of video frames (default ``detector``; ``python -m fer predict`` gives images the
    photo-mode YuNet and videos the one-pass one).

    Each image or video gets one line on stdout; a file that cannot be read is an error when it was named
    (exit 1) and skipped when it came from a folder. Exit 1 too when no input holds a face.

    Example:
        >>> items = expand_inputs([str(DEMO_IMAGE)])
        >>> predict_files(items, load_classifier(), make_detector("yunet"), "predictions")  # doctest: +SKIP
        0
    """
    out_dir = Path(out_dir)
    classes = classifier.classes
    images_json, videos_json, rows = [], [], []
    failed, faces_total, used = False, 0, set()
    image_items = [(p, explicit) for p, kind, explicit in items if kind == "image"]
    for start in range(0, len(image_items), 32):  # bounded memory; one classifier call per chunk
        chunk, pictures = [], []
        for path, explicit in image_items[start:start + 32]:
            try:
                pictures.append(read_image(path))
                chunk.append(path)
            except ValueError as err:
                print(f"fer predict: {'error' if explicit else 'skipped'}: {err}", file=sys.stderr)
                failed |= explicit
        results = predict_images(pictures, classifier, detector=detector, margin=margin, tta=tta,
                                 detect=detect)
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
            summary = predict_video(path, classifier, out_dir, every=every, detector=video_detector or detector,
                                    margin=margin, tta=tta, max_frames=max_frames,
                                    smooth=smooth)
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
            named = ", ".join(repr(str(i)) for i in inputs)
            print(f"fer predict: error: no readable image or video in {named}; every file was skipped",
                  file=sys.stderr)
        return 1
    csv_path, json_path = out_dir / "predictions.csv", out_dir / "predictions.json"
    write_csv(rows, csv_path, ["image", *FaceResult.csv_header(classes)])
    report = {
        "command": command,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": str(classifier.path) if classifier.path else None, "format": classifier.format,
        "classes": list(classes), "tta": bool(tta), "detector": detector_name,
        "photo_mode": bool(getattr(detector, "photo", False)),
        "margin": margin if detector_name == "haar" else None,
        "images": images_json, "videos": videos_json,
    }
    write_text(json.dumps(report, indent=2), json_path)
    print(f"wrote {csv_path} and {json_path}")
    if faces_total == 0:
        print("fer predict: error: no face found in any input; use a frontal face photo, a larger --detect-size "
              "for small faces, or --no-detect for images that are already face crops", file=sys.stderr)
        return 1
    return 1 if failed else 0
