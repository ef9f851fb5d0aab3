"""Landmark inputs for the existing tools: datasets of landmarks, training / evaluation hooks, and prediction.

Its names: ``LandmarkDataset``, ``landmark_dataset(ds)``, ``prepare_landmark_inputs``, ``evaluate_landmark_model``,
``landmark_predict_fn`` and ``LandmarkRuntime`` (a landmark model behind :class:`fer.inference.Classifier`).

A :class:`LandmarkDataset` is a :class:`fer.data.Dataset` whose ``images`` are normalised FaceMesh
landmarks (``float32 N x 468 x 3``), with the presence score of each face. Faces whose mesh failed
(presence below :data:`~fer.landmarks.facemesh.PRESENCE_THRESHOLD`) are never dropped: they get the
stated fallback, the mean normalised FER2013 training face (:func:`~fer.landmarks.geometry.mean_face`),
so a model still predicts for them, and every evaluation reports how many there were.

:class:`fer.data.FERSequence` asks a dataset with a ``batch_inputs`` method for its batches, so
``train()`` and ``evaluate()`` need one call each (:func:`prepare_landmark_inputs`,
:func:`evaluate_landmark_model`) to train and score landmark and fusion models.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import keras
import numpy as np

from fer.data.dataset import Dataset
from fer.landmarks.facemesh import DEFAULT_MARGIN, MODEL_SHA256, PRESENCE_THRESHOLD, FaceMesh, extract_landmarks
from fer.landmarks.geometry import augment_landmarks, mean_face, mirror_landmarks, normalize_landmarks

#: Registered models that take landmarks only, and those that take an image and landmarks.
LANDMARK_MODELS: tuple[str, ...] = ("landmark_mlp", "landmark_transformer", "landmark_gnn")
FUSION_MODELS: tuple[str, ...] = ("fer_landmark_fusion",)
#: Name of the landmark input layer of every landmark model.
LANDMARK_INPUT = "landmarks"
#: The landmark augmentation ``train`` uses for ``augment=True`` (an :class:`fer.data.Augment` as a dict):
#: mirror with the left/right permutation, ±5° roll, ±5% scale; no shift or photometric change.
LANDMARK_AUGMENT = {"rotation": 5.0, "shift": 0.0, "zoom": 0.05, "flip": True, "brightness": 0.0,
                    "contrast": 0.0, "erase": 0.0}
FALLBACK = "mean normalised FER2013 training face (fer/assets/facemesh_reference.npz)"


@dataclass
class LandmarkDataset(Dataset):
    """A :class:`~fer.data.Dataset` whose ``images`` are normalised landmarks ``float32 N x P x D``.

    Extra attributes:
        presence: ``float32 N`` FaceMesh presence probability of each face.
        faces: the original ``uint8`` face images (kept for the fusion model), or ``None``.
    """

    presence: np.ndarray | None = None
    faces: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.images)
        if self.images.ndim != 3 or self.images.shape[-1] not in (2, 3) or not np.issubdtype(self.images.dtype,
                                                                                            np.floating):
            raise ValueError(f"LandmarkDataset.images must be float N x 468 x 3 (or x 2) landmarks, got "
                             f"{self.images.dtype} {self.images.shape}; "
                             "build it with fer.landmarks.landmark_dataset(ds)")
        for name in ("labels", "split", "source", "origin", "soft_labels", "groups", "presence", "faces"):
            value = getattr(self, name)
            if value is not None and len(value) != n:
                raise ValueError(f"{name} has {len(value)} rows but images has {n}")
        self.classes = tuple(self.classes)

    @property
    def failed(self) -> np.ndarray:
        """Boolean ``N``: faces whose mesh failed and hold the fallback face."""
        if self.presence is None:
            return np.zeros(len(self), bool)
        return self.presence < PRESENCE_THRESHOLD

    def select(self, mask: np.ndarray) -> LandmarkDataset:
        def take(a):
            return None if a is None else a[mask]
        return LandmarkDataset(self.images[mask], self.labels[mask], self.split[mask], self.source[mask],
                               self.origin[mask], self.classes, take(self.soft_labels), take(self.groups),
                               dict(self.meta), take(self.presence), take(self.faces))

    def batch_inputs(self, idx: np.ndarray, rng: np.random.Generator, augment=None, image_shape=None):
        """Model inputs for rows ``idx``: landmarks (augmented when ``augment`` is an Augment), or
        ``{"image", "landmarks"}`` when ``image_shape`` is an image's ``(H, W, C)`` and the dataset keeps its
        faces (the fusion model: a mirrored face gets mirrored landmarks)."""
        pts = self.images[idx].astype(np.float32)
        fusion = self.faces is not None and image_shape is not None and len(image_shape) == 3
        flips = None
        if augment is not None:
            if fusion and augment.flip:
                flips = rng.random(len(idx)) < 0.5
                if flips.any():
                    pts[flips] = mirror_landmarks(pts[flips])
            pts = augment_landmarks(pts, rng, rotation=augment.rotation, zoom=augment.zoom,
                                    flip=bool(augment.flip) and not fusion)
        if not fusion:
            return pts
        from fer.preprocess import fit_to_model

        img = self.faces[idx]
        if flips is not None and flips.any():
            img = img.copy()
            img[flips] = img[flips][:, :, ::-1]
        img = fit_to_model(img, image_shape)
        return {"image": img, LANDMARK_INPUT: pts}


def landmark_dataset(ds: Dataset, *, keep_z: bool = True, keep_faces: bool = False, margin: float = DEFAULT_MARGIN,
                     cache_dir=None, progress: bool = True) -> LandmarkDataset:
    """The landmark version of ``ds``: same rows, labels and splits, ``images`` = normalised FaceMesh landmarks.

    Landmarks come from :func:`~fer.landmarks.facemesh.extract_landmarks` (cached: the first call on a
    dataset runs FaceMesh on every face, later calls read the cache), then
    :func:`~fer.landmarks.geometry.normalize_landmarks`. Failed meshes get :data:`FALLBACK`; a line
    on stderr says how many per split, and ``meta["landmarks"]`` records it.

    Args:
        ds: any dataset of face crops (a :class:`LandmarkDataset` is returned as it is).
        keep_z: keep the depth coordinate (``N x 468 x 3``) or not (``N x 468 x 2``).
        keep_faces: keep the face images too (for ``fer_landmark_fusion``).
        margin, cache_dir, progress: see :func:`~fer.landmarks.facemesh.extract_landmarks`.
    """
    if isinstance(ds, LandmarkDataset):
        if keep_faces and ds.faces is None:
            raise ValueError("landmark_dataset(keep_faces=True) got a LandmarkDataset without faces; "
                             "pass the image Dataset instead")
        return ds
    lm = extract_landmarks(ds.images, margin=margin, cache_dir=cache_dir, progress=progress)
    pts = normalize_landmarks(lm.points, keep_z=keep_z)
    failed = lm.failed
    pts[failed] = mean_face(keep_z)
    per_split = {s: int(failed[ds.split == s].sum()) for s in ds.splits()}
    info = {"presence_threshold": PRESENCE_THRESHOLD, "failed": per_split, "fallback": FALLBACK,
            "keep_z": keep_z, "margin": margin, "facemesh_sha256": MODEL_SHA256}
    print(f"[fer.landmarks] FaceMesh failed (presence < {PRESENCE_THRESHOLD}) on {int(failed.sum())} of {len(ds)} "
          f"faces {per_split}; they get the {FALLBACK}", file=sys.stderr)
    return LandmarkDataset(pts, ds.labels, ds.split, ds.source, ds.origin, ds.classes, ds.soft_labels, ds.groups,
                           {**ds.meta, "landmarks": info}, lm.presence, ds.images if keep_faces else None)


def is_landmark_model(model: keras.Model | str) -> bool:
    """True for a landmark or fusion model: a registered name from :data:`LANDMARK_MODELS` /
    :data:`FUSION_MODELS`, or a Keras model with an input named ``landmarks``."""
    if isinstance(model, str):
        return model in LANDMARK_MODELS + FUSION_MODELS
    return LANDMARK_INPUT in _input_names(model)


def _input_names(model: keras.Model) -> list[str]:
    return [t.name.split(":")[0] for t in model.inputs]


def prepare_landmark_inputs(ds: Dataset, cfg):
    """``(ds, cfg)`` ready for ``train``: unchanged for an image model; for a landmark model the
    :func:`landmark_dataset` of ``ds`` and ``cfg`` with ``augment=True`` replaced by :data:`LANDMARK_AUGMENT`.

    Raises:
        ValueError: mixup or soft labels asked of the two-input fusion model.
    """
    if not is_landmark_model(cfg.model):
        return ds, cfg
    fusion = cfg.model in FUSION_MODELS
    shape = cfg.model_options.get("landmark_shape") if fusion else cfg.input_shape
    keep_z = shape is None or int(shape[-1]) == 3
    if fusion and cfg.mixup_alpha > 0:
        raise ValueError(f"mixup_alpha={cfg.mixup_alpha} (--mixup) cannot train {cfg.model!r}: "
                         "it has two inputs; use 0")
    if fusion and cfg.loss == "arcface":
        raise ValueError(f"loss='arcface' cannot train {cfg.model!r} (two inputs); use categorical_crossentropy")
    lds = landmark_dataset(ds, keep_z=keep_z, keep_faces=fusion)
    return lds, landmark_config(cfg)


def landmark_config(cfg):
    """``cfg`` with ``augment=True`` replaced by :data:`LANDMARK_AUGMENT`, as a landmark model's run records it."""
    return replace(cfg, augment=dict(LANDMARK_AUGMENT)) if cfg.augment is True else cfg


