"""Face detection: YuNet (the default, boxes + five landmarks), OpenCV's Haar cascade (a fallback) and face crops.

Two detectors share one interface: ``detector.detect(image) -> list[Face]`` (box, landmarks, score;
largest face first) and ``detector(image) -> list[Box]``.

* :class:`YuNetDetector` runs the YuNet ONNX model shipped in ``fer/assets/yunet_s_640_640.onnx``
  (Apache-2.0, see ``fer/assets/ATTRIBUTION.md``) through ``cv2.FaceDetectorYN`` (OpenCV 4.8 and 5).
  Its sha256 is checked when it is loaded. Each face comes with five landmarks (right eye, left eye,
  nose tip, right and left mouth corner, as seen in the image: "right eye" is the one on the image's left),
  which :mod:`fer.inference.alignment` uses to rotate and frame the crop like FER2013's faces.
* :class:`FaceDetector` (alias :data:`HaarDetector`) is ``haarcascade_frontalface_default.xml`` on a
  downscaled, equalized gray frame; it needs an OpenCV wheel that ships ``cv2.data.haarcascades``
  (the 4.x wheels do, OpenCV 5 wheels may not), and gives no landmarks.

:func:`make_detector` builds either by name (``"yunet"`` or ``"haar"``), as ``--detector`` does, with the
settings of one use: the defaults (one upright pass, ``python -m fer serve``'s photos), ``live=True``
(:data:`LIVE_SETTINGS`, the webcam and the camera stream) or ``photo=True`` (:data:`PHOTO_SETTINGS`, still
photos: ``python -m fer predict`` and :mod:`fer.inference.pipeline` on single images).

Photo mode (YuNet's ``pyramid`` and ``rotations``) trades time for recall: YuNet runs on every level of an
image pyramid that starts where the smallest face wanted is reliably found, and on each level rotated by
each angle of ``rotations``; the faces are mapped back to the frame and merged by non-maximum suppression
(:func:`merge_faces`). The geometry is :mod:`fer.inference.photo_mode`; how the defaults were chosen is said
at :data:`PHOTO_SETTINGS`.

The module is a little over 400 lines because both detectors, their three sets of settings (default, live,
photo) and the checks of their inputs are kept side by side: they are one interface, and a setting of one
use is only understood next to the others.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import math
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from fer.inference.classifier import check_order
from fer.inference.photo_mode import LARGEST_FACE, check_rotations, pyramid_scales, resized, rotated
from fer.inference.tracking import iou

#: A face box ``(x, y, w, h)`` in pixels of the full image.
Box = tuple[int, int, int, int]

#: The detectors :func:`make_detector` knows, default first.
DETECTORS = ("yunet", "haar")
#: The shipped YuNet model and its sha256 (``fer/assets/ATTRIBUTION.md``).
YUNET_MODEL = Path(__file__).resolve().parents[1] / "assets" / "yunet_s_640_640.onnx"
YUNET_SHA256 = "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"

#: Haar settings for live video (webcam, benchmark): a smaller frame and coarser scale steps cost about a
#: third of the photo defaults and still find faces of 40+ pixels.
LIVE_DETECTOR = {"max_side": 320, "scale_factor": 1.2}
#: Live-video settings of each detector (YuNet at 320 px still finds faces of about 20 pixels of a 640 frame).
LIVE_SETTINGS: dict[str, dict] = {"yunet": {"max_side": 320}, "haar": dict(LIVE_DETECTOR)}

#: Still-photo settings of each detector (Haar's defaults already are its photo settings). YuNet: a pyramid
#: whose first level makes a face of ``min_face`` = 16 px 48 px (:data:`~fer.inference.photo_mode.RELIABLE_FACE`;
#: 3x on a 640x480 photo, then 0.75x and 0.19x; the benchmark's smallest true boxes are 19 px), its longer side
#: at most 1920 px (a 4000 px photo starts at 1920, where the fast mode sees 640), and passes at -25, 0 and +25
#: degrees. Chosen on 150 tuning scenes (``python -m fer bench detect --scenes 150 --seed 1``; the reported run,
#: ``results/bench_detect.json``, is seed 0) from single levels, without the pyramid (recall / precision / ms
#: per frame, the 2-core machine at load ~4.5): upright at 1x 53.5% / 98.1% / 24 ms; at 2x 74.7% / 94.8% /
#: 122 ms; at 3x 81.7% / 93.5% / 341 ms; 3x with +-15, +-20 or +-25 degree passes 89.7%, 89.7%, 90.2%
#: (precision 93.1-93.5%, 1.4-1.8 s); +-15 and +-25 together 91.2% at 2.9 s (not worth it); 2x with +-25
#: degrees 87.1% / 93.9% / 0.58 s. A higher score threshold for the rotated passes (0.7 or 0.8) bought 1-3
#: points of precision for 1-3 points of recall; NMS at 0.2-0.5 moved recall by <= 0.2 points, so YuNet's 0.3
#: stays. These settings with the pyramid on the same scenes: 90.7% / 94.6% / 2.1 s.
PHOTO_SETTINGS: dict[str, dict] = {"yunet": {"max_side": 1920, "min_face": 16, "pyramid": True,
                                             "rotations": (-25.0, 0.0, 25.0)},
                                   "haar": {}}


class Face(NamedTuple):
    """One detected face: ``box`` ``(x, y, w, h)``, ``landmarks`` (5 x 2 float32, or ``None``) and ``score``."""

    box: Box
    landmarks: np.ndarray | None
    score: float

    @property
    def eyes(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(eye on the image's left, eye on the image's right)`` as ``(x, y)`` arrays, or ``None``."""
        return None if self.landmarks is None else (self.landmarks[0], self.landmarks[1])


