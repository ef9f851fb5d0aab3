"""Use a trained model outside training: classify face crops, find faces, draw, process images and videos.

Quick start::

    from fer.inference import load_classifier, detect_and_predict, draw_predictions
    clf = load_classifier()                      # the shipped models/fer2013_default.keras
    image = cv2.imread("photo.jpg")              # BGR, as OpenCV reads it
    results = detect_and_predict(image, clf)     # [(box, probs, label), ...]
    cv2.imwrite("annotated.jpg", draw_predictions(image, results, clf.classes))

Command line (wired into ``python -m fer``)::

    python -m fer predict                        # the demo photo shipped in fer/assets/
    python -m fer predict photo.jpg faces/ clip.mp4 --out predictions/ [--tta] [--model FILE]
    python -m fer webcam [--camera 0] [--detector haar] [--smooth 0.5]

The package follows the data, one module a step (each module's docstring holds its conventions):

* :mod:`~fer.inference.runtimes` — load and run a ``.keras`` / ``.tflite`` / ``.onnx`` model, read
  the metadata of exported files;
* :mod:`~fer.inference.classifier` — :class:`Classifier`: face crops of any size and colour in,
  class probabilities out; :func:`load_classifier`;
* :mod:`~fer.inference.detection` — :class:`YuNetDetector` (default: boxes + 5 landmarks; one fast pass for
  video, photo mode for single images), :class:`FaceDetector` (Haar cascade, ``detector="haar"``),
  :func:`make_detector`, :func:`crop_face`;
* :mod:`~fer.inference.photo_mode` — photo mode's pyramid scales, rotated passes and the mapping back;
* :mod:`~fer.inference.alignment` — eyes level, crop framed like FER2013 (:func:`aligned_crop`);
* :mod:`~fer.inference.tracking` — :class:`IoUTracker`: face identities across video frames;
* :mod:`~fer.inference.drawing` — boxes, labels and probability bars on the image;
* :mod:`~fer.inference.pipeline` — detect → align + crop → classify → draw, :class:`FaceResult`;
* :mod:`~fer.inference.video` — videos frame by frame and their emotion timeline;
* :mod:`~fer.inference.files` — images, folders and videos in; annotated copies and predictions.csv/json out;
* :mod:`~fer.inference.live` — a camera or stream, live in a window (optionally recorded).

The commands ``python -m fer predict`` / ``webcam`` are :mod:`fer.cli.predict`.
"""

from fer.class_names import attach_class_names, class_names
from fer.inference.alignment import BOX_FRAMING, FRAMING, aligned_crop
from fer.inference.classifier import DEFAULT_MODEL, Classifier, load_classifier
from fer.inference.detection import (
    DETECTORS,
    LIVE_DETECTOR,
    Box,
    Face,
    FaceDetector,
    HaarDetector,
    YuNetDetector,
    crop_face,
    detect_faces,
    haar_available,
    make_detector,
)
from fer.inference.drawing import draw_predictions
from fer.inference.files import DEMO_IMAGE, expand_inputs, predict_files
from fer.inference.live import run_camera
from fer.inference.pipeline import FaceResult, annotate, detect_and_predict, predict_images
from fer.inference.runtimes import load_keras_model, read_metadata
from fer.inference.tracking import IoUTracker
from fer.inference.video import plot_timeline, predict_video

__all__ = [
    "BOX_FRAMING", "DEFAULT_MODEL", "DEMO_IMAGE", "DETECTORS", "FRAMING", "LIVE_DETECTOR", "Box", "Classifier",
    "Face", "FaceDetector",
    "FaceResult", "HaarDetector", "IoUTracker", "YuNetDetector", "aligned_crop", "haar_available", "make_detector",
    "attach_class_names", "class_names", "load_classifier", "load_keras_model", "read_metadata",
    "detect_faces", "crop_face", "detect_and_predict", "predict_images", "annotate", "draw_predictions",
    "plot_timeline", "predict_video", "expand_inputs", "predict_files", "run_camera",
]
