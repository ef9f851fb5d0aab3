"""The page in a real browser: headless Chromium (Selenium + the system chromium/chromedriver) against uvicorn.

Skipped, with the reason, when Selenium, uvicorn, Chromium or chromedriver is missing (``.ci/run`` installs
the Debian packages ``chromium chromium-driver`` where apt is available). ``FER_SCREENSHOT=docs/serve.png``
saves a screenshot of the page after the upload.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")
uvicorn = pytest.importorskip("uvicorn")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")

from selenium.common.exceptions import TimeoutException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from fer.benchmarks.serve import demo_frame  # noqa: E402
from fer.inference import DEMO_IMAGE  # noqa: E402
from fer.serve.app import create_app  # noqa: E402
from tests.serve_server import running  # noqa: E402

WAIT = 120  # seconds: the test machine may be busy; the model runs on its CPU
# Read in one go in the page: the boxes are redrawn on every frame, so element handles go stale.
TRACKS = ("return [...document.querySelectorAll('#boxes .face-box[data-track]')].map((b) => "
          "[b.dataset.track, parseFloat(b.style.left) + parseFloat(b.style.width) / 2, "
          "parseFloat(b.style.top) + parseFloat(b.style.height) / 2])")
FRAMES = "return document.getElementById('stage').dataset.frames || '0'"


def _first(*names: str) -> str | None:
    return next((p for p in map(shutil.which, names) if p), None)


CHROMIUM = _first("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMEDRIVER = _first("chromedriver")
pytestmark = pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                                reason="no Chromium + chromedriver on PATH (apt-get install chromium chromium-driver)")


@pytest.fixture(scope="module")
def server():
    """The app on uvicorn on a free 127.0.0.1 port in a thread; stopped after the module's tests."""
    with running(create_app()) as url:
        yield url


def write_y4m(path: Path, frame_bgr: np.ndarray, frames: int = 10, fps: int = 10) -> Path:
    """A YUV4MPEG2 (4:2:0) video of ``frames`` copies of ``frame_bgr``: Chromium's fake camera input."""
    h, w = frame_bgr.shape[:2]
    i420 = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2YUV_I420).tobytes()
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            f.write(b"FRAME\n" + i420)
    return path


def browser(fake_video: Path | None = None):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,1000", "--use-fake-ui-for-media-stream"):
        options.add_argument(arg)
    if fake_video is not None:
        options.add_argument("--use-fake-device-for-media-stream")
        options.add_argument(f"--use-file-for-fake-video-capture={fake_video}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(WAIT)
    return driver


def wait_for(driver, condition, what: str):
    try:
        return WebDriverWait(driver, WAIT, poll_frequency=0.2).until(lambda d: condition(d))
    except TimeoutException:
        status = driver.find_element(By.ID, "status").text
        logs = [entry["message"] for entry in driver.get_log("browser")]
        pytest.fail(f"timed out waiting for {what}; status {status!r}; console {logs}")


def face_track(boxes: list) -> str | None:
    """The track id of the box centred on the demo frame's face (the Haar cascade may add a false box)."""
    fx, fy = 100 * (246 + 80) / 640, 100 * (104 + 80) / 480  # the face in demo_frame(), in percent
    near = [track for track, x, y in boxes if abs(x - fx) < 8 and abs(y - fy) < 8]
    return near[0] if len(near) == 1 else None


def save_screenshot(driver, path: str) -> None:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        tmp.write_bytes(driver.get_screenshot_as_png())
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def test_upload_the_demo_photo_shows_the_label(server):
    expected = httpx.post(f"{server}/v1/predict", content=DEMO_IMAGE.read_bytes(),
                          headers={"content-type": "image/jpeg"}, timeout=WAIT).json()["faces"][0]
    driver = browser()
    try:
        driver.get(server + "/")
        wait_for(driver, lambda d: d.find_element(By.ID, "status").text.startswith("Ready"), "the models to load")
        assert driver.find_element(By.ID, "model").get_attribute("value") == "fer2013_default"
        driver.find_element(By.ID, "file").send_keys(str(DEMO_IMAGE))
        labels = wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#faces .face-label"), "a face")
        assert [e.text for e in labels] == [expected["label"]]
        boxes = driver.find_elements(By.CSS_SELECTOR, "#boxes .face-box")
        assert len(boxes) == 1 and boxes[0].get_attribute("data-label") == expected["label"]
        # the box sits on the face: its position in the shown photo matches the API's box
        photo = driver.find_element(By.ID, "photo").rect
        box = boxes[0].rect
        scale = photo["width"] / 512
        assert abs((box["x"] - photo["x"]) - expected["box"]["x"] * scale) < 6
        assert abs(box["width"] - expected["box"]["w"] * scale) < 8
        bars = driver.find_elements(By.CSS_SELECTOR, "#faces [role=progressbar]")
        best = round(100 * expected["confidence"])
        assert len(bars) == 7 and max(int(b.get_attribute("aria-valuenow")) for b in bars) == best
        if os.environ.get("FER_SCREENSHOT"):
            save_screenshot(driver, os.environ["FER_SCREENSHOT"])
        # on a phone-sized window: one column (the bars under the picture) and no sideways scrolling
        driver.set_window_size(390, 844)
        wait_for(driver, lambda d: d.execute_script("return window.innerWidth") <= 400, "the narrow window")
        view, results = (driver.find_element(By.CSS_SELECTOR, s).rect for s in (".view", ".results"))
        assert results["y"] >= view["y"] + view["height"] - 1
        assert driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    finally:
        driver.quit()


def test_fake_camera_shows_live_tracked_boxes(server, tmp_path):
    video = write_y4m(tmp_path / "face.y4m", demo_frame())
    driver = browser(video)
    try:
        driver.get(server + "/")
        wait_for(driver, lambda d: d.find_element(By.ID, "status").text.startswith("Ready"), "the models to load")
        camera = driver.find_element(By.ID, "camera")
        camera.click()
        face = wait_for(driver, lambda d: face_track(d.execute_script(TRACKS)), "a live box on the face")
        assert camera.get_attribute("aria-pressed") == "true" and camera.text == "Stop camera"
        first = int(driver.execute_script(FRAMES))
        wait_for(driver, lambda d: int(d.execute_script(FRAMES)) >= first + 3, "three more frames")
        assert face_track(driver.execute_script(TRACKS)) == face  # the face keeps its track across frames
        label = driver.execute_script("return document.querySelector('#faces .face-label').textContent")
        assert label in ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
        camera.click()
        wait_for(driver, lambda d: d.find_element(By.ID, "status").text == "Camera off.", "the camera to stop")
    finally:
        driver.quit()
