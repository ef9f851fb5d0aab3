"""The FastAPI app of ``python -m fer serve``: predict on uploads, a tracked webcam stream, and the page at ``/``.

Endpoints (see ``/docs`` for the OpenAPI description):

* ``POST /v1/predict[?model=NAME&tta=true&annotated=true]``: a JPEG / PNG / WebP image (multipart field
  ``file`` or the raw body) → one entry per face (box, label, probabilities), model, timing; with
  ``annotated=true`` the image with the boxes drawn, as a JPEG.
* ``GET /v1/models``: the loaded models (name, version, format, classes, input shape).
* ``GET /healthz``: liveness and load (requests in flight, capacity, open streams).
* ``WS /v1/stream[?model=NAME]``: send camera frames as binary JPEG / PNG / WebP messages, get one JSON
  answer per frame whose faces carry a ``track`` id kept across frames (:mod:`fer.inference.tracking`).
* ``GET /``: the page (``fer/serve/static/``): webcam or upload, boxes and probability bars.

Safe by default: uploads are capped in bytes and pixels and sniffed from their bytes
(:mod:`fer.serve.images`), nothing is written to disk, at most ``max_in_flight`` requests and stream
frames are worked on at once (the rest get a 503 at once), streams are refused to pages of other origins,
and every error is JSON
``{"error": CODE, "message": TEXT}``. Each model is loaded once (a ``.keras`` file as a frozen graph, see
:class:`ServeConfig`); its predictions are serialised by a lock (a TFLite interpreter is not thread-safe)
while decoding and face detection run in parallel on a small thread pool, each thread with its own
detectors, created once and reused by every request.

The app is one module (a little over 400 lines) so that its safety rules (limits, concurrency, origins,
error shapes) can be read and reviewed in one place; decoding lives in :mod:`fer.serve.images`.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import cv2
import numpy as np
from fastapi import FastAPI, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException

from fer.inference import DETECTORS, Classifier, detect_and_predict, draw_predictions, load_classifier, make_detector
from fer.inference.tracking import IoUTracker
from fer.provenance import file_sha256
from fer.serve.images import RequestError, decode_image
from fer.serve.uploads import body_limit, check_content_type, media_type, multipart_file, read_capped

STATIC = Path(__file__).resolve().parent / "static"
#: The page's Content-Security-Policy: everything from this server, camera frames as blob: URLs.
PAGE_CSP = ("default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob: mediastream:; "
            "connect-src 'self'; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; "
            "frame-ancestors 'none'")


@dataclass(frozen=True)
class ServeConfig:
    """The server's limits.

    Attributes:
        max_upload_bytes: largest upload (and stream frame) in bytes.
        max_pixels: largest image in pixels (width x height), checked before decoding.
        max_in_flight: requests + stream frames worked on at once; beyond it the answer is 503.
        workers: threads that decode, detect and classify.
        max_streams: open WebSocket streams at once.
        margin: crop margin around each detected face (Haar only; YuNet faces are aligned and framed).
        freeze: run the Keras models loaded from files as frozen graphs
            (:func:`~fer.inference.runtimes.frozen_predict`): less CPU per request, about a second more
            to start; classifiers passed in already loaded are served as they are.
        detector_name: ``"yunet"`` (default) or ``"haar"``.
        detector: settings for :func:`~fer.inference.make_detector` in ``/v1/predict`` (default: one
            upright pass, as ``python -m fer predict --fast-detect``: the photo mode of ``predict``,
            about 2 s per photo on 2 cores, would not meet the latency target); the stream always uses
            the live-video settings (:data:`~fer.inference.detection.LIVE_SETTINGS`) of ``python -m fer webcam``.
    """

    max_upload_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 40_000_000
    max_in_flight: int = 16
    workers: int = max(2, min(4, os.cpu_count() or 2))
    max_streams: int = 4
    margin: float = 0.1
    freeze: bool = True
    detector_name: str = "yunet"
    detector: dict = field(default_factory=dict)

    def __post_init__(self):
        for name in ("max_upload_bytes", "max_pixels", "max_in_flight", "workers", "max_streams"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.margin < 0:
            raise ValueError(f"margin must be >= 0, got {self.margin}")
        if self.detector_name not in DETECTORS:
            raise ValueError(f"detector_name must be one of {', '.join(DETECTORS)}, got {self.detector_name!r}")


class _Locked:
    """A classifier whose predictions run one at a time (the model is shared by every request)."""

    def __init__(self, classifier: Classifier):
        self._classifier = classifier
        self.lock = threading.Lock()
        self.classes = classifier.classes

    def predict(self, *args, **kwargs) -> np.ndarray:
        with self.lock:
            return self._classifier.predict(*args, **kwargs)

    def predict_prepared(self, *args, **kwargs) -> np.ndarray:
        with self.lock:
            return self._classifier.predict_prepared(*args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self._classifier, name)


@dataclass
class ModelEntry:
    """One served model: its public description and the shared, locked classifier."""

    name: str
    version: str
    classifier: _Locked

    def describe(self) -> dict:
        clf = self.classifier
        return {"name": self.name, "version": self.version, "format": clf.format, "classes": list(clf.classes),
                "input_shape": list(clf.input_shape), "file": clf.path.name if clf.path else None}


def load_models(models: Sequence[str | os.PathLike | Classifier] | None, *,
                freeze: bool = False) -> dict[str, ModelEntry]:
    """Load each model once (``None``: the shipped default); names are file stems, made unique.

    ``freeze``: Keras files are run as frozen graphs (see :class:`ServeConfig`).
    """
    entries: dict[str, ModelEntry] = {}
    for item in (models or [None]):
        clf = item if isinstance(item, Classifier) else load_classifier(item, freeze=freeze)
        base = clf.path.stem if clf.path else f"model{len(entries) + 1}"
        name, k = base, 2
        while name in entries:
            name, k = f"{base}-{k}", k + 1
        version = f"sha256:{file_sha256(clf.path)[:12]}" if clf.path and clf.path.is_file() else "in-memory"
        entries[name] = ModelEntry(name, version, _Locked(clf))
    return entries


class Gate:
    """At most ``capacity`` units of work at once; :meth:`enter` says no instead of queueing."""

    def __init__(self, capacity: int):
        self.capacity, self.in_flight = capacity, 0
        self._lock = threading.Lock()

    def enter(self) -> bool:
        with self._lock:
            if self.in_flight >= self.capacity:
                return False
            self.in_flight += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self.in_flight -= 1


class SecurityHeaders:
    """ASGI middleware: ``X-Content-Type-Options: nosniff`` on every answer, the page CSP on ``/`` and ``/static/``.

    A plain ASGI wrapper that edits the response's start message (Starlette's ``@app.middleware("http")``
    would copy every response through a stream, a millisecond per request).
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        page = scope["path"] == "/" or scope["path"].startswith("/static/")

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                if page:
                    headers.setdefault("Content-Security-Policy", PAGE_CSP)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _face_json(box, probs: np.ndarray, classes: Sequence[str], **extra) -> dict:
    k = int(np.argmax(probs))
    x, y, w, h = (int(v) for v in box)
    return {**extra, "box": {"x": x, "y": y, "w": w, "h": h}, "label": classes[k],
            "confidence": round(float(probs[k]), 6),
            "probabilities": {c: round(float(p), 6) for c, p in zip(classes, probs)}}


