"""``python -m fer predict`` and ``python -m fer webcam``: parse, then call :mod:`fer.inference.files` /
:mod:`fer.inference.live`.

::

    python -m fer predict                        # the demo photo shipped in fer/assets/
    python -m fer predict photo.jpg faces/ clip.mp4 --out predictions/ [--tta] [--model FILE] [--detector haar]
                                                 [--fast-detect]
    python -m fer webcam [--camera 0] [--detector yunet|haar] [--smooth 0.5]
"""

from __future__ import annotations

import argparse

from fer.cli.handler import handled
from fer.inference.classifier import load_classifier
from fer.inference.detection import DETECTORS, LIVE_SETTINGS, PHOTO_SETTINGS, Detector, make_detector
from fer.inference.files import DEMO_IMAGE, expand_inputs, predict_files
from fer.inference.live import run_camera


def register(sub: argparse._SubParsersAction) -> None:
    add_predict_parser(sub)
    add_webcam_parser(sub)


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
    photo = "" if live else (f"; yunet on images, photo mode: at most {PHOTO_SETTINGS['yunet']['max_side']}, "
                             "its pyramid starting where --min-face becomes 48 px")
    p.add_argument("--detect-size", type=int, default=None, metavar="PX",
                   help=f"longer side of the frame the face detector sees (default: yunet {sizes['yunet']}, haar "
                        f"{sizes['haar']}{photo}; larger finds smaller faces, slower)")
    photo = "" if live else f"; yunet photo mode {PHOTO_SETTINGS['yunet']['min_face']} px"
    p.add_argument("--min-face", type=int, default=None, metavar="PX",
                   help=f"smallest face to find (default: yunet 20 px, haar 40 px{photo})")
    scale = LIVE_SETTINGS["haar"]["scale_factor"] if live else 1.1
    p.add_argument("--scale-factor", type=float, default=scale, metavar="F",
                   help=f"haar: detector scale step (default: {scale}; larger is faster, may miss faces)")
    p.add_argument("--smooth", type=float, default=0.5, metavar="A",
                   help="videos/webcam: weight of the newest frame in each tracked face's moving average of "
                        "probabilities (default: 0.5; 1 = no smoothing)")


def _detector_from(args: argparse.Namespace, live: bool = False, photo: bool = False) -> Detector:
    if args.margin < 0:
        raise ValueError(f"--margin must be >= 0, got {args.margin}")
    if args.detect_size is not None and args.detect_size < 48:
        raise ValueError(f"--detect-size must be at least 48 pixels, got {args.detect_size}")
    if args.scale_factor <= 1.0:
        raise ValueError(f"--scale-factor must be > 1, got {args.scale_factor}")
    if not 0.0 < args.smooth <= 1.0:
        raise ValueError(f"--smooth must be in (0, 1] (1 = no smoothing), got {args.smooth}")
    if args.min_face is not None and args.min_face < 1:
        raise ValueError(f"--min-face must be at least 1 pixel, got {args.min_face}")
    if photo:  # PHOTO_SETTINGS, with --detect-size / --min-face where given
        return make_detector(args.detector, photo=True, max_side=args.detect_size, min_face=args.min_face,
                             scale_factor=args.scale_factor)
    sizes = {"yunet": 640, "haar": 400}
    size = args.detect_size or (LIVE_SETTINGS[args.detector]["max_side"] if live else sizes[args.detector])
    return make_detector(args.detector, max_side=size, min_face=args.min_face, scale_factor=args.scale_factor)


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
    p.add_argument("--fast-detect", action="store_true",
                   help="yunet on images: one upright pass at --detect-size (default 640), as for video frames, "
                        "instead of photo mode (an image pyramid from 3x for 16 px faces, passes at -25/0/+25 "
                        "degrees; about 2 s instead of 30 ms per 640x480 photo on 2 cores, finds more small and tilted "
                        "faces: results/bench_detect.json)")
    p.add_argument("--tta", action="store_true", help="test-time augmentation (flips and small shifts)")
    p.add_argument("--out", "-o", default="predictions", metavar="DIR", help="output folder (default: predictions)")
    p.add_argument("--every", type=int, default=1, metavar="N", help="videos: classify every Nth frame (default: 1)")
    p.add_argument("--max-frames", type=int, default=None, metavar="N", help="videos: stop after N frames")
    p.add_argument("--no-detect", action="store_true",
                   help="images are already-cropped faces: classify each whole image, no face detection")
    p.set_defaults(func=run_predict)
    return p


@handled("predict")
def run_predict(args: argparse.Namespace) -> int:
    """The ``predict`` command: :func:`fer.inference.files.predict_files` on the inputs (default: the demo photo)."""
    inputs = list(args.inputs)
    if args.demo or not inputs:
        inputs.append(str(DEMO_IMAGE))
    if args.every < 1:
        raise ValueError(f"--every must be >= 1, got {args.every}")
    items = expand_inputs(inputs)
    detector = _detector_from(args, photo=not args.fast_detect)  # images
    video_detector = _detector_from(args)  # video frames: one pass, as before photo mode
    classifier = load_classifier(args.model)
    return predict_files(items, classifier, detector, args.out, video_detector=video_detector,
                         detector_name=args.detector, margin=args.margin,
                         tta=args.tta, detect=not args.no_detect, every=args.every, max_frames=args.max_frames,
                         smooth=args.smooth, inputs=args.inputs, command=args.command_line)


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


@handled("webcam")
def run_webcam(args: argparse.Namespace) -> int:
    """The ``webcam`` command: :func:`fer.inference.live.run_camera` (no camera → one line on stderr, exit 1)."""
    if args.every < 1:
        raise ValueError(f"--every must be >= 1, got {args.every}")
    source = int(args.camera) if str(args.camera).isdigit() else str(args.camera)
    return run_camera(source, args.model, _detector_from(args, live=True), every=args.every, out=args.out,
                      display=not args.no_display, max_frames=args.max_frames, margin=args.margin,
                      smooth=args.smooth)
