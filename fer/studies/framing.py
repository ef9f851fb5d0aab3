"""Calibrate the face crop to FER2013's framing from data (writes ``results/framing_calibration.json``).

::

    python -m fer study framing [--data fer2013.csv.gz] [--ckplus CK+48]

FER2013's 48x48 faces were cropped by an unknown detector. To frame our crops the same way we paste
FER2013 *training* faces, upscaled to 96-160 px, into larger canvases (replicated or blurred edges)
at known places, detect them with YuNet, and measure where the original 48x48 square lies relative to
YuNet's eye landmarks (in the eye-aligned frame, in units of the inter-ocular distance ``d``) and
relative to YuNet's box. The median over the fit faces gives :data:`fer.inference.alignment.FRAMING`;
the residuals are measured on held-out training faces (framing IoU, centre and scale errors).

The check (nothing is tuned on it): the shipped classifier's accuracy on CK+ faces (and, optionally,
FER2013 PublicTest faces) pasted into canvases the same way and re-detected, with the calibrated
aligned crop, YuNet's raw box, and Haar + 10% margin, next to the accuracy on the original crops.
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np

from fer.environment import load_average
from fer.inference.alignment import aligned_crop, eye_geometry, face_square, framing_square, region_iou
from fer.inference.detection import Face, YuNetDetector, crop_face, haar_available, make_detector

RESULTS = Path(__file__).resolve().parents[2] / "results" / "framing_calibration.json"
DEFAULT_FER = Path("../shared/data/fer2013/fer2013.csv.gz")
DEFAULT_CKPLUS = Path("../shared/data/ckplus/CK+48")


def composite(face: np.ndarray, rng: np.random.Generator, *, side: tuple[int, int] = (96, 160),
              pad: tuple[float, float] = (0.35, 1.0)) -> tuple[np.ndarray, tuple[float, float, float]]:
    """``face`` (gray or BGR) upscaled to a random side, pasted into a larger BGR canvas.

    The background continues the face's edges (replicated), blurred in half of the canvases.

    Returns:
        The canvas and the pasted square ``(x, y, side)`` in canvas pixels.
    """
    s = int(rng.integers(side[0], side[1] + 1))
    big = cv2.resize(face, (s, s), interpolation=cv2.INTER_CUBIC)
    if big.ndim == 2:
        big = cv2.cvtColor(big, cv2.COLOR_GRAY2BGR)
    top, bottom, left, right = (int(round(rng.uniform(*pad) * s)) for _ in range(4))
    canvas = cv2.copyMakeBorder(big, top, bottom, left, right, cv2.BORDER_REPLICATE)
    if rng.random() < 0.5:
        blurred = cv2.GaussianBlur(canvas, (0, 0), s / 8)
        inside = np.zeros(canvas.shape[:2], np.uint8)
        inside[top:top + s, left:left + s] = 1
        canvas = np.where(inside[..., None] > 0, canvas, blurred)
    return np.ascontiguousarray(canvas), (float(left), float(top), float(s))


def _best(faces: list[Face], square: tuple[float, float, float]) -> Face | None:
    x, y, s = square
    best, best_iou = None, 0.2
    for f in faces:
        iou = _iou(f.box, (x, y, s, s))
        if iou > best_iou:
            best, best_iou = f, iou
    return best


def _iou(a, b) -> float:
    iw = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def _rotated_iou(centre, side: float, angle: float, square: tuple[float, float, float]) -> float:
    x, y, s = square
    return region_iou(((float(centre[0]), float(centre[1])), (side, side), math.degrees(angle)),
                      ((x + s / 2, y + s / 2), (s, s), 0.0))


def measure(faces: np.ndarray, detector: YuNetDetector, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per detected face: the true square relative to the eyes (``dx``, ``dy``, ``scale``) and to the box."""
    rows = []
    for face in faces:
        canvas, square = composite(face, rng)
        found = _best(detector.detect(canvas), square)
        if found is None:
            rows.append([np.nan] * 9)
            continue
        x, y, s = square
        centre = np.array([x + s / 2, y + s / 2])
        mid, d, angle = eye_geometry(found.landmarks)
        c, sn = math.cos(angle), math.sin(angle)
        u = np.array([[c, sn], [-sn, c]]) @ (centre - mid) / d  # the true centre in the eye frame, units of d
        bx, by, bw, bh = found.box
        rows.append([u[0], u[1], s / d, (centre[0] - bx - bw / 2) / bw, (centre[1] - by - bh / 2) / bh, s / bw,
                     x, y, s])
    arr = np.asarray(rows, dtype=np.float64).reshape(-1, 9)
    keys = ["dx", "dy", "scale", "box_dx", "box_dy", "box_scale", "x", "y", "s"]
    return {k: arr[:, i] for i, k in enumerate(keys)}