def _check_max_side(max_side: int | None) -> None:
    if max_side is not None and max_side < 48:
        raise ValueError(f"max_side must be at least 48 pixels (or None), got {max_side}")


def _scaled(image: np.ndarray, max_side: int | None) -> tuple[np.ndarray, float]:
    h, w = image.shape[:2]
    scale = min(1.0, max_side / max(h, w)) if max_side else 1.0
    if scale < 1.0:
        image = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    return image, scale


# --------------------------------------------------------------------------- YuNet


@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
    """OpenCV's own log lowered to errors for the duration (where this OpenCV lets Python set it)."""
    log = getattr(getattr(cv2, "utils", None), "logging", None)
    if log is None or not hasattr(log, "setLogLevel"):
        yield
        return
    old = log.getLogLevel()
    log.setLogLevel(log.LOG_LEVEL_ERROR)
    try:
        yield
    finally:
        log.setLogLevel(old)


def sha256_of(path: str | os.PathLike) -> str:
    """The sha256 of a file, hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_yunet_model(path: str | os.PathLike = YUNET_MODEL, sha256: str | None = YUNET_SHA256) -> Path:
    """``path`` after checking that it exists and (when ``sha256`` is given) that its bytes are the shipped model.

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: its sha256 differs (a truncated or corrupt copy).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"YuNet face-detector model {path} is missing; reinstall fer-course (or "
                                "`git checkout fer/assets/`), or pass --detector haar")
    if sha256 is not None and (found := sha256_of(path)) != sha256:
        raise ValueError(f"YuNet face-detector model {path} is corrupt (sha256 {found[:12]}..., expected "
                         f"{sha256[:12]}...); restore it with `git checkout fer/assets/` or reinstall fer-course")
    return path