def _stored_classes(model: keras.Model):
    from fer.evaluate import _stored_classes as stored

    return stored(model)


def _image_shape(model: keras.Model):
    for t in model.inputs:
        if t.name.split(":")[0] == "image":
            return tuple(t.shape[1:])
    return None


def _mirror_inputs(x):
    if isinstance(x, dict):
        return {"image": x["image"][:, :, ::-1], LANDMARK_INPUT: mirror_landmarks(x[LANDMARK_INPUT])}
    return mirror_landmarks(x)


def predict_landmark_proba(model: keras.Model, ds: LandmarkDataset, batch_size: int = 256,
                           tta: bool = False) -> np.ndarray:
    """Class probabilities of a landmark (or fusion) model for every row of a :class:`LandmarkDataset`.

    ``tta=True`` averages them with those of the mirrored face (landmarks mirrored with the left/right
    permutation, and the image flipped for the fusion model).
    """
    image_shape = _image_shape(model)
    if image_shape is not None and ds.faces is None:
        raise ValueError(f"model {model.name!r} takes an image and landmarks but the LandmarkDataset has no faces; "
                         "build it with landmark_dataset(ds, keep_faces=True)")
    out = []
    for s in range(0, len(ds), batch_size):
        idx = np.arange(s, min(s + batch_size, len(ds)))
        x = ds.batch_inputs(idx, None, None, image_shape) if image_shape is not None else ds.images[idx]
        p = np.asarray(model(x, training=False), dtype=np.float32)
        if tta:
            p = 0.5 * (p + np.asarray(model(_mirror_inputs(x), training=False), dtype=np.float32))
        out.append(p)
    if not out:
        return np.zeros((0, model.output_shape[-1]), np.float32)
    return np.concatenate(out)


