"""MediaPipe FaceMesh on face crops: the shipped ``face_landmark.tflite`` run by LiteRT, batch extraction, a cache.

The model (``fer/assets/face_landmark.tflite``, from the ``mediapipe==0.10.21`` wheel, Apache-2.0) takes a
192x192 RGB crop in ``[0, 1]`` and returns 468 points ``(x, y, z)`` in crop pixels (1,404 values; ``z`` is
depth on roughly the same scale as ``x``) and a face-presence logit. It expects a face that fills about
two thirds of the crop, so a tight face crop (a 48x48 FER2013 face) gets a replicated border first:
``margin=0.25`` of the side (12 px at 48 px) lets the mesh fit 94% of the first 200 FER2013 training
faces with presence > 0.5. Points are returned in the pixel frame of the face as given (before margin).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fer.files import write_npz

ASSETS = Path(__file__).resolve().parents[1] / "assets"
#: The shipped FaceMesh model and its SHA-256 (checked on every load).
MODEL_PATH = ASSETS / "face_landmark.tflite"
MODEL_SHA256 = "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814"
#: Side of the model's square RGB input.
INPUT_SIZE = 192
NUM_POINTS = 468
#: A face whose presence probability (sigmoid of the logit) is below this is a mesh failure.
PRESENCE_THRESHOLD = 0.5
#: Replicated border added on each side before resizing, as a fraction of the face side.
DEFAULT_MARGIN = 0.25
#: Version of the extraction recipe; part of the cache key.
EXTRACTION_VERSION = 1


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_model(path: str | os.PathLike = MODEL_PATH, sha256: str = MODEL_SHA256) -> Path:
    """Check that the FaceMesh model file exists and has the expected SHA-256.

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: the file's SHA-256 differs (a corrupt or different file).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"FaceMesh model {str(path)!r} is missing; reinstall fer (it ships "
                                "fer/assets/face_landmark.tflite) or copy it from ../shared/models/")
    got = _sha256(path)
    if got != sha256:
        raise ValueError(f"FaceMesh model {str(path)!r} has sha256 {got[:12]}…, expected {sha256[:12]}…: the file is "
                         "corrupt or not mediapipe 0.10.21's face_landmark.tflite; restore it from ../shared/models/")
    return path