class YuNetDetector:
    """YuNet face detector (``cv2.FaceDetectorYN``): boxes, five landmarks and a score per face.

    By default the frame is downscaled so its longer side is at most ``max_side`` pixels and YuNet runs
    once (the fast mode of live video and the web app). Photo mode (``pyramid=True`` and/or more than
    one angle in ``rotations``; see the module docstring and :data:`PHOTO_SETTINGS`) runs YuNet on an
    image pyramid that starts where the smallest face wanted is reliably found, and adds rotated passes.
    Boxes and landmarks are returned in the coordinates of the full frame, largest face first. Rows with
    non-finite numbers (seen once upstream) and boxes that fall outside the frame are dropped. Not
    thread-safe: give each thread its own detector.

    Args:
        model: an ONNX file; default the shipped :data:`YUNET_MODEL` (its sha256 is checked).
        max_side: longer side of the frame the detector sees (``None``: no limit); never upscaled beyond it.
        min_face: smallest face to return, in pixels of the full frame (the shorter box side).
        score_threshold, nms_threshold, top_k: ``cv2.FaceDetectorYN`` parameters; ``nms_threshold`` also
            merges the faces of photo mode's passes.
        pyramid: run on an image pyramid (:func:`~fer.inference.photo_mode.pyramid_scales`) whose first
            level is the frame scaled by ``RELIABLE_FACE / min_face`` (48 / 16 = 3x: up, or down when
            ``min_face`` is large; its longer side capped at ``max_side``), instead of once on the frame
            downscaled to ``max_side``.
        rotations: angles in degrees (counter-clockwise, each within +-60, no repeats) of the passes; the
            default ``(0,)`` is one upright pass.
    """

    kind = "yunet"

    def __init__(self, model: str | os.PathLike | None = None, *, max_side: int | None = 640, min_face: int = 20,
                 score_threshold: float = 0.6, nms_threshold: float = 0.3, top_k: int = 500,
                 pyramid: bool = False, rotations: Sequence[float] = (0.0,)):
        if not hasattr(cv2, "FaceDetectorYN"):
            raise ImportError(f"OpenCV {cv2.__version__} has no cv2.FaceDetectorYN; install "
                              "opencv-python-headless>=4.8 (or pass --detector haar)")
        _check_max_side(max_side)
        if not 0.0 < score_threshold < 1.0:
            raise ValueError(f"score_threshold must be in (0, 1), got {score_threshold}")
        if not 0.0 < nms_threshold < 1.0:
            raise ValueError(f"nms_threshold must be in (0, 1), got {nms_threshold}")
        if min_face < 1:
            raise ValueError(f"min_face must be at least 1 pixel, got {min_face}")
        self.rotations = check_rotations(rotations)
        path = check_yunet_model(YUNET_MODEL if model is None else model, YUNET_SHA256 if model is None else None)
        try:
            with _quiet_opencv():  # OpenCV 5 warns that its new DNN engine ignores the (default) target
                self._net = cv2.FaceDetectorYN.create(str(path), "", (320, 320), float(score_threshold),
                                                      float(nms_threshold), int(top_k))
        except cv2.error as err:
            raise ValueError(f"could not load a YuNet model from {str(path)!r}: "
                             f"{str(err).strip().splitlines()[-1]}") from None
        self.model, self.max_side, self.min_face = path, max_side, int(min_face)
        self.score_threshold, self.nms_threshold = float(score_threshold), float(nms_threshold)
        self.pyramid = bool(pyramid)
        self._size: tuple[int, int] | None = None

    @property
    def photo(self) -> bool:
        """Whether this detector runs in photo mode (an image pyramid or rotated passes)."""
        return self.pyramid or self.rotations != (0.0,)

    def scales(self, shape: tuple[int, ...]) -> list[float]:
        """The factors from a frame of this ``shape`` (``h, w[, c]``) to the frames YuNet sees, largest first."""
        if not self.pyramid:
            return [min(1.0, self.max_side / max(shape[:2]))] if self.max_side else [1.0]
        return pyramid_scales(shape, self.min_face, self.max_side)

    def detect(self, image: np.ndarray, channel_order: str = "bgr") -> list[Face]:
        """The faces of ``image`` (gray, BGR/RGB or with alpha), largest first."""
        order = check_order(channel_order)
        image = _check_image(image)
        h, w = image.shape[:2]
        # Resize first, then convert to BGR: the colour conversion (or the RGB -> BGR copy) touches the
        # small frame only; both steps work per channel, so the pixels are the same as the other way round.
        scales = self.scales(image.shape)
        faces = []
        for i, scale in enumerate(scales):
            frame = _bgr_uint8(resized(np.ascontiguousarray(image), scale), order)
            largest = LARGEST_FACE if i < len(scales) - 1 else math.inf
            faces += [face for angle in self.rotations for face in self._pass(frame, angle, scale, (h, w), largest)]
        if len(scales) * len(self.rotations) > 1:
            faces = merge_faces(faces, self.nms_threshold)
        return sorted(faces, key=lambda f: f.box[2] * f.box[3], reverse=True)

    def _pass(self, frame: np.ndarray, angle: float, scale: float, shape: tuple[int, int],
              largest: float = math.inf) -> list[Face]:
        """YuNet on ``frame`` (the full frame scaled by ``scale``) rotated by ``angle``: its faces of up to
        ``largest`` pixels there, in the coordinates of the full frame (``shape``)."""
        view, back = rotated(frame, angle)
        size = (view.shape[1], view.shape[0])
        if size != self._size:
            self._net.setInputSize(size)
            self._size = size
        _, rows = self._net.detect(view)
        h, w = shape
        faces = []
        for row in (rows if rows is not None else []):
            if not np.all(np.isfinite(row)) or min(row[2], row[3]) > largest:
                continue
            bw, bh = float(row[2]) / scale, float(row[3]) / scale
            cx, cy = (back @ (float(row[0]) + float(row[2]) / 2, float(row[1]) + float(row[3]) / 2, 1.0)) / scale
            x0, y0 = max(0, round(cx - bw / 2)), max(0, round(cy - bh / 2))
            x1, y1 = min(w, round(cx + bw / 2)), min(h, round(cy + bh / 2))
            if x1 - x0 < 2 or y1 - y0 < 2 or min(bw, bh) < self.min_face:
                continue
            marks = np.asarray(row[4:14], np.float64).reshape(5, 2)
            marks = ((marks @ back[:, :2].T + back[:, 2]) / scale).astype(np.float32)
            faces.append(Face((x0, y0, x1 - x0, y1 - y0), marks, float(row[14])))
        return faces

    def __call__(self, image: np.ndarray, channel_order: str = "bgr") -> list[Box]:
        return [f.box for f in self.detect(image, channel_order)]


