// The checkpoint station page: camera capture, one frame in flight to the station, the verdict
// screen, sounds, and the state on <body> for tests and assistive tools
// (data-verdict, data-reason, data-plate, data-announcements).
'use strict';

const SHOW_AFTER_VIEW_MS = 10000; // the verdict stays this long after the pass leaves the view
const HIDE_CREW_MS = 30000;       // the crew's names are personal data: hidden again after this
const body = document.body;
const token = body.dataset.token;
const $ = (id) => document.getElementById(id);

let socket = null;
let inFlight = false;
let stream = null;
let video = null;
const canvas = document.createElement('canvas');
const context = canvas.getContext('2d', { willReadFrequently: true });
let announcements = 0;
let shownAt = 0;
let lastInView = 0;
let audio = null;
const frameTimes = [];
let lastMs = null;

// ---------------------------------------------------------------- the connection

function connect() {
  socket = new WebSocket(`ws://${location.host}/ws?token=${encodeURIComponent(token)}`);
  socket.binaryType = 'arraybuffer';
  socket.onopen = () => { setConnection(true); inFlight = false; pump(); };
  socket.onclose = () => { setConnection(false); inFlight = false; setTimeout(connect, 1000); };
  socket.onmessage = (event) => {
    let message;
    try { message = JSON.parse(event.data); } catch (e) { banner('station sent garbage', true); return; }
    if (message.type === 'result') onResult(message);
    else if (message.type === 'status') onStatus(message);
    else if (message.type === 'error') onError(message);
  };
}

function setConnection(up) {
  const pill = $('st-conn');
  pill.textContent = up ? '已连接 connected' : '未连接 disconnected';
  pill.className = 'pill ' + (up ? 'ok' : 'bad');
}

// ---------------------------------------------------------------- the camera

function cameraMessage(error) {
  switch (error && error.name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return '摄像头权限被拒绝 — Camera access was denied. Allow the camera for this page (the camera icon in the address bar), then press Retry.';
    case 'NotFoundError':
    case 'OverconstrainedError':
      return '没有找到摄像头 — No camera found. Connect a webcam and press Retry, or use the text box or a photo below.';
    case 'NotReadableError':
    case 'AbortError':
      return '摄像头被占用 — The camera is busy or failed (another program may be using it). Close that program, then press Retry.';
    default:
      return '摄像头无法启动 — The camera could not be started' + (error && error.message ? ` (${error.message})` : '') + '. Press Retry, or use the text box or a photo below.';
  }
}

function showCameraError(error) {
  body.dataset.camera = 'error';
  $('camera-error-text').textContent = cameraMessage(error);
  $('camera-error').hidden = false;
}

async function startCamera() {
  $('camera-error').hidden = true;
  body.dataset.camera = 'starting';
  if (stream) stream.getTracks().forEach((t) => t.stop());
  stream = null;
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    showCameraError({ name: 'NotFoundError' });
    return;
  }
  const saved = localStorage.getItem('checkpass.camera');
  const video720 = { width: { ideal: 1280 }, height: { ideal: 720 } };
  try {
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: false,
        video: saved ? { ...video720, deviceId: { exact: saved } } : video720,
      });
    } catch (e) {
      // The remembered camera is gone: fall back to any camera.
      if (!saved || (e.name !== 'OverconstrainedError' && e.name !== 'NotFoundError')) throw e;
      localStorage.removeItem('checkpass.camera');
      stream = await navigator.mediaDevices.getUserMedia({ audio: false, video: video720 });
    }
  } catch (e) {
    showCameraError(e);
    return;
  }
  video.srcObject = stream;
  try { await video.play(); } catch (e) { /* autoplay of a muted video is allowed; ignore */ }
  body.dataset.camera = 'on';
  listCameras();
  pump();
}

async function listCameras() {
  const select = $('camera');
  const current = stream && stream.getVideoTracks()[0] ? stream.getVideoTracks()[0].getSettings().deviceId : '';
  let devices = [];
  try { devices = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === 'videoinput'); } catch (e) { return; }
  select.replaceChildren(...devices.map((d, i) => {
    const option = document.createElement('option');
    option.value = d.deviceId;
    option.textContent = d.label || `camera ${i + 1}`;
    option.selected = d.deviceId === current;
    return option;
  }));
}