def _interpreter(path: Path, num_threads: int):
    """A TFLite interpreter: LiteRT's (``ai_edge_litert``) when installed, else ``tf.lite.Interpreter``."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter  # deprecated in favour of ai_edge_litert, still shipped in TF 2.21
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Interpreter(model_path=str(path), num_threads=int(num_threads))


def prepare_crops(faces: np.ndarray, margin: float = DEFAULT_MARGIN) -> tuple[np.ndarray, np.ndarray]:
    """Faces → the model's input: replicated border of ``margin`` × side, resize to 192x192, RGB in ``[0, 1]``.

    Args:
        faces: ``N x H x W x C`` (C = 1 or 3) or ``N x H x W`` ``uint8`` face crops (RGB order for C = 3).
        margin: border added on each side as a fraction of the face's width / height.

    Returns:
        ``(crops, scale_offset)``: ``float32 N x 192 x 192 x 3`` and ``float32 N x 4`` rows
        ``(sx, sy, ox, oy)`` with face pixel ``= crop pixel * s - o`` (see :func:`to_face_pixels`).
    """
    x = np.asarray(faces)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3, 4):
        raise ValueError(f"faces must be N x H x W x C with C in (1, 3, 4), got shape {x.shape}")
    n, h, w = x.shape[:3]
    my, mx = int(round(margin * h)), int(round(margin * w))
    crops = np.empty((n, INPUT_SIZE, INPUT_SIZE, 3), np.float32)
    for i in range(n):
        face = x[i]
        face = face[..., :3] if face.shape[-1] == 4 else face
        padded = cv2.copyMakeBorder(np.ascontiguousarray(face), my, my, mx, mx, cv2.BORDER_REPLICATE)
        resized = cv2.resize(padded, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_LINEAR)
        if resized.ndim == 2:
            resized = resized[..., None]
        crops[i] = resized if resized.shape[-1] == 3 else np.repeat(resized, 3, axis=-1)
    crops *= 1.0 / 255.0
    sx, sy = (w + 2 * mx) / INPUT_SIZE, (h + 2 * my) / INPUT_SIZE
    scale_offset = np.tile(np.array([[sx, sy, mx, my]], np.float32), (n, 1))
    return crops, scale_offset


def to_face_pixels(points: np.ndarray, scale_offset: np.ndarray) -> np.ndarray:
    """Map ``N x 468 x 3`` crop-pixel points back to face pixels (``z`` scaled like ``x``)."""
    sx, sy, ox, oy = (scale_offset[:, k, None] for k in range(4))
    out = np.empty_like(points, dtype=np.float32)
    out[..., 0] = points[..., 0] * sx - ox
    out[..., 1] = points[..., 1] * sy - oy
    out[..., 2] = points[..., 2] * sx
    return out


class FaceMesh:
    """MediaPipe FaceMesh over batches of crops, on several interpreters in parallel threads.

    Args:
        model_path: the ``.tflite`` file (default the shipped one; its SHA-256 is verified).
        workers: interpreters run side by side (TF Lite releases the GIL while it runs).
        num_threads: threads of each interpreter.
        batch_size: crops per ``invoke`` (the model's batch dimension is resized once).
        sha256: expected hash of ``model_path`` (``None`` skips the check, for another FaceMesh file).
    """

    def __init__(self, model_path: str | os.PathLike = MODEL_PATH, workers: int = 2, num_threads: int = 1,
                 batch_size: int = 8, sha256: str | None = MODEL_SHA256) -> None:
        path = verify_model(model_path, sha256) if sha256 else Path(model_path)
        if not path.is_file():
            raise FileNotFoundError(f"FaceMesh model {str(path)!r} is missing")
        self.path, self.workers, self.num_threads = path, max(1, int(workers)), max(1, int(num_threads))
        self.batch_size = max(1, int(batch_size))
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(self.workers) if self.workers > 1 else None

    def _runner(self):
        r = getattr(self._local, "runner", None)
        if r is None:
            it = _interpreter(self.path, self.num_threads)
            inp = it.get_input_details()[0]["index"]
            outs = {d["name"]: d["index"] for d in it.get_output_details()}
            if "conv2d_21" not in outs or "conv2d_31" not in outs:
                raise ValueError(f"{str(self.path)!r} is not a FaceMesh model: outputs {sorted(outs)}, expected "
                                 "conv2d_21 (landmarks) and conv2d_31 (presence)")
            it.resize_tensor_input(inp, [self.batch_size, INPUT_SIZE, INPUT_SIZE, 3])
            it.allocate_tensors()
            r = self._local.runner = (it, inp, outs["conv2d_21"], outs["conv2d_31"])
        return r

    def _run_chunk(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        it, inp, out_pts, out_score = self._runner()
        n = len(crops)
        pts = np.empty((n, NUM_POINTS * 3), np.float32)
        logit = np.empty(n, np.float32)
        for s in range(0, n, self.batch_size):
            part = crops[s:s + self.batch_size]
            k = len(part)
            if k < self.batch_size:  # pad the last batch to the allocated size
                part = np.concatenate([part, np.zeros((self.batch_size - k, *part.shape[1:]), np.float32)])
            it.set_tensor(inp, np.ascontiguousarray(part))
            it.invoke()
            pts[s:s + k] = it.get_tensor(out_pts).reshape(self.batch_size, -1)[:k]
            logit[s:s + k] = it.get_tensor(out_score).reshape(-1)[:k]
        return pts.reshape(n, NUM_POINTS, 3), logit

    def run_crops(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``float32 N x 192 x 192 x 3`` crops in ``[0, 1]`` →
        (``N x 468 x 3`` crop-pixel points, ``N`` presence logits)."""
        crops = np.asarray(crops, np.float32)
        if crops.ndim != 4 or crops.shape[1:] != (INPUT_SIZE, INPUT_SIZE, 3):
            raise ValueError(f"crops must be N x {INPUT_SIZE} x {INPUT_SIZE} x 3 floats in [0, 1], got {crops.shape}; "
                             "use FaceMesh.__call__ or prepare_crops for face images")
        if self._pool is None or len(crops) <= self.batch_size:
            return self._run_chunk(crops)
        chunks = np.array_split(crops, self.workers)
        results = list(self._pool.map(self._run_chunk, chunks))
        return np.concatenate([r[0] for r in results]), np.concatenate([r[1] for r in results])

    def __call__(self, faces: np.ndarray, margin: float = DEFAULT_MARGIN) -> tuple[np.ndarray, np.ndarray]:
        """``uint8`` faces → (``float32 N x 468 x 3`` points in face pixels, ``float32 N`` presence probabilities)."""
        crops, so = prepare_crops(faces, margin)
        pts, logit = self.run_crops(crops)
        return to_face_pixels(pts, so), presence_probability(logit)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


def presence_probability(logit: np.ndarray) -> np.ndarray:
    """Sigmoid of the presence logit, computed without overflow."""
    logit = np.asarray(logit, np.float64)
    return (0.5 * (1.0 + np.tanh(0.5 * logit))).astype(np.float32)


@dataclass
class Landmarks:
    """Raw FaceMesh output for a set of faces.

    Attributes:
        points: ``float32 N x 468 x 3`` in face pixels (x right, y down, z depth scaled like x).
        presence: ``float32 N`` face-presence probabilities; below :data:`PRESENCE_THRESHOLD` = failed mesh.
        settings: what produced them (model sha256, margin, version), the cache key's content.
    """

    points: np.ndarray
    presence: np.ndarray
    settings: dict

    @property
    def failed(self) -> np.ndarray:
        """Boolean ``N``: faces whose mesh failed (presence below the threshold)."""
        return self.presence < PRESENCE_THRESHOLD


def default_cache_dir() -> Path:
    """``$FER_CACHE_DIR/landmarks`` when set, else ``~/.cache/fer/landmarks``."""
    root = os.environ.get("FER_CACHE_DIR")
    return (Path(root) if root else Path.home() / ".cache" / "fer") / "landmarks"


def cache_key(faces: np.ndarray, settings: dict) -> str:
    """SHA-256 of the faces' pixels and shape together with the extraction settings (hex)."""
    h = hashlib.sha256()
    h.update(json.dumps(settings, sort_keys=True).encode())
    h.update(repr(tuple(faces.shape)).encode())
    flat = np.ascontiguousarray(faces)
    step = 4096
    for s in range(0, len(flat), step):
        h.update(flat[s:s + step].tobytes())
    return h.hexdigest()


def extract_landmarks(faces: np.ndarray, *, margin: float = DEFAULT_MARGIN, cache_dir: str | os.PathLike | None = None,
                      use_cache: bool = True, workers: int = 2, num_threads: int = 1, batch_size: int = 8,
                      chunk: int = 512, progress: bool = True, source_sha256: str | None = None,
                      mesh: FaceMesh | None = None) -> Landmarks:
    """FaceMesh landmarks of every face, cached as ``<cache_dir>/landmarks-<key>.npz``.

    The cache key is the SHA-256 of the faces' pixels (so a whole source file and any sample or subset
    of it get their own entry, and a changed file never reuses a stale one) and of the settings
    (model sha256, margin, recipe version). The file is written atomically and reused by the next call.

    Args:
        faces: ``uint8 N x H x W x C`` face crops.
        margin: see :func:`prepare_crops`.
        cache_dir: default :func:`default_cache_dir`.
        use_cache: read and write the cache.
        workers, num_threads, batch_size: see :class:`FaceMesh`.
        chunk: faces prepared at once (bounds memory: 512 crops are 226 MB).
        progress: a tqdm progress bar on stderr.
        source_sha256: recorded in the cache file for provenance (e.g. the CSV's hash).
        mesh: an existing :class:`FaceMesh` to use instead of making one.

    Returns:
        :class:`Landmarks` (presence kept per face; failed meshes are *not* dropped).
    """
    faces = np.asarray(faces)
    settings = {"model_sha256": MODEL_SHA256, "margin": float(margin), "version": EXTRACTION_VERSION,
                "input_size": INPUT_SIZE}
    path = None
    if use_cache and len(faces):
        key = cache_key(faces, settings)
        path = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        path = path / f"landmarks-{key[:24]}.npz"
        if path.is_file():
            try:
                with np.load(path) as z:
                    if str(z["key"]) == key:
                        return Landmarks(z["points"], z["presence"], settings)
            except (OSError, ValueError, KeyError) as err:
                print(f"[fer.landmarks] ignoring unreadable cache {path}: {err}", file=sys.stderr)
        found = _from_other_entries(faces, path.parent, settings)
        if found is not None:  # a subset or sample of faces already extracted (e.g. --train-size)
            return Landmarks(*found, settings)
    own = mesh is None
    mesh = mesh or FaceMesh(workers=workers, num_threads=num_threads, batch_size=batch_size)
    n = len(faces)
    points = np.empty((n, NUM_POINTS, 3), np.float32)
    presence = np.empty(n, np.float32)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n, desc="FaceMesh landmarks", unit="face", file=sys.stderr, mininterval=2.0)
    t0 = time.perf_counter()
    try:
        for s in range(0, n, chunk):
            points[s:s + chunk], presence[s:s + chunk] = mesh(faces[s:s + chunk], margin)
            if bar is not None:
                bar.update(min(chunk, n - s))
    finally:
        if bar is not None:
            bar.close()
        if own:
            mesh.close()
    seconds = time.perf_counter() - t0
    if path is not None:
        write_npz(path, points=points, presence=presence, key=np.array(key), face_keys=_face_keys(faces),
                         settings=np.array(json.dumps(settings)), source_sha256=np.array(source_sha256 or ""),
                         seconds=np.array(seconds))
    return Landmarks(points, presence, {**settings, "seconds": seconds})


def _face_keys(faces: np.ndarray) -> np.ndarray:
    """One ``int64`` per face: equal keys ⇔ identical pixels (see :func:`fer.data.hashing.exact_keys`)."""
    from fer.data.hashing import exact_keys

    return exact_keys(np.asarray(faces))


def _from_other_entries(faces: np.ndarray, folder: Path, settings: dict):
    """``(points, presence)`` of ``faces`` gathered from one cache entry holding all of them, else ``None``."""
    if not folder.is_dir():
        return None
    wanted = None
    for entry in sorted(folder.glob("landmarks-*.npz")):
        try:
            with np.load(entry) as z:
                if "face_keys" not in z.files or json.loads(str(z["settings"])) != settings:
                    continue
                if wanted is None:
                    wanted = _face_keys(faces)
                keys = z["face_keys"]
                order = np.argsort(keys, kind="stable")
                pos = np.searchsorted(keys[order], wanted)
                pos = np.minimum(pos, len(keys) - 1)
                rows = order[pos]
                if not np.array_equal(keys[rows], wanted):
                    continue
                return z["points"][rows], z["presence"][rows]
        except (OSError, ValueError, KeyError):
            continue
    return None