def merge_faces(faces: Sequence[Face], iou_threshold: float = 0.3) -> list[Face]:
    """Non-maximum suppression: the best-scored face first, then every face overlapping no kept one by more
    than ``iou_threshold`` (IoU of the boxes); one face per person out of several passes."""
    kept: list[Face] = []
    for face in sorted(faces, key=lambda f: f.score, reverse=True):
        if all(iou(face.box, other.box) <= iou_threshold for other in kept):
            kept.append(face)
    return kept


# --------------------------------------------------------------------------- Haar


def haar_available() -> bool:
    """Whether this OpenCV ships its Haar cascades (``cv2.data.haarcascades``)."""
    folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
    return bool(folder) and (Path(folder) / "haarcascade_frontalface_default.xml").is_file()


def default_cascade_path() -> Path:
    """OpenCV's frontal-face Haar cascade, shipped inside the ``opencv-python-headless`` 4.x wheels."""
    folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
    path = Path(folder) / "haarcascade_frontalface_default.xml" if folder else None
    if path is None or not path.is_file():
        raise FileNotFoundError(f"OpenCV {cv2.__version__} ships no Haar cascades (cv2.data.haarcascades); use "
                                "the default --detector yunet, or install opencv-python-headless<5 for Haar")
    return path


class FaceDetector:
    """Haar-cascade face detector, fast enough for live video (no landmarks).

    The frame is converted to gray, downscaled so its longer side is at most ``max_side`` pixels,
    histogram-equalized, and scanned with ``detectMultiScale``; boxes are returned in the
    coordinates of the full frame, largest first.

    Args:
        cascade: a cascade XML file; default :func:`default_cascade_path`.
        max_side: longer side of the frame the detector sees (``None``: full resolution).
        min_face: smallest face to find, in pixels of the full frame.
        scale_factor, min_neighbors: ``detectMultiScale`` parameters.
    """

    kind = "haar"

    def __init__(self, cascade: str | os.PathLike | None = None, *, max_side: int | None = 400,
                 min_face: int = 40, scale_factor: float = 1.1, min_neighbors: int = 5):
        path = Path(cascade) if cascade is not None else default_cascade_path()
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise ValueError(f"could not load a Haar cascade from {str(path)!r}")
        _check_max_side(max_side)
        if scale_factor <= 1.0:
            raise ValueError(f"scale_factor must be > 1, got {scale_factor}")
        self.max_side, self.min_face = max_side, int(min_face)
        self.scale_factor, self.min_neighbors = float(scale_factor), int(min_neighbors)

    def detect(self, image: np.ndarray, channel_order: str = "bgr") -> list[Face]:
        """The faces of ``image`` as :class:`Face` rows without landmarks (score 1), largest first."""
        return [Face(box, None, 1.0) for box in self(image, channel_order)]

    def __call__(self, image: np.ndarray, channel_order: str = "bgr") -> list[Box]:
        gray = _gray_uint8(image, check_order(channel_order))
        h, w = gray.shape
        gray, scale = _scaled(gray, self.max_side)
        gray = cv2.equalizeHist(gray)
        side = max(1, round(self.min_face * scale))
        found = self._cascade.detectMultiScale(gray, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
                                               minSize=(side, side))
        boxes = []
        for x, y, bw, bh in (found if len(found) else []):
            x0, y0 = max(0, round(x / scale)), max(0, round(y / scale))
            x1, y1 = min(w, round((x + bw) / scale)), min(h, round((y + bh) / scale))
            if x1 > x0 and y1 > y0:
                boxes.append((x0, y0, x1 - x0, y1 - y0))
        return sorted(boxes, key=lambda b: b[2] * b[3], reverse=True)