def evaluate_landmark_model(model: keras.Model, ds: Dataset, split: str = "val", classes: Sequence[str] | None = None,
                            tta=False, batch_size: int = 256) -> dict:
    """:func:`fer.evaluate.evaluate` for landmark and fusion models (which it calls this for).

    Extracts (or reads from the cache) the landmarks of ``ds`` when it is an image dataset, scores
    every face of ``split`` (failed meshes included, with the fallback face) and adds
    ``mesh_failures``, ``presence_threshold`` and ``mesh_fallback`` to the metrics.

    Raises:
        ValueError: a ``tta`` other than ``"flip"`` (mirrored landmarks; the image crops / shifts do not
            apply to landmarks), a missing split, or classes that differ from the model's.
    """
    from fer.evaluate import compute_metrics

    if tta not in (False, None, "none", "flip"):
        raise ValueError(f"tta={tta!r}: a landmark model has one test-time augmentation, 'flip' (the mirrored "
                         f"face); {model.name!r} takes landmarks, so use --tta flip or none")
    mirror = tta == "flip"
    if classes is not None and tuple(classes) != ds.classes:
        raise ValueError(f"classes {tuple(classes)} differ from the Dataset's classes {ds.classes}")
    fusion = _image_shape(model) is not None
    shape = next(t.shape for t in model.inputs if t.name.split(":")[0] == LANDMARK_INPUT)
    lds = landmark_dataset(ds, keep_z=int(shape[-1]) == 3, keep_faces=fusion)
    sub = lds.subset(split)
    n_out = model.output_shape[-1]
    if n_out != sub.num_classes:
        raise ValueError(f"model {model.name!r} outputs {n_out} classes but the data has "
                         f"{sub.num_classes} {sub.classes}")
    stored = _stored_classes(model)
    if stored and tuple(stored) != tuple(sub.classes):
        raise ValueError(f"model {model.name!r} was trained on classes {tuple(stored)} but the data's classes are "
                         f"{tuple(sub.classes)}; map the labels to the model's order (or pass the right dataset)")
    proba = predict_landmark_proba(model, sub, batch_size, tta=mirror)
    metrics = compute_metrics(sub.labels, proba, sub.classes, split=split)
    names, counts = np.unique(sub.source.astype(str), return_counts=True)
    failed = sub.failed
    metrics.update({"tta": "flip" if mirror else "none", "model": model.name, "dataset": ds.meta.get("name"),
                    "sources": {str(n): int(c) for n, c in zip(names, counts)},
                    "mesh_failures": int(failed.sum()), "presence_threshold": PRESENCE_THRESHOLD,
                    "mesh_fallback": FALLBACK,
                    "accuracy_mesh_ok": float((proba[~failed].argmax(1) == sub.labels[~failed]).mean())
                    if (~failed).any() else None})
    return metrics