def residuals(faces: np.ndarray, detector: YuNetDetector, framing: dict, box_framing: dict,
              rng: np.random.Generator) -> dict:
    """Framing errors of the eye-based and box-based fits on held-out faces."""
    eye, box, centre_err, scale_err, tilt = [], [], [], [], []
    missed = 0
    for face in faces:
        canvas, square = composite(face, rng)
        found = _best(detector.detect(canvas), square)
        if found is None:
            missed += 1
            continue
        x, y, s = square
        centre, side, angle = framing_square(found.landmarks, framing)
        eye.append(_rotated_iou(centre, side, angle, square))
        centre_err.append(float(np.hypot(*(centre - (x + s / 2, y + s / 2)))) / s)
        scale_err.append(side / s - 1)
        tilt.append(math.degrees(angle))
        bc, bs, _ = face_square(found, "box", box_framing)  # the box-based square, kept upright here
        box.append(_iou((bc[0] - bs / 2, bc[1] - bs / 2, bs, bs), (x, y, s, s)))
    q = lambda v: {"mean": round(float(np.mean(v)), 4), "median": round(float(np.median(v)), 4),  # noqa: E731
                   "p10": round(float(np.percentile(v, 10)), 4), "p90": round(float(np.percentile(v, 90)), 4)}
    return {"faces": len(faces), "detected": len(faces) - missed,
            "eye_framing_iou": q(eye), "box_framing_iou": q(box),
            "eye_centre_error_over_side": q(centre_err), "eye_scale_error": q(scale_err),
            "eye_line_tilt_deg_of_fer_faces": q(tilt)}


def check_accuracy(images: np.ndarray, labels: np.ndarray, classifier, rng: np.random.Generator,
                   yunet: YuNetDetector, framing: dict | None = None, box_framing: dict | None = None) -> dict:
    """Accuracy of ``classifier`` on ``images`` pasted into canvases and re-detected, crop by crop method
    (``yunet_aligned_box_framed``: the crop's centre and side from the box, levelled by the eyes)."""
    haar = make_detector("haar") if haar_available() else None
    crops: dict[str, list] = {"original_crop": [], "yunet_aligned_calibrated": [], "yunet_aligned_box_framed": [],
                              "yunet_raw_box": [], "haar_box_margin_0.1": []}
    found: dict[str, list[bool]] = {k: [] for k in crops}
    for face in images:
        canvas, square = composite(face, rng)
        crops["original_crop"].append(face)
        found["original_crop"].append(True)
        hit = _best(yunet.detect(canvas), square)
        for key in ("yunet_aligned_calibrated", "yunet_aligned_box_framed", "yunet_raw_box"):
            found[key].append(hit is not None)
        crops["yunet_aligned_calibrated"].append(aligned_crop(canvas, hit, framing) if hit is not None else face)
        crops["yunet_aligned_box_framed"].append(aligned_crop(canvas, hit, box_framing, square_from="box")
                                                 if hit is not None else face)
        crops["yunet_raw_box"].append(crop_face(canvas, hit.box, 0.0) if hit is not None else face)
        if haar is not None:
            boxes = [Face(b, None, 1.0) for b in haar(canvas)]
            hh = _best(boxes, square)
            found["haar_box_margin_0.1"].append(hh is not None)
            crops["haar_box_margin_0.1"].append(crop_face(canvas, hh.box, 0.1) if hh is not None else face)
    out = {}
    for key, faces in crops.items():
        if not faces:
            out[key] = None
            continue
        pred = classifier.predict(faces).argmax(1)
        ok = np.asarray(found[key])
        correct = (pred == labels) & ok  # a missed face counts as wrong
        out[key] = {"detected": round(float(ok.mean()), 4), "accuracy_all": round(float(correct.mean()), 4),
                    "accuracy_detected": round(float(correct[ok].mean()), 4) if ok.any() else None}
    return out


