// Live try-on on the webcam: the browser sends camera frames straight to POST /v1/tryon/frames (same origin,
// the key typed into the studio) and draws each answer as it comes. Run by Gradio as the `js_on_load` of the
// webcam panel (`element` is the panel); the studio's controls reach it through `window.nsWebcam`.
//
// One request is in flight at a time, and the newest camera frame is encoded while it is: when the answer comes,
// the next frame leaves at once. Frames of a session therefore reach the server in capture order (its landmark
// smoothing needs that), and a slow answer drops camera frames instead of queueing them.
const panel = element.querySelector(".ns-webcam");
const video = element.querySelector("video");
const shown = element.querySelector("canvas.ns-webcam-out");
const status = element.querySelector(".ns-webcam-status");
const grab = document.createElement("canvas");
const base = window.location.pathname.split("/studio")[0];
const state = { running: false, stream: null, pending: null, busy: false, seq: 0, session: "" };
const stats = { sent: 0, shown: 0, errors: 0, since: 0 };

function randomId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function say(text) {
  status.textContent = text;
}

// Called once per camera frame (requestVideoFrameCallback; animation frames where a browser lacks it).
const nextFrame = video.requestVideoFrameCallback
  ? (callback) => video.requestVideoFrameCallback(callback)
  : (callback) => requestAnimationFrame(callback);

function settings() {
  return window.nsWebcamSettings || { key: "", intensity: 0.8, shades: [] };
}

function draw(image, processed) {
  const width = image.videoWidth || image.width;
  const height = image.videoHeight || image.height;
  if (shown.width !== width || shown.height !== height) {
    shown.width = width;
    shown.height = height;
  }
  shown.getContext("2d").drawImage(image, 0, 0);
  if (!processed) return;
  stats.shown += 1;
  shown.dataset.frames = String(stats.shown);
  const seconds = (performance.now() - stats.since) / 1000;
  if (stats.shown % 15 === 0 && seconds > 0) say(`${(stats.shown / seconds).toFixed(1)} fps`);
}

// The newest camera frame as a JPEG, waiting for its turn (an older one still waiting is replaced).
async function capture() {
  const { key, shades } = settings();
  if (!key || !shades.length) {
    draw(video, false); // nothing to try on yet: the camera as it is
    say(panel.dataset.hint);
    return;
  }
  grab.width = video.videoWidth;
  grab.height = video.videoHeight;
  grab.getContext("2d").drawImage(video, 0, 0);
  const blob = await new Promise((resolve) => grab.toBlob(resolve, "image/jpeg", 0.85));
  state.pending = { blob, at: performance.now() };
  send();
}

async function send() {
  if (state.busy || !state.pending || !state.running) return;
  const { blob, at } = state.pending;
  state.pending = null;
  state.busy = true;
  const { key, intensity, shades } = settings();
  const form = new FormData();
  form.append("frame", blob, "frame.jpg");
  form.append("session_id", state.session);
  for (const shade of shades) form.append("shade", shade);
  form.append("intensity", String(intensity));
  form.append("timestamp_ms", String(Math.round(at)));
  let answer = null;
  try {
    const response = await fetch(`${base}/v1/tryon/frames`, {
      method: "POST",
      headers: { Authorization: `Bearer ${key}` },
      body: form,
    });
    if (response.ok) {
      answer = response.blob();
      stats.sent += 1;
    } else {
      stats.errors += 1;
      const body = await response.json().catch(() => ({}));
      const message = (body.error && body.error.message) || response.statusText;
      say(`${response.status}: ${message}`);
      if (response.status !== 429) stop(); // a bad key or shade fails every frame alike
    }
  } catch (error) {
    stats.errors += 1;
    say(String(error));
  }
  state.busy = false;
  send(); // the frame encoded meanwhile leaves now
  if (answer) draw(await createImageBitmap(await answer), true);
}

function onFrame() {
  if (!state.running) return;
  capture();
  nextFrame(onFrame);
}

async function start() {
  if (state.running) return;
  say("…");
  try {
    state.stream = await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 30 } },
      audio: false,
    });
  } catch (error) {
    say(`camera: ${error.message || error}`);
    return;
  }
  video.srcObject = state.stream;
  await video.play();
  Object.assign(state, { running: true, session: randomId(), pending: null });
  Object.assign(stats, { sent: 0, shown: 0, errors: 0, since: performance.now() });
  nextFrame(onFrame);
}

function stop() {
  state.running = false;
  state.pending = null;
  if (state.stream) state.stream.getTracks().forEach((track) => track.stop());
  state.stream = null;
  video.srcObject = null;
}

if (window.nsWebcam) window.nsWebcam.stop(); // the panel was mounted again: one camera loop at a time
window.nsWebcam = { start, stop, stats, state };
