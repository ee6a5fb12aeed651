// Live try-on on the webcam: the browser sends camera frames straight to POST /v1/tryon/frames (same origin,
// the key typed into the studio) and draws each answer as it comes. Run by Gradio as the `js_on_load` of the
// webcam panel (`element` is the panel); the studio's controls reach it through `window.nsWebcam`.
//
// Two requests are in flight at a time (one is rendered while the other crosses the network and the ingress),
// and the next camera frame is encoded meanwhile, so it leaves the moment an answer comes. Frames leave in
// capture order with their capture time (the server's landmark smoothing follows it); an answer overtaken by a
// newer frame's is not drawn, and a slow server drops camera frames instead of queueing them.
const panel = element.querySelector(".ns-webcam");
const video = element.querySelector("video");
const shown = element.querySelector("canvas.ns-webcam-out");
const status = element.querySelector(".ns-webcam-status");
const grab = document.createElement("canvas");
const base = window.location.pathname.split("/studio")[0];
const IN_FLIGHT = 2;
// Over the key's rate limit (429), frames pause for the Retry-After and then leave at most every `gapMs`, a gap
// that grows with each 429 (at least 50 ms: 20 frames/s, the default 1200 requests/min a key may make).
const state = {
  running: false,
  stream: null,
  pending: null,
  encoding: false,
  inFlight: 0,
  seq: 0,
  drawn: 0,
  session: "",
  lastSent: 0,
  gapMs: 0,
  pausedUntil: 0,
};
const stats = { sent: 0, shown: 0, errors: 0, since: 0, requestMs: 0 }; // requestMs: summed over `sent`
const readout = { at: 0, frames: 0 };

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
  const now = performance.now();
  if (now - readout.at >= 1000) { // the rate over the last second or so
    const fps = ((stats.shown - readout.frames) * 1000) / (now - readout.at);
    say(`${fps.toFixed(1)} fps` + (state.gapMs ? ` · ${panel.dataset.limited}` : ""));
    Object.assign(readout, { at: now, frames: stats.shown });
  }
}

// A camera frame as a JPEG, to leave as soon as the request in flight is answered. One frame waits at a time
// and camera frames meanwhile are skipped, so the browser encodes only frames it sends.
async function capture() {
  const { key, shades } = settings();
  if (!key || !shades.length) {
    draw(video, false); // nothing to try on yet: the camera as it is
    say(panel.dataset.hint);
    return;
  }
  if (state.pending || state.encoding || !state.running) return;
  state.encoding = true;
  grab.width = video.videoWidth;
  grab.height = video.videoHeight;
  grab.getContext("2d").drawImage(video, 0, 0);
  const at = performance.now();
  const blob = await new Promise((resolve) => grab.toBlob(resolve, "image/jpeg", 0.85));
  state.pending = { blob, at };
  state.encoding = false;
  send();
}

async function send() {
  if (state.inFlight >= IN_FLIGHT || !state.pending || !state.running) return;
  const now = performance.now();
  if (now < state.pausedUntil || now - state.lastSent < state.gapMs) return; // the next camera frame tries again
  state.lastSent = now;
  const { blob, at } = state.pending;
  state.pending = null;
  state.inFlight += 1;
  const seq = ++state.seq;
  const { key, intensity, shades } = settings();
  const form = new FormData();
  form.append("frame", blob, "frame.jpg");
  form.append("session_id", state.session);
  for (const shade of shades) form.append("shade", shade);
  form.append("intensity", String(intensity));
  form.append("timestamp_ms", String(Math.round(at)));
  let answer = null;
  const asked = performance.now();
  try {
    const response = await fetch(`${base}/v1/tryon/frames`, {
      method: "POST",
      headers: { Authorization: `Bearer ${key}` },
      body: form,
    });
    if (response.ok) {
      answer = response.blob();
      stats.sent += 1;
      stats.requestMs += performance.now() - asked;
    } else {
      stats.errors += 1;
      const body = await response.json().catch(() => ({}));
      const message = (body.error && body.error.message) || response.statusText;
      say(`${response.status}: ${message}`);
      if (response.status === 429) {
        const wait = Number(response.headers.get("Retry-After")) || 1;
        state.pausedUntil = performance.now() + wait * 1000;
        state.gapMs = Math.max(50, state.gapMs * 1.25);
      } else {
        stop(); // a bad key or shade fails every frame alike
      }
    }
  } catch (error) {
    stats.errors += 1;
    say(String(error));
  }
  state.inFlight -= 1;
  send(); // the frame encoded meanwhile leaves now
  if (!answer) return;
  const image = await createImageBitmap(await answer);
  if (seq > state.drawn) {
    state.drawn = seq; // an answer overtaken by a newer frame's is not shown
    draw(image, true);
  }
}

function onFrame() {
  if (!state.running) return;
  capture();
  send(); // a frame held back by the rate limit's pacing
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
  Object.assign(state, { running: true, session: randomId(), pending: null, encoding: false, seq: 0, drawn: 0 });
  Object.assign(state, { lastSent: 0, gapMs: 0, pausedUntil: 0 });
  Object.assign(stats, { sent: 0, shown: 0, errors: 0, since: performance.now(), requestMs: 0 });
  Object.assign(readout, { at: performance.now(), frames: 0 });
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