def run(data: Path, ckplus: Path | None, *, n_fit: int, n_check: int, n_public: int, seed: int,
        command: str | None = None) -> dict:
    """The whole calibration: fit on training faces, residuals on held-out training faces, accuracy checks."""
    from fer.data import load_ckplus, load_fer2013_csv
    from fer.inference.classifier import load_classifier
    from fer.labels import EMOTIONS
    from fer.provenance import command_line

    start = time.perf_counter()
    load = load_average()
    ds = load_fer2013_csv(data)
    rng = np.random.default_rng(seed)
    train = np.flatnonzero(ds.split == "train")
    pick = rng.permutation(train)[: n_fit + n_check]
    fit_idx, check_idx = pick[:n_fit], pick[n_fit:]
    yunet = YuNetDetector(max_side=None)
    m = measure(ds.images[fit_idx, ..., 0], yunet, rng)
    ok = np.isfinite(m["dx"])
    med = {k: float(np.median(m[k][ok])) for k in ("dx", "dy", "scale", "box_dx", "box_dy", "box_scale")}
    mad = {k: float(np.median(np.abs(m[k][ok] - med[k]))) for k in med}
    framing = {"dx": round(med["dx"], 4), "dy": round(med["dy"], 4), "scale": round(med["scale"], 4)}
    box_framing = {"dx": round(med["box_dx"], 4), "dy": round(med["box_dy"], 4), "scale": round(med["box_scale"], 4)}
    held = residuals(ds.images[check_idx, ..., 0], yunet, framing, box_framing, rng)
    clf = load_classifier()
    checks: dict = {}
    if ckplus is not None and Path(ckplus).exists():
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ck = load_ckplus(ckplus, classes=EMOTIONS, on_error="skip")
        checks["ckplus"] = {"faces": len(ck.labels),
                            **check_accuracy(ck.images[..., 0], ck.labels, clf, rng, yunet, framing, box_framing)}
    if n_public:
        val = rng.permutation(np.flatnonzero(ds.split == "val"))[:n_public]
        checks["fer2013_publictest_sample"] = {"faces": len(val), **check_accuracy(
            ds.images[val, ..., 0], ds.labels[val], clf, rng, yunet, framing, box_framing)}
    return {
        "command": command or command_line(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "dataset": {"fit": f"FER2013 Training, {n_fit} random faces ({data})",
                    "held_out": f"FER2013 Training, {n_check} other random faces",
                    "checks": "CK+48 (7 FER2013 emotions, contempt left out); a random FER2013 PublicTest "
                              "sample (checked only, nothing tuned on it)"},
        "seed": seed,
        "canvas": "face upscaled (cubic) to 96-160 px, padded 0.35-1.0 x side per edge by edge replication, "
                  "the padding Gaussian-blurred in half of the canvases; YuNet at full resolution",
        "model": "YuNet yunet_s_640_640.onnx (cv2.FaceDetectorYN, score >= 0.6)",
        "opencv": cv2.__version__,
        "load_average_before": load,
        "framing": framing,
        "framing_meaning": "crop centre = eye midpoint + R(eye angle) @ (dx, dy) * d, side = scale * d, "
                           "d = inter-ocular distance; the crop is rotated so the eyes are level",
        "box_framing": box_framing,
        "box_framing_meaning": "alternative from the box: centre = box centre + (dx * w, dy * h), side = scale * w",
        "fit": {"faces": int(n_fit), "detected": int(ok.sum()),
                "median_absolute_deviation": {k: round(v, 4) for k, v in mad.items()}},
        "held_out_residuals": held,
        "accuracy_checks": checks,
        "seconds": round(time.perf_counter() - start, 1),
    }