def _is_reset(text: str | None) -> bool:
    """Whether a text message is the stream's one command, ``{"reset": true}`` (forget every track)."""
    try:
        command = json.loads(text or "")
    except ValueError:
        return False
    return isinstance(command, dict) and command.get("reset") is True


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000.0, 2)


def _predict_doc() -> dict:
    image = {"schema": {"type": "string", "format": "binary"}}
    form = {"schema": {"type": "object", "required": ["file"],
                       "properties": {"file": {"type": "string", "format": "binary",
                                               "description": "a JPEG, PNG or WebP image"}}}}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": form, "image/jpeg": image,
                                                          "image/png": image, "image/webp": image}},
            "responses": {"200": {"content": {"image/jpeg": {}},
                                  "description": "JSON faces, or the annotated JPEG with annotated=true"}}}


def create_app(models: Sequence[str | os.PathLike | Classifier] | None = None, *,
               config: ServeConfig | None = None) -> FastAPI:
    """The web app serving ``models`` (files or loaded classifiers; ``None``: the shipped default model).

    The first model is the default of every endpoint; ``?model=NAME`` picks another.
    """
    cfg = config or ServeConfig()
    make_detector(cfg.detector_name, **cfg.detector)  # bad detector settings fail here, not in the first request
    registry = load_models(models, freeze=cfg.freeze)
    default = next(iter(registry))
    gate = Gate(cfg.max_in_flight)
    local = threading.local()
    streams = {"open": 0}

    def detector(live: bool):
        key = "live" if live else "photo"
        if not hasattr(local, key):  # one detector per thread and use (YuNet is not thread-safe)
            setattr(local, key, make_detector(cfg.detector_name, live=True) if live
                    else make_detector(cfg.detector_name, **cfg.detector))
        return getattr(local, key)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.pool = ThreadPoolExecutor(cfg.workers, thread_name_prefix="fer-serve")
        try:
            yield
        finally:
            app.state.pool.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="fer", version="1", lifespan=lifespan,
                  description="Facial expression recognition: faces, labels and probabilities for an image or a "
                              "stream of camera frames. Errors are JSON {\"error\": CODE, \"message\": TEXT}.")
    app.state.registry, app.state.gate, app.state.config = registry, gate, cfg

    async def in_pool(fn: Callable, *args):
        pool = getattr(app.state, "pool", None)
        if pool is None:  # an app driven without its lifespan (TestClient used outside a `with`)
            pool = app.state.pool = ThreadPoolExecutor(cfg.workers, thread_name_prefix="fer-serve")
        return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)

    def model_entry(name: str | None) -> ModelEntry:
        entry = registry.get(name or default)
        if entry is None:
            raise RequestError(404, "unknown_model", f"no model named {name!r}; loaded: {', '.join(registry)} "
                                                 "(GET /v1/models)")
        return entry

    @app.exception_handler(RequestError)
    async def _refused(request, err: RequestError):
        headers = {"Retry-After": "1"} if err.status == 503 else None
        return JSONResponse({"error": err.code, "message": err.message}, err.status, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request, err: StarletteHTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(err.status_code, "http_error")
        message = f"no such endpoint {request.url.path}" if err.status_code == 404 else str(err.detail)
        return JSONResponse({"error": code, "message": message}, err.status_code, headers=err.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request, err: RequestValidationError):
        text = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors())
        return JSONResponse({"error": "invalid_request", "message": text}, 422)

    @app.exception_handler(Exception)
    async def _unexpected(request, err: Exception):  # still logged by the server; the client gets JSON
        return JSONResponse({"error": "internal", "message": f"internal error ({type(err).__name__}); see the "
                                                             "server log"}, 500)

    app.add_middleware(SecurityHeaders)

    def run_predict(data: bytes, entry: ModelEntry, tta: bool, annotated: bool) -> dict | bytes:
        start = time.perf_counter()
        image, fmt = decode_image(data, max_bytes=cfg.max_upload_bytes, max_pixels=cfg.max_pixels)
        decoded = time.perf_counter()
        results = detect_and_predict(image, entry.classifier, detector=detector(False), channel_order="rgb",
                                     margin=cfg.margin, tta=tta)
        inferred = time.perf_counter()
        if annotated:
            drawn = draw_predictions(image, results, entry.classifier.classes, channel_order="rgb")
            ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
            if not ok:
                raise RequestError(500, "encode_failed", "could not encode the annotated image as JPEG")
            return jpeg.tobytes()
        classes = entry.classifier.classes
        return {"model": {"name": entry.name, "version": entry.version}, "tta": tta,
                "image": {"width": int(image.shape[1]), "height": int(image.shape[0]), "format": fmt},
                "faces": [_face_json(box, np.asarray(probs), classes) for box, probs, _ in results],
                "timing_ms": {"decode": round((decoded - start) * 1000, 2),
                              "inference": round((inferred - decoded) * 1000, 2)}}

    @app.post("/v1/predict", summary="Faces, labels and probabilities in one image", openapi_extra=_predict_doc())
    async def predict(request: Request, model: str | None = Query(None, description="a name from /v1/models"),
                      tta: bool = Query(False, description="test-time augmentation (flips and shifts)"),
                      annotated: bool = Query(False, description="answer with the annotated image as a JPEG")):
        start = time.perf_counter()
        entry = model_entry(model)
        content_type = request.headers.get("content-type")
        check_content_type(content_type)
        if not gate.enter():
            raise RequestError(503, "busy", f"the server is busy ({gate.capacity} requests in flight); retry shortly")
        try:
            limit = body_limit(content_type, cfg.max_upload_bytes)
            body = await read_capped(request.stream(), request.headers.get("content-length"), limit,
                                     cfg.max_upload_bytes)
            if media_type(content_type) == "multipart/form-data":
                body = multipart_file(body, content_type)
            out = await in_pool(run_predict, body, entry, tta, annotated)
        finally:
            gate.leave()
        if isinstance(out, bytes):
            return Response(out, media_type="image/jpeg", headers={"X-Model": entry.name,
                                                                    "X-Model-Version": entry.version})
        out["timing_ms"]["total"] = _ms(start)
        return JSONResponse(out)  # already plain JSON types: FastAPI's jsonable_encoder pass is not needed

    @app.get("/v1/models", summary="The loaded models")
    async def models_list():
        return {"default": default, "models": [e.describe() for e in registry.values()]}

    @app.get("/healthz", summary="Liveness and load")
    async def healthz():
        return {"status": "ok", "models": list(registry), "in_flight": gate.in_flight, "capacity": gate.capacity,
                "streams": streams["open"], "max_streams": cfg.max_streams}

    def run_frame(data: bytes, entry: ModelEntry, tracker: IoUTracker, index: int) -> dict:
        start = time.perf_counter()
        image, _ = decode_image(data, max_bytes=cfg.max_upload_bytes, max_pixels=cfg.max_pixels)
        results = detect_and_predict(image, entry.classifier, detector=detector(True), channel_order="rgb",
                                     margin=cfg.margin)
        tracks = tracker.update([box for box, _, _ in results])
        classes = entry.classifier.classes
        faces = [_face_json(t.box, t.smooth("probs", probs), classes, track=t.id, hits=t.hits)
                 for t, (_, probs, _) in zip(tracks, results)]
        return {"frame": index, "width": int(image.shape[1]), "height": int(image.shape[0]), "faces": faces,
                "model": {"name": entry.name, "version": entry.version}, "timing_ms": {"total": _ms(start)}}

    @app.websocket("/v1/stream")
    async def stream(ws: WebSocket, model: str | None = None):
        await ws.accept()
        origin = ws.headers.get("origin")
        if origin and urlsplit(origin).netloc != ws.headers.get("host"):
            await ws.send_json({"error": "forbidden_origin", "message": f"streams are open to this server's own "
                                                                        f"page only, not to {origin}"})
            await ws.close(code=1008)
            return
        if model is not None and model not in registry:
            await ws.send_json({"error": "unknown_model", "message": f"no model named {model!r}; loaded: "
                                                                      f"{', '.join(registry)}"})
            await ws.close(code=1008)
            return
        if streams["open"] >= cfg.max_streams:
            await ws.send_json({"error": "busy", "message": f"{cfg.max_streams} streams are open already; "
                                                            "retry shortly"})
            await ws.close(code=1013)
            return
        entry, tracker, index = model_entry(model), IoUTracker(), 0
        streams["open"] += 1
        try:
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                data = message.get("bytes")
                if data is None:
                    if _is_reset(message.get("text")):
                        tracker.reset()
                        await ws.send_json({"reset": True})
                    else:
                        await ws.send_json({"error": "bad_message", "message": "send each frame as a binary "
                                            "message holding a JPEG, PNG or WebP image (or {\"reset\":true})"})
                    continue
                if not gate.enter():
                    await ws.send_json({"error": "busy", "message": "the server is busy; frame skipped"})
                    continue
                try:
                    answer = await in_pool(run_frame, data, entry, tracker, index)
                except RequestError as err:
                    answer = {"error": err.code, "message": err.message, "frame": index}
                finally:
                    gate.leave()
                index += 1
                await ws.send_json(answer)
        except WebSocketDisconnect:
            pass
        finally:
            streams["open"] -= 1

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