class LandmarkPredictor:
    """``predictor(faces) -> probs`` for a landmark or fusion model: FaceMesh on the crops, normalise, predict.

    Args:
        model: a landmark model (input ``landmarks``) or the fusion model (inputs ``image`` + ``landmarks``).
        mesh: a :class:`~fer.landmarks.facemesh.FaceMesh` (default: a new one on the shipped model).
        margin: see :func:`~fer.landmarks.facemesh.prepare_crops`.
        batch_size: faces per forward pass.

    After each call, ``presence`` holds the faces' presence probabilities and ``failed`` which of them
    got the fallback face.
    """

    def __init__(self, model: keras.Model, mesh: FaceMesh | None = None, margin: float = DEFAULT_MARGIN,
                 batch_size: int = 256) -> None:
        if not is_landmark_model(model):
            raise ValueError(f"model {model.name!r} has no 'landmarks' input; landmark_predict_fn is for "
                             f"{LANDMARK_MODELS + FUSION_MODELS}")
        self.model, self.margin, self.batch_size = model, float(margin), int(batch_size)
        self.mesh = mesh or FaceMesh(workers=1, num_threads=2)
        shape = next(t.shape for t in model.inputs if t.name.split(":")[0] == LANDMARK_INPUT)
        self.keep_z = int(shape[-1]) == 3
        self.image_shape = _image_shape(model)
        self.presence = np.zeros(0, np.float32)
        self.failed = np.zeros(0, bool)

    def __call__(self, faces: np.ndarray) -> np.ndarray:
        """``uint8 N x H x W x C`` (or ``N x H x W``) face crops → ``float32 N x classes`` probabilities."""
        faces = np.asarray(faces)
        if faces.ndim == 3:
            faces = faces[..., None]
        if faces.ndim != 4:
            raise ValueError(f"faces must be N x H x W x C uint8 crops, got shape {faces.shape}; "
                             "for one face pass face[None]")
        if len(faces) == 0:
            return np.zeros((0, self.model.output_shape[-1]), np.float32)
        points, presence = self.mesh(faces, self.margin)
        pts = normalize_landmarks(points, keep_z=self.keep_z)
        failed = presence < PRESENCE_THRESHOLD
        pts[failed] = mean_face(self.keep_z)
        self.presence, self.failed = presence, failed
        n = len(faces)
        lds = LandmarkDataset(pts, np.zeros(n, int), np.array(["test"] * n), np.array(["input"] * n),
                              np.arange(n), tuple(f"c{i}" for i in range(self.model.output_shape[-1])),
                              presence=presence, faces=faces if self.image_shape is not None else None)
        return predict_landmark_proba(self.model, lds, self.batch_size)


#: The face crop a landmark-only model's classifier hands to FaceMesh: 48x48 gray, the size and framing of the
#: FER2013 crops its training landmarks were extracted from.
CROP_SHAPE: tuple[int, int, int] = (48, 48, 1)


class LandmarkRuntime:
    """A landmark or fusion model as the backend of a :class:`fer.inference.Classifier`.

    The classifier resizes every face crop to :attr:`input_shape` (:data:`CROP_SHAPE` for a landmark-only
    model, the image input for the fusion model) and calls this runtime, which runs FaceMesh on the crops
    (failed meshes get the mean face, as in evaluation) and then the model (see :class:`LandmarkPredictor`).

    Args:
        model: a landmark or fusion ``keras.Model``.
        **kwargs: passed to :class:`LandmarkPredictor` (``mesh``, ``margin``, ``batch_size``).

    Example:
        >>> import fer.models
        >>> from fer.inference import Classifier
        >>> clf = Classifier(LandmarkRuntime(fer.models.build("landmark_mlp")))  # doctest: +SKIP
        >>> clf.predict([face_crop]).shape  # doctest: +SKIP
        (1, 7)
    """

    def __init__(self, model: keras.Model, **kwargs) -> None:
        self.model = model
        self.predictor = LandmarkPredictor(model, **kwargs)
        self.input_shape: tuple[int, int, int] = tuple(self.predictor.image_shape or CROP_SHAPE)
        self.num_outputs = int(model.output_shape[-1])
        self.metadata: dict = {}

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``N x H x W x C`` float32 crops in ``[0, 255]`` → ``N x num_outputs`` float32 probabilities."""
        return self.predictor(np.clip(np.rint(np.asarray(x)), 0, 255).astype(np.uint8))


def landmark_predict_fn(model: keras.Model, **kwargs) -> Callable[[np.ndarray], np.ndarray]:
    """A callable ``faces (uint8 N x H x W x C) -> probs (float32 N x classes)`` for a landmark or fusion model.

    It runs FaceMesh itself (so :func:`fer.inference.load_classifier` can hand it face crops), with
    failed meshes replaced by the mean face (see :class:`LandmarkPredictor`, whose keyword arguments it takes).
    """
    return LandmarkPredictor(model, **kwargs)
