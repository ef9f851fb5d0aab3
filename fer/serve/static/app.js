// fer serve: the page's logic. Upload → POST /v1/predict; camera → frames over WS /v1/stream (one in flight).
"use strict";

// matplotlib's tab10, one colour per class index (the same as the annotated images).
const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                "#bcbd22", "#17becf"];
const MAX_SIDE = 640;   // camera frames are sent at most this wide/high
const $ = (id) => document.getElementById(id);
const ui = {
  model: $("model"), camera: $("camera"), file: $("file"), tta: $("tta"), status: $("status"), stage: $("stage"),
  video: $("video"), photo: $("photo"), boxes: $("boxes"), faces: $("faces"), timing: $("timing"),
  placeholder: $("placeholder"),
};
let classes = [];
let live = null;   // {stream, ws, canvas, frames} while the camera runs

function say(text, isError = false) {
  ui.status.textContent = text;
  ui.status.classList.toggle("error", isError);
}

async function errorText(response) {
  try {
    const body = await response.json();
    return body.message || `HTTP ${response.status}`;
  } catch (e) {
    return `HTTP ${response.status}`;
  }
}

async function loadModels() {
  const response = await fetch("/v1/models");
  if (!response.ok) throw new Error(await errorText(response));
  const info = await response.json();
  ui.model.replaceChildren(...info.models.map((m) => {
    const option = document.createElement("option");
    option.value = m.name;
    option.textContent = `${m.name} (${m.classes.length} classes)`;
    option.dataset.classes = JSON.stringify(m.classes);
    return option;
  }));
  ui.model.value = info.default;
  classes = JSON.parse(ui.model.selectedOptions[0].dataset.classes);
  say("Ready: start the camera or upload a photo.");
}

function classIndex(label) {
  const i = classes.indexOf(label);
  return i < 0 ? 0 : i;
}

function pct(p) {
  return `${Math.round(p * 100)}%`;
}

// Boxes are placed in percent of the picture, so they follow it when the page is resized.
function drawBoxes(faces, width, height) {
  ui.boxes.replaceChildren(...faces.map((face) => {
    const box = document.createElement("div");
    box.className = "face-box";
    box.dataset.label = face.label;
    if (face.track !== undefined) box.dataset.track = face.track;
    box.style.left = `${(100 * face.box.x) / width}%`;
    box.style.top = `${(100 * face.box.y) / height}%`;
    box.style.width = `${(100 * face.box.w) / width}%`;
    box.style.height = `${(100 * face.box.h) / height}%`;
    box.style.setProperty("--c", COLORS[classIndex(face.label) % COLORS.length]);
    const tag = document.createElement("span");
    tag.className = "face-tag";
    tag.textContent = `${face.label} ${pct(face.confidence)}`;
    box.append(tag);
    return box;
  }));
}

function faceItem(face, n) {
  const item = document.createElement("li");
  item.className = "face";
  item.dataset.label = face.label;
  const title = document.createElement("h3");
  const track = face.track !== undefined ? ` (track ${face.track})` : "";
  title.append(`Face ${n}${track}: `);
  const label = document.createElement("span");
  label.className = "face-label";
  label.textContent = face.label;
  title.append(label, ` ${pct(face.confidence)}`);
  item.append(title);
  Object.entries(face.probabilities).forEach(([name, p], i) => {
    const row = document.createElement("div");
    row.className = "bar-row" + (name === face.label ? " best" : "");
    const nameEl = document.createElement("span");
    nameEl.className = "bar-name";
    nameEl.textContent = name;
    const bar = document.createElement("div");
    bar.className = "bar";
    bar.setAttribute("role", "progressbar");
    bar.setAttribute("aria-label", `Face ${n} ${name}`);
    bar.setAttribute("aria-valuemin", "0");
    bar.setAttribute("aria-valuemax", "100");
    bar.setAttribute("aria-valuenow", String(Math.round(p * 100)));
    const fill = document.createElement("div");
    fill.className = "bar-fill";
    fill.style.width = pct(p);
    fill.style.setProperty("--c", COLORS[i % COLORS.length]);
    bar.append(fill);
    const value = document.createElement("span");
    value.className = "bar-value";
    value.textContent = pct(p);
    row.append(nameEl, bar, value);
    item.append(row);
  });
  return item;
}

function show(result, width, height) {
  drawBoxes(result.faces, width, height);
  ui.faces.replaceChildren(...result.faces.map((face, i) => faceItem(face, i + 1)));
  const t = result.timing_ms || {};
  ui.timing.textContent = t.total !== undefined ? `${result.model.name} ${result.model.version}, ` +
    `${t.total.toFixed(0)} ms on the server` : "";
}

