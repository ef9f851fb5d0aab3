"""The web app's endpoints and its refusals of bad input (FastAPI TestClient; the shipped model, loaded once)."""

from __future__ import annotations

import re
import struct
import threading
import time
import zlib

import cv2
import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from fer.inference import DEMO_IMAGE, load_classifier  # noqa: E402
from fer.serve.app import ServeConfig, create_app  # noqa: E402

JPEG = DEMO_IMAGE.read_bytes()
#: A quoted or url(...) absolute / protocol-relative address: something the page would fetch from elsewhere.
REMOTE = re.compile(r"""["'(]\s*(https?:)?//""")


@pytest.fixture(scope="module")
def classifier():
    return load_classifier()


@pytest.fixture(scope="module")
def client(classifier):
    # The same model twice: names are made unique and ?model= picks one.
    with TestClient(create_app([classifier, classifier])) as c:
        yield c


def small_app(classifier, **limits) -> TestClient:
    return TestClient(create_app([classifier], config=ServeConfig(**limits)))


def encode(ext: str, image: np.ndarray, *params: int) -> bytes:
    ok, buf = cv2.imencode(ext, image, list(params))
    assert ok
    return buf.tobytes()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width x height`` pixels, with almost no data (a decompression bomb's shape)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
            + chunk(b"IEND", b""))


def post(client, body: bytes, content_type: str | None = "image/jpeg", query: str = ""):
    headers = {"content-type": content_type} if content_type else {}
    return client.post(f"/v1/predict{query}", content=body, headers=headers)


def assert_error(response, status: int, code: str):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["error"] == code and isinstance(body["message"], str) and body["message"]
    return body["message"]


# ------------------------------------------------------------------ predict


def test_predict_upload_finds_the_face_with_the_models_classes(client, classifier):
    r = client.post("/v1/predict", files={"file": ("hopper.jpg", JPEG, "image/jpeg")})
    assert r.status_code == 200, r.text
    body = r.json()
    models = client.get("/v1/models").json()["models"]
    assert body["model"] == {"name": models[0]["name"], "version": models[0]["version"]}
    assert body["image"] == {"width": 512, "height": 600, "format": "jpeg"}
    assert len(body["faces"]) == 1
    face = body["faces"][0]
    box = face["box"]
    assert 0 <= box["x"] and 0 <= box["y"] and box["x"] + box["w"] <= 512 and box["y"] + box["h"] <= 600
    assert box["w"] > 100 and box["h"] > 100  # the portrait's face, not a speck
    probs = face["probabilities"]
    assert list(probs) == list(classifier.classes)
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-4)
    assert face["label"] == max(probs, key=probs.get) and face["confidence"] == probs[face["label"]]
    assert set(body["timing_ms"]) == {"decode", "inference", "total"}
    assert body["timing_ms"]["total"] >= body["timing_ms"]["inference"] > 0


def test_png_and_webp_of_the_same_pixels_give_the_same_answer(client):
    pixels = cv2.imdecode(np.frombuffer(JPEG, np.uint8), cv2.IMREAD_COLOR)
    reference = post(client, encode(".png", pixels), "image/png").json()
    webp = post(client, encode(".webp", pixels, cv2.IMWRITE_WEBP_QUALITY, 101), "image/webp").json()
    assert reference["image"]["format"] == "png" and webp["image"]["format"] == "webp"
    assert webp["faces"][0]["box"] == reference["faces"][0]["box"]
    assert webp["faces"][0]["probabilities"] == pytest.approx(reference["faces"][0]["probabilities"], abs=1e-4)


def test_the_format_is_sniffed_from_the_bytes_not_the_header(client):
    body = post(client, JPEG, "image/png").json()
    assert body["image"]["format"] == "jpeg" and len(body["faces"]) == 1
    png = encode(".png", np.full((64, 64, 3), 128, np.uint8))
    r = client.post("/v1/predict", files={"file": ("photo.jpg", png, "image/jpeg")})
    assert r.json()["image"]["format"] == "png"


def test_an_image_without_a_face_gives_an_empty_list(client):
    body = post(client, encode(".png", np.full((240, 320, 3), 90, np.uint8)), "image/png").json()
    assert body["faces"] == [] and body["image"]["width"] == 320