#: The Haar detector under the name that says what it is.
HaarDetector = FaceDetector
#: Either detector.
Detector = YuNetDetector | FaceDetector


def make_detector(kind: str = "yunet", *, live: bool = False, photo: bool = False, **settings) -> Detector:
    """A detector by name: ``"yunet"`` (default) or ``"haar"``; ``live=True`` starts from :data:`LIVE_SETTINGS`,
    ``photo=True`` from :data:`PHOTO_SETTINGS`.

    ``settings`` go to the detector (``max_side``, ``min_face``; Haar also ``scale_factor``,
    ``min_neighbors``; YuNet also ``score_threshold``, ``pyramid``, ``rotations``); settings the chosen
    detector does not take (``scale_factor`` for YuNet) are ignored, so one set of command-line options
    serves both.
    """
    if kind not in DETECTORS:
        raise ValueError(f"unknown detector {kind!r}; choose one of {', '.join(DETECTORS)}")
    if live and photo:
        raise ValueError("make_detector takes live=True or photo=True, not both")
    base = LIVE_SETTINGS[kind] if live else PHOTO_SETTINGS[kind] if photo else {}
    merged = {**base, **{k: v for k, v in settings.items() if v is not None}}
    if kind == "yunet":
        allowed = {"model", "max_side", "min_face", "score_threshold", "nms_threshold", "top_k", "pyramid",
                   "rotations"}
        return YuNetDetector(**{k: v for k, v in merged.items() if k in allowed})
    allowed = {"cascade", "max_side", "min_face", "scale_factor", "min_neighbors"}
    return FaceDetector(**{k: v for k, v in merged.items() if k in allowed})


_LOCAL = threading.local()


def default_detector() -> YuNetDetector:
    """This thread's shared :class:`YuNetDetector` with default settings (loaded once per thread)."""
    if not hasattr(_LOCAL, "yunet"):
        _LOCAL.yunet = YuNetDetector()
    return _LOCAL.yunet


def default_photo_detector() -> YuNetDetector:
    """This thread's shared :class:`YuNetDetector` in photo mode (:data:`PHOTO_SETTINGS`, loaded once per thread)."""
    if not hasattr(_LOCAL, "yunet_photo"):
        _LOCAL.yunet_photo = YuNetDetector(**PHOTO_SETTINGS["yunet"])
    return _LOCAL.yunet_photo


@functools.lru_cache(maxsize=1)
def default_haar_detector() -> FaceDetector:
    """The shared Haar :class:`FaceDetector` with default settings (the cascade is loaded once)."""
    return FaceDetector()


def _check_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] not in (3, 4)) or 0 in image.shape:
        raise ValueError(f"image must be H x W (gray), H x W x 3 or H x W x 4, got shape {image.shape}")
    if image.dtype != np.uint8:
        image = np.clip(np.rint(image.astype(np.float32)), 0, 255).astype(np.uint8)
    return image


def _gray_uint8(image: np.ndarray, order: str) -> np.ndarray:
    image = _check_image(image)
    if image.ndim == 2:
        return image
    codes = {("bgr", 3): cv2.COLOR_BGR2GRAY, ("rgb", 3): cv2.COLOR_RGB2GRAY,
             ("bgr", 4): cv2.COLOR_BGRA2GRAY, ("rgb", 4): cv2.COLOR_RGBA2GRAY}
    return cv2.cvtColor(np.ascontiguousarray(image), codes[(order, image.shape[-1])])


def _bgr_uint8(image: np.ndarray, order: str) -> np.ndarray:
    image = _check_image(image)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[-1] == 4:
        return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_BGRA2BGR if order == "bgr" else cv2.COLOR_RGBA2BGR)
    return np.ascontiguousarray(image if order == "bgr" else image[..., ::-1])


def detect_faces(image: np.ndarray, detector: Detector | None = None, *, channel_order: str = "bgr") -> list[Box]:
    """Face boxes ``(x, y, w, h)`` in ``image`` (gray, BGR/RGB or with alpha), largest first (default: YuNet)."""
    return (detector or default_detector())(image, channel_order)


def crop_face(image: np.ndarray, box: Box, margin: float = 0.1) -> np.ndarray:
    """The face ``box`` grown by ``margin`` (a fraction of its size) on every side, clipped to the image."""
    x, y, w, h = box
    mx, my = round(w * margin), round(h * margin)
    ih, iw = image.shape[:2]
    return image[max(0, y - my):min(ih, y + h + my), max(0, x - mx):min(iw, x + w + mx)]