function showStage(kind) {
  ui.stage.hidden = false;
  ui.placeholder.hidden = true;
  ui.video.hidden = kind !== "video";
  ui.photo.hidden = kind !== "photo";
  ui.boxes.replaceChildren();
  ui.faces.replaceChildren();
}

async function upload(file) {
  if (!file) return;
  if (live) stopCamera();
  showStage("photo");
  const url = URL.createObjectURL(file);
  ui.photo.src = url;
  say(`Looking for faces in ${file.name}…`);
  const form = new FormData();
  form.append("file", file, file.name);
  const query = new URLSearchParams({model: ui.model.value, tta: ui.tta.checked});
  try {
    const response = await fetch(`/v1/predict?${query}`, {method: "POST", body: form});
    if (!response.ok) throw new Error(await errorText(response));
    const result = await response.json();
    show(result, result.image.width, result.image.height);
    say(result.faces.length ? `${result.faces.length} face(s): ${result.faces.map((f) => f.label).join(", ")}` :
      "No face found in this photo.");
  } catch (err) {
    say(`Could not classify the photo: ${err.message}`, true);
  }
}

async function startCamera() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    say("This browser gives no camera to this page (cameras need https:// or http://localhost).", true);
    return;
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({audio: false,
      video: {width: {ideal: 640}, height: {ideal: 480}, facingMode: "user"}});
  } catch (err) {
    say(`No camera: ${err.message || err.name}`, true);
    return;
  }
  showStage("video");
  ui.video.srcObject = stream;
  await ui.video.play();
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/v1/stream?model=${encodeURIComponent(ui.model.value)}`);
  live = {stream, ws, canvas: document.createElement("canvas"), frames: 0, started: performance.now()};
  ui.camera.textContent = "Stop camera";
  ui.camera.setAttribute("aria-pressed", "true");
  ws.onopen = () => { say("Camera on: looking for faces…"); sendFrame(); };
  ws.onmessage = (event) => onFrame(JSON.parse(event.data));
  ws.onerror = () => say("The stream to the server failed.", true);
  ws.onclose = (event) => {
    if (!live || live.ws !== ws) return;   // closed by stopCamera()
    const reason = live.lastError ? `: ${live.lastError}` : "";
    stopCamera();
    say(`The stream closed (code ${event.code})${reason}`, event.code !== 1000);
  };
}

function sendFrame() {
  if (!live || live.ws.readyState !== WebSocket.OPEN) return;
  const v = ui.video;
  if (!v.videoWidth) { requestAnimationFrame(sendFrame); return; }
  const scale = Math.min(1, MAX_SIDE / Math.max(v.videoWidth, v.videoHeight));
  const c = live.canvas;
  c.width = Math.round(v.videoWidth * scale);
  c.height = Math.round(v.videoHeight * scale);
  c.getContext("2d").drawImage(v, 0, 0, c.width, c.height);
  const ws = live.ws;
  c.toBlob((blob) => { if (blob && ws.readyState === WebSocket.OPEN) ws.send(blob); }, "image/jpeg", 0.9);
}

function onFrame(result) {
  if (!live) return;
  if (result.error) {
    live.lastError = result.message;
    say(`Server: ${result.message}`, true);
  } else if (result.faces) {
    live.frames += 1;
    ui.stage.dataset.frames = String(live.frames);
    show(result, result.width, result.height);
    const fps = (1000 * live.frames) / (performance.now() - live.started);
    say(`Camera on: ${result.faces.length} face(s), ${fps.toFixed(1)} frames/s`);
  }
  requestAnimationFrame(sendFrame);   // the next frame only once this one is answered
}

function stopCamera() {
  if (!live) return;
  const {stream, ws} = live;
  live = null;
  stream.getTracks().forEach((t) => t.stop());
  ws.close();
  ui.video.srcObject = null;
  ui.camera.textContent = "Start camera";
  ui.camera.setAttribute("aria-pressed", "false");
  say("Camera off.");
}

ui.camera.addEventListener("click", () => (live ? stopCamera() : startCamera()));
ui.file.addEventListener("change", () => upload(ui.file.files[0]));
ui.model.addEventListener("change", () => {
  classes = JSON.parse(ui.model.selectedOptions[0].dataset.classes);
  if (live) { stopCamera(); startCamera(); }
});
loadModels().catch((err) => say(`Could not reach the server: ${err.message}`, true));