def test_a_large_upload_under_the_limit_is_read_in_memory(client):
    noise = np.random.default_rng(0).integers(0, 256, (1100, 1100, 3), dtype=np.uint8)
    png = encode(".png", noise)
    assert 2 * 1024 * 1024 < len(png) < 10 * 1024 * 1024  # past Starlette's 1 MB spool-to-disk threshold
    r = client.post("/v1/predict", files={"file": ("noise.png", png, "image/png")})
    assert r.status_code == 200 and r.json()["image"]["width"] == 1100


def test_tta_changes_the_probabilities(client):
    plain = post(client, JPEG).json()
    tta = post(client, JPEG, query="?tta=true").json()
    assert tta["tta"] is True and plain["tta"] is False
    assert tta["faces"][0]["box"] == plain["faces"][0]["box"]
    p, q = plain["faces"][0]["probabilities"], tta["faces"][0]["probabilities"]
    assert sum(q.values()) == pytest.approx(1.0, abs=1e-4)
    assert max(abs(p[k] - q[k]) for k in p) > 1e-4


def test_annotated_returns_a_jpeg_with_the_box_drawn(client):
    r = post(client, JPEG, query="?annotated=true")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert r.headers["x-model"] == "fer2013_default"
    drawn = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR)
    original = cv2.imdecode(np.frombuffer(JPEG, np.uint8), cv2.IMREAD_COLOR)
    assert drawn.shape == original.shape
    box = post(client, JPEG).json()["faces"][0]["box"]
    diff = np.abs(drawn.astype(int) - original.astype(int)).max(axis=2)
    # the box outline differs strongly from the photo; far from the face the pixels are the photo's
    assert diff[box["y"] + box["h"] // 2, box["x"] - 2:box["x"] + 3].max() > 60
    assert np.median(diff[-40:, :80]) < 10


def test_model_query_selects_a_model_and_unknown_is_404(client):
    names = [m["name"] for m in client.get("/v1/models").json()["models"]]
    assert names == ["fer2013_default", "fer2013_default-2"]
    assert post(client, JPEG, query="?model=fer2013_default-2").json()["model"]["name"] == "fer2013_default-2"
    message = assert_error(post(client, JPEG, query="?model=nope"), 404, "unknown_model")
    assert "nope" in message and "fer2013_default" in message


# ------------------------------------------------------------------ bad input


def test_empty_body(client):
    assert_error(post(client, b""), 400, "empty")
    assert_error(client.post("/v1/predict", files={"file": ("a.jpg", b"", "image/jpeg")}), 400, "empty")


def test_not_an_image(client):
    assert_error(post(client, b"GIF89a" + b"\0" * 100, "image/jpeg"), 415, "not_an_image")
    assert_error(client.post("/v1/predict", files={"file": ("a.jpg", b"%PDF-1.4 ...", "image/jpeg")}), 415,
                 "not_an_image")


def test_a_damaged_image(client):
    assert_error(post(client, JPEG[:2000]), 400, "bad_image")


def test_wrong_content_type(client):
    for kind in ("text/plain", "application/json", "application/x-www-form-urlencoded"):
        assert kind in assert_error(post(client, JPEG, kind), 415, "unsupported_media_type")


def test_a_form_without_the_file(client):
    r = client.post("/v1/predict", data={"note": "no file here"}, files={"other": ("x", b"", "text/plain")})
    # a part with a filename is taken when none is named 'file'; an empty one is refused as empty
    assert_error(r, 400, "empty")
    assert_error(post(client, b"--x\r\n\r\n--x--\r\n", "multipart/form-data; boundary=x"), 400, "no_file")
    assert_error(post(client, b"whatever", "multipart/form-data"), 400, "bad_form")


def test_too_large(client, classifier):
    big = b"\xff\xd8\xff" + b"\0" * (10 * 1024 * 1024)
    assert "10,485,760" in assert_error(post(client, big), 413, "too_large")
    with small_app(classifier, max_upload_bytes=50_000) as small:
        assert len(JPEG) > 50_000
        assert_error(post(small, JPEG), 413, "too_large")
        assert_error(small.post("/v1/predict", files={"file": ("a.jpg", JPEG, "image/jpeg")}), 413, "too_large")


def test_too_many_pixels(client, classifier):
    bomb = png_header_only(10_000, 5_000)  # 50 megapixels claimed by a file of about 1 kB
    assert len(bomb) < 2000
    assert "50,000,000" in assert_error(post(client, bomb, "image/png"), 413, "too_many_pixels")
    assert post(client, png_header_only(100, 100), "image/png").status_code == 400  # within the limit: damaged
    with small_app(classifier, max_pixels=300_000) as small:  # the demo photo has 512 x 600 = 307,200
        assert_error(post(small, JPEG), 413, "too_many_pixels")


def test_bad_query_and_unknown_route_are_json(client):
    assert "tta" in assert_error(post(client, JPEG, query="?tta=maybe"), 422, "invalid_request")
    assert_error(client.get("/v2/nothing"), 404, "not_found")
    assert_error(client.get("/v1/predict"), 405, "method_not_allowed")


def test_saturated_server_answers_503_at_once(classifier):
    app = create_app([classifier], config=ServeConfig(max_in_flight=1))
    lock = app.state.registry["fer2013_default"].classifier.lock
    with TestClient(app) as c:
        answers = {}
        lock.acquire()  # the first request will wait inside the model
        try:
            first = threading.Thread(target=lambda: answers.setdefault("first", post(c, JPEG)))
            first.start()
            end = time.monotonic() + 30
            while app.state.gate.in_flight < 1 and time.monotonic() < end:
                time.sleep(0.01)
            assert c.get("/healthz").json()["in_flight"] == 1
            busy = post(c, JPEG)
            assert_error(busy, 503, "busy")
            assert busy.headers["retry-after"] == "1"
        finally:
            lock.release()
        first.join(60)
        assert answers["first"].status_code == 200
        assert post(c, JPEG).status_code == 200 and app.state.gate.in_flight == 0


def test_an_unexpected_failure_is_a_json_500(classifier, monkeypatch):
    import fer.serve.app

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(fer.serve.app, "detect_and_predict", broken)
    with TestClient(create_app([classifier]), raise_server_exceptions=False) as c:
        message = assert_error(post(c, JPEG), 500, "internal")
        assert "RuntimeError" in message and "boom" not in message  # no internals leak to the client
        assert c.get("/healthz").json()["in_flight"] == 0


def test_model_files_are_served_frozen_with_the_same_answers(tmp_path):
    import keras
    from keras import layers

    from fer.class_names import attach_class_names

    keras.utils.set_random_seed(0)
    inputs = keras.Input((24, 24, 1))
    x = layers.BatchNormalization()(layers.Conv2D(3, 3)(layers.Rescaling(1 / 255.0)(inputs)))
    x = layers.Dense(3)(layers.Flatten()(x))
    model = keras.Model(inputs, layers.Activation("softmax", dtype="float32", name="predictions")(x))
    model.layers[3].moving_mean.assign(np.array([0.1, -0.2, 0.3], "float32"))  # BN stats that matter
    path = tmp_path / "tiny.keras"
    attach_class_names(model, ("a", "b", "c")).save(path)
    answers = {}
    for freeze in (True, False):
        app = create_app([path], config=ServeConfig(freeze=freeze))
        assert app.state.registry["tiny"].classifier._run.frozen is freeze
        with TestClient(app) as c:
            r = post(c, JPEG)
            assert r.status_code == 200 and r.headers["content-type"] == "application/json"
            answers[freeze] = r.json()
    frozen, plain = answers[True], answers[False]
    assert len(frozen["faces"]) == 1 and [f["box"] for f in frozen["faces"]] == [f["box"] for f in plain["faces"]]
    for a, b in zip(frozen["faces"], plain["faces"]):
        assert a["label"] == b["label"] and a["probabilities"] == pytest.approx(b["probabilities"], abs=2e-6)


# ------------------------------------------------------------------ other endpoints


def test_models_and_health(client, classifier):
    info = client.get("/v1/models").json()
    assert info["default"] == "fer2013_default"
    m = info["models"][0]
    assert m["classes"] == list(classifier.classes) and m["input_shape"] == list(classifier.input_shape)
    assert m["version"].startswith("sha256:") and len(m["version"]) == len("sha256:") + 12
    assert m["file"] == "fer2013_default.keras" and m["format"] == "keras"
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["models"] == ["fer2013_default", "fer2013_default-2"]
    assert health["in_flight"] == 0 and health["capacity"] == 16


def test_openapi_docs_and_page(client):
    spec = client.get("/openapi.json").json()
    assert {"/v1/predict", "/v1/models", "/healthz"} <= set(spec["paths"])
    assert "multipart/form-data" in spec["paths"]["/v1/predict"]["post"]["requestBody"]["content"]
    assert client.get("/docs").status_code == 200
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert '<script src="/static/app.js"' in page.text and 'for="file"' in page.text
    assert not REMOTE.search(page.text)  # nothing loaded from elsewhere: the page works offline
    for asset, kind in (("app.js", "javascript"), ("style.css", "text/css")):
        r = client.get(f"/static/{asset}")
        assert r.status_code == 200 and kind in r.headers["content-type"]
        assert not REMOTE.search(r.text)
        assert r.headers["content-security-policy"] == page.headers["content-security-policy"]
    # every answer says nosniff; the API's answers (JSON, errors) carry no page policy
    for r in (page, client.get("/healthz"), post(client, JPEG), post(client, b"not an image"), client.get("/v2/x")):
        assert r.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in post(client, JPEG).headers


# ------------------------------------------------------------------ stream


def test_stream_keeps_a_track_across_frames(client):
    blank = encode(".png", np.full((240, 320, 3), 90, np.uint8))
    with client.websocket_connect("/v1/stream") as ws:
        answers = []
        for _ in range(3):
            ws.send_bytes(JPEG)
            answers.append(ws.receive_json())
        assert [a["frame"] for a in answers] == [0, 1, 2]
        tracks = [a["faces"][0]["track"] for a in answers]
        assert len(set(tracks)) == 1 and [a["faces"][0]["hits"] for a in answers] == [1, 2, 3]
        assert answers[0]["width"] == 512 and answers[0]["model"]["name"] == "fer2013_default"
        ws.send_bytes(blank)
        assert ws.receive_json()["faces"] == []
        ws.send_text('{"reset": true}')
        assert ws.receive_json() == {"reset": True}
        ws.send_bytes(JPEG)
        assert ws.receive_json()["faces"][0]["track"] != tracks[0]  # a new track after a reset


def test_stream_bad_frames_are_answered_and_the_stream_goes_on(client):
    with client.websocket_connect("/v1/stream") as ws:
        ws.send_text("hello")
        assert ws.receive_json()["error"] == "bad_message"
        ws.send_bytes(b"not an image at all")
        assert ws.receive_json()["error"] == "not_an_image"
        ws.send_bytes(JPEG)
        assert len(ws.receive_json()["faces"]) == 1


def test_stream_refuses_other_sites_pages(client):
    with client.websocket_connect("/v1/stream", headers={"origin": "http://evil.example"}) as ws:
        assert ws.receive_json()["error"] == "forbidden_origin"
    with client.websocket_connect("/v1/stream", headers={"origin": "http://testserver"}) as ws:
        ws.send_bytes(JPEG)
        assert len(ws.receive_json()["faces"]) == 1


def test_stream_unknown_model_and_too_many_streams(client, classifier):
    with client.websocket_connect("/v1/stream?model=nope") as ws:
        assert ws.receive_json()["error"] == "unknown_model"
    with small_app(classifier, max_streams=1) as small:
        with small.websocket_connect("/v1/stream") as first:
            with small.websocket_connect("/v1/stream") as second:
                assert second.receive_json()["error"] == "busy"
            first.send_bytes(JPEG)
            assert len(first.receive_json()["faces"]) == 1


# ------------------------------------------------------------------ command line


def test_serve_command_defaults_to_loopback_and_reports_bad_models(capsys):
    from fer.cli import build_parser, main

    args = build_parser().parse_args(["serve", "--model", "a.keras", "--model", "b.tflite"])
    assert (args.host, args.port, args.model) == ("127.0.0.1", 8000, ["a.keras", "b.tflite"])
    from fer.cli.serve import _is_loopback

    assert all(map(_is_loopback, ("127.0.0.1", "::1", "localhost"))) and not _is_loopback("0.0.0.0")
    assert main(["serve", "--model", "missing.keras"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing.keras" in err[0] and err[0].startswith("fer serve: error:")