// One frame in flight: the next frame is grabbed when the station has answered the last one,
// and after the video has a new frame to give.
function pump() {
  if (inFlight || !socket || socket.readyState !== WebSocket.OPEN || !stream) return;
  const width = video.videoWidth;
  const height = video.videoHeight;
  if (!width || !height) { setTimeout(pump, 50); return; }
  canvas.width = width;
  canvas.height = height;
  context.drawImage(video, 0, 0, width, height);
  const rgba = context.getImageData(0, 0, width, height).data;
  const message = new Uint8Array(5 + width * height);
  message[0] = 1;
  message[1] = width & 255; message[2] = width >> 8;
  message[3] = height & 255; message[4] = height >> 8;
  // Luma (BT.601) only: a third of the bytes of colour, and all the decoder uses.
  for (let i = 0, j = 5; i < rgba.length; i += 4, j++) {
    message[j] = (rgba[i] * 77 + rgba[i + 1] * 150 + rgba[i + 2] * 29) >> 8;
  }
  inFlight = true;
  socket.send(message.buffer);
}

function nextFrame() {
  if (video && video.requestVideoFrameCallback) {
    let done = false;
    const go = () => { if (!done) { done = true; pump(); } };
    video.requestVideoFrameCallback(go);
    setTimeout(go, 200); // a stalled camera must not stall the loop
  } else {
    setTimeout(pump, 30);
  }
}

// ---------------------------------------------------------------- answers

function onResult(message) {
  if (message.source === 'camera') {
    inFlight = false;
    const now = performance.now();
    frameTimes.push(now);
    while (frameTimes.length && now - frameTimes[0] > 2000) frameTimes.shift();
    lastMs = message.ms;
    if (message.in_view) lastInView = Date.now();
    // Whether the station still counts the pass as presented (its grace not yet over).
    body.dataset.presenting = message.presenting ? '1' : '0';
    nextFrame();
  }
  if (message.announce) show(message.verdict, message.source);
}

function onError(message) {
  if (message.source === 'camera' || message.source === 'message') { inFlight = false; nextFrame(); }
  banner('错误 Error: ' + message.message, true, 6000);
}

function banner(text, error, ms) {
  const div = document.createElement('div');
  div.className = 'banner' + (error ? ' error' : '');
  div.textContent = text;
  $('banners').append(div);
  setTimeout(() => div.remove(), ms || 6000);
}

function set(id, text) { $(id).textContent = text == null ? '' : text; }

function show(verdict, source) {
  announcements += 1;
  const accepted = verdict.verdict === 'accepted';
  const pass = verdict.pass;
  body.dataset.verdict = accepted ? 'accepted' : 'rejected';
  body.dataset.reason = verdict.reason || '';
  body.dataset.plate = pass ? pass.plate : '';
  body.dataset.announcements = String(announcements);
  set('v-word', accepted ? '✔ 通过 ACCEPTED' : '✘ 拒绝 REJECTED');
  set('v-reason', accepted ? '' : `${verdict.message || ''} (${verdict.reason})`);
  set('v-detail', verdict.detail || '');
  $('v-warnings').replaceChildren(...(verdict.warning_messages || []).map((w) => {
    const li = document.createElement('li');
    li.textContent = '⚠ ' + w;
    return li;
  }));
  $('v-pass').hidden = !pass;
  if (pass) {
    set('v-plate', pass.plate);
    set('v-vehicle', pass.vehicle_type_label);
    set('v-holder', pass.holder + (pass.org_code ? `（${pass.org_code}）` : ''));
    set('v-crew', verdict.crew_text || '—');
    const place = (name, code) => (name ? `${name} (${code})` : code);
    set('v-route', `${place(pass.origin_name, pass.origin)} → ${place(pass.destination_name, pass.destination)}`);
    set('v-zones', pass.zones.map((z, i) => place(pass.zone_names[i], z)).join('、'));
    set('v-cargo', pass.cargo);
    set('v-valid', verdict.valid_text || `${pass.valid_from} → ${pass.valid_until}`);
    set('v-number', `${pass.pass_number || pass.serial}` + (pass.supersedes ? ` (替换 replaces ${pass.supersedes})` : ''));
    set('v-issuer', `${pass.issuer || ''} · ${verdict.issued_text || ''}`);
    $('v-issuer').title = `key ${pass.key_id || ''}`;
  }
  const seen = verdict.seen_before;
  $('v-seen').hidden = !seen;
  if (seen) {
    const nth = seen.count + 1;
    set('v-seen', `今日已核验 ${seen.count} 次，首次 ${seen.first} · seen before at ${seen.first} (${nth}${ordinal(nth)} time today)`);
  }
  $('verdict').hidden = false;
  shownAt = Date.now();
  if (source !== 'camera') lastInView = shownAt;
  sound(accepted);
}

