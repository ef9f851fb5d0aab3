"""Photo → faces: detect → align + crop → classify (→ draw), read top to bottom; :class:`FaceResult` is one face.

The default detector is YuNet (:class:`~fer.inference.detection.YuNetDetector`) in photo mode
(:data:`~fer.inference.detection.PHOTO_SETTINGS`: an image pyramid that starts upscaled for small faces,
passes at -25, 0 and +25 degrees; ``results/bench_detect.json``), since these functions take single
images; live video passes its own fast detector (``make_detector("yunet", live=True)``). Its faces are
rotated so the eyes are level and cropped with FER2013's framing (:func:`~fer.inference.alignment.aligned_crop`).
Faces without landmarks (``detector="haar"``) are cropped as their box grown by ``margin``.

Quick start::

    from fer.inference import load_classifier, detect_and_predict, draw_predictions
    clf = load_classifier()                      # the shipped models/fer2013_default.keras
    image = cv2.imread("photo.jpg")              # BGR, as OpenCV reads it
    results = detect_and_predict(image, clf)     # [(box, probs, label), ...]
    cv2.imwrite("annotated.jpg", draw_predictions(image, results, clf.classes))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from fer.inference.alignment import aligned_crop
from fer.inference.classifier import Classifier, check_order
from fer.inference.detection import (
    Box,
    Detector,
    Face,
    crop_face,
    default_detector,
    default_haar_detector,
    default_photo_detector,
    make_detector,
)
from fer.inference.drawing import draw_predictions


class FaceResult(NamedTuple):
    """One face: its ``box`` ``(x, y, w, h)``, class ``probs`` (in ``classifier.classes`` order) and ``label``."""

    box: Box
    probs: np.ndarray
    label: str

    @property
    def confidence(self) -> float:
        """The probability of :attr:`label`."""
        return float(np.max(self.probs))

    @staticmethod
    def csv_header(classes: Sequence[str]) -> list[str]:
        """The CSV columns of :meth:`csv_row` for a classifier with these ``classes``."""
        return ["face", "x", "y", "w", "h", "label", "confidence", *[f"p_{c}" for c in classes]]

    def csv_row(self, index: int) -> list:
        """This face as a CSV row: ``index`` (0 = the largest face of its image), box, label, probabilities."""
        return [index, *self.box, self.label, f"{self.confidence:.6f}", *[f"{p:.6f}" for p in self.probs]]

    def to_json(self, classes: Sequence[str]) -> dict:
        """This face as a JSON-ready dict (``box``, ``label``, ``confidence``, ``probabilities`` by class)."""
        return {"box": list(self.box), "label": self.label, "confidence": round(self.confidence, 6),
                "probabilities": {c: round(float(p), 6) for c, p in zip(classes, self.probs)}}


def resolve_detector(detector: Detector | str | None, *, photo: bool = True) -> Detector:
    """A detector object from ``None`` (the shared YuNet), a name (``"yunet"``, ``"haar"``) or a detector.

    ``photo``: ``None`` and ``"yunet"`` give the photo-mode YuNet (single images); ``False`` gives the
    one-pass YuNet (video frames, :mod:`fer.inference.video`). A detector object is returned as it is.
    """
    if detector is None or detector == "yunet":
        return default_photo_detector() if photo else default_detector()
    if detector == "haar":
        return default_haar_detector()
    return make_detector(detector, photo=photo) if isinstance(detector, str) else detector


def detect_and_crop(image: np.ndarray, detector: Detector | str | None = None, *, channel_order: str = "bgr",
                    margin: float = 0.1, align: bool = True) -> tuple[list[Face], list[np.ndarray]]:
    """The faces of ``image`` (largest first) and their classifier crops.

    A face with landmarks (YuNet) is aligned and framed like FER2013 when ``align``; otherwise the
    crop is its box grown by ``margin``. A detector without ``.detect`` (any callable
    ``image, channel_order -> boxes``) gives faces without landmarks.
    """
    order = check_order(channel_order)
    image = np.asarray(image)
    found = resolve_detector(detector)
    if hasattr(found, "detect"):
        faces = found.detect(image, order)
    else:
        faces = [Face(tuple(int(v) for v in box), None, 1.0) for box in found(image, order)]
    crops = [aligned_crop(image, f) if align and f.landmarks is not None else crop_face(image, f.box, margin)
             for f in faces]
    return faces, crops


def predict_images(images: Sequence[np.ndarray], classifier: Classifier, *, detector: Detector | str | None = None,
                   channel_order: str = "bgr", margin: float = 0.1, tta: bool | str = False,
                   detect: bool = True, align: bool = True) -> list[list[FaceResult]]:
    """Detect and classify the faces of several images with one batched classifier call.

    Args:
        images: images as read by OpenCV (BGR) unless ``channel_order="rgb"``.
        classifier: from :func:`fer.inference.load_classifier`.
        detector: a detector, ``"yunet"`` / ``"haar"``, or ``None`` (the shared photo-mode YuNet detector).
        margin: crop margin around boxes without landmarks (Haar), as a fraction of the box size.
        tta: test-time augmentation for the classifier.
        detect: ``False`` treats each whole image as one face (already-cropped faces).
        align: rotate and frame faces with landmarks like FER2013 (``False``: box + ``margin``).

    Returns:
        For each image, its faces (largest first).
    """
    order = check_order(channel_order)
    images = [np.asarray(image) for image in images]
    found = resolve_detector(detector) if detect else None
    boxes, crops = [], []
    for image in images:
        if found is None:  # already-cropped faces: the whole image is the face
            boxes.append([_whole(image)])
            crops.append(image)
            continue
        # 1. detect, 2. align + crop
        faces, face_crops = detect_and_crop(image, found, channel_order=order, margin=margin, align=align)
        boxes.append([f.box for f in faces])
        crops.extend(face_crops)
    # 3. classify, all faces of all images in one call
    probs = iter(classifier.predict(crops, channel_order=order, tta=tta) if crops else [])
    return [[_result(box, next(probs), classifier.classes) for box in found_boxes] for found_boxes in boxes]


def detect_and_predict(image: np.ndarray, classifier: Classifier, *, detector: Detector | str | None = None,
                       channel_order: str = "bgr", margin: float = 0.1, tta: bool | str = False,
                       align: bool = True) -> list[FaceResult]:
    """Find the faces in ``image`` and classify them (one batched call); largest face first.

    Returns:
        A list of :class:`FaceResult` ``(box, probs, label)``; empty when no face is found.
    """
    return predict_images([image], classifier, detector=detector, channel_order=channel_order, margin=margin,
                          tta=tta, align=align)[0]


def annotate(image: np.ndarray, classifier: Classifier, *, detector: Detector | str | None = None,
             channel_order: str = "bgr", margin: float = 0.1, tta: bool | str = False,
             align: bool = True) -> tuple[np.ndarray, list[FaceResult]]:
    """The whole pipeline on one image: detect → crop → classify → draw.

    Returns:
        The annotated copy of ``image`` (see :func:`fer.inference.draw_predictions`) and its faces.
    """
    faces = detect_and_predict(image, classifier, detector=detector, channel_order=channel_order, margin=margin,
                               tta=tta, align=align)
    return draw_predictions(image, faces, classifier.classes, channel_order=channel_order), faces


def _whole(image: np.ndarray) -> Box:
    """The box of the whole image (for images that are already face crops)."""
    if image.ndim < 2 or 0 in image.shape[:2]:
        raise ValueError(f"image must be H x W[ x C], got shape {image.shape}")
    return (0, 0, image.shape[1], image.shape[0])


def _result(box: Box, probs: np.ndarray, classes: Sequence[str]) -> FaceResult:
    return FaceResult(tuple(int(v) for v in box), probs, classes[int(np.argmax(probs))])