function ordinal(n) {
  if (n % 100 >= 11 && n % 100 <= 13) return 'th';
  return ['th', 'st', 'nd', 'rd'][n % 10] || 'th';
}

function idle() {
  body.dataset.verdict = 'idle';
  body.dataset.reason = '';
  body.dataset.plate = '';
  $('verdict').hidden = true;
  $('text').focus();
}

setInterval(() => {
  if (body.dataset.verdict === 'idle') return;
  const now = Date.now();
  if (now - Math.max(lastInView, shownAt) > SHOW_AFTER_VIEW_MS) idle();
  else if (now - shownAt > HIDE_CREW_MS) set('v-crew', '（已隐藏 hidden）');
}, 250);

function onStatus(s) {
  set('st-zone', s.zone || '未设置 not set');
  set('st-issuers', s.issuers);
  const rev = s.revocation;
  $('st-rev-wrap').classList.toggle('stale', !!(rev && rev.stale));
  set('st-rev', rev ? `v${rev.version}, ${rev.revoked} · ${rev.age_s == null ? '无 none' : age(rev.age_s)}` : '未配置 not configured');
  set('st-sync', s.sync_error ? `失败 failed: ${s.sync_error}` : (s.last_sync || '—'));
  set('st-today', `✔ ${s.today.accepted} · ✘ ${s.today.rejected}`);
  set('st-fps', frameTimes.length > 1 ? ((frameTimes.length - 1) / ((frameTimes[frameTimes.length - 1] - frameTimes[0]) / 1000)).toFixed(1) : '—');
  set('st-ms', lastMs == null ? '—' : lastMs.toFixed(1));
}

function age(s) {
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

// ---------------------------------------------------------------- sound (Web Audio, no files)

function unlockAudio() {
  if (!audio) {
    try { audio = new AudioContext(); } catch (e) { return; }
  }
  if (audio.state === 'suspended') audio.resume();
  $('sound-hint').hidden = true;
}

function tone(freq, start, length, type) {
  const osc = audio.createOscillator();
  const gain = audio.createGain();
  osc.type = type;
  osc.frequency.value = freq;
  gain.gain.setValueAtTime(0.0001, audio.currentTime + start);
  gain.gain.exponentialRampToValueAtTime(0.4, audio.currentTime + start + 0.01);
  gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + start + length);
  osc.connect(gain).connect(audio.destination);
  osc.start(audio.currentTime + start);
  osc.stop(audio.currentTime + start + length + 0.02);
}

function sound(accepted) {
  if (!audio || audio.state !== 'running' || $('mute').checked) return;
  if (accepted) { tone(660, 0, 0.12, 'sine'); tone(990, 0.13, 0.2, 'sine'); }
  else { for (let i = 0; i < 3; i++) tone(196, i * 0.22, 0.18, 'square'); }
}

// ---------------------------------------------------------------- other ways in

$('manual').addEventListener('submit', (event) => {
  event.preventDefault();
  const text = $('text').value.trim();
  if (!text || !socket || socket.readyState !== WebSocket.OPEN) return;
  socket.send(JSON.stringify({ type: 'text', text }));
  $('text').value = '';
});

$('photo').addEventListener('change', async () => {
  const file = $('photo').files[0];
  if (!file || !socket || socket.readyState !== WebSocket.OPEN) return;
  if (file.size > 16 * 1024 * 1024) { banner('照片太大 The photo is larger than 16 MiB', true); return; }
  const bytes = new Uint8Array(await file.arrayBuffer());
  const message = new Uint8Array(bytes.length + 1);
  message[0] = 2;
  message.set(bytes, 1);
  socket.send(message.buffer);
  $('photo').value = '';
});

$('camera').addEventListener('change', () => {
  localStorage.setItem('checkpass.camera', $('camera').value);
  startCamera();
});
$('camera-retry').addEventListener('click', startCamera);
$('mute').checked = localStorage.getItem('checkpass.mute') === '1';
$('mute').addEventListener('change', () => localStorage.setItem('checkpass.mute', $('mute').checked ? '1' : '0'));
document.addEventListener('pointerdown', unlockAudio);
document.addEventListener('keydown', unlockAudio);

video = $('video');
connect();
startCamera();
