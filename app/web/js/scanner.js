// A USB barcode scanner in keyboard mode types a whole code fast and ends with Enter. When no
// text field has the focus, fast keys are collected here and handed to the screen as one scan.
// Inside a field, screens handle Enter themselves (scanField).
import { h } from './ui.js';

const MAX_GAP = 60; // ms between two keys of a scanner
let buf = '';
let last = 0;
let handler = null;

export function onScan(fn) {
  handler = fn;
  return () => {
    if (handler === fn) handler = null;
  };
}

function editable(el) {
  if (!el) return false;
  const tag = el.tagName;
  return el.isContentEditable || tag === 'TEXTAREA' || tag === 'SELECT' ||
    (tag === 'INPUT' && !['checkbox', 'radio', 'button', 'submit'].includes(el.type));
}

document.addEventListener('keydown', (ev) => {
  if (editable(ev.target) || ev.ctrlKey || ev.altKey || ev.metaKey) return;
  const now = performance.now();
  if (now - last > MAX_GAP * 4) buf = '';
  last = now;
  if (ev.key === 'Enter') {
    const code = buf;
    buf = '';
    if (code.length >= 6 && handler) {
      ev.preventDefault();
      handler(code);
    }
    return;
  }
  if (ev.key.length === 1) buf += ev.key;
});

// An input for scans and typed codes: Enter hands its text to fn and empties it.
export function scanField(fn, props = {}) {
  const input = h('input', Object.assign({ type: 'text', class: 'scan', autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false', enterkeyhint: 'go' }, props));
  input.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Enter') return;
    ev.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = '';
    fn(text);
  });
  return input;
}

// The phone's camera through BarcodeDetector (Chrome on Android). null where there is none.
export function cameraButton(label, fn) {
  if (!('BarcodeDetector' in window)) return null;
  return h('button', { type: 'button', class: 'btn', 'data-testid': 'camera', onclick: () => cameraScan(fn) }, label);
}

async function cameraScan(fn) {
  const det = new window.BarcodeDetector({ formats: ['qr_code', 'code_128', 'data_matrix'] });
  const video = h('video', { class: 'camera', playsinline: true, muted: true });
  const box = h('div', { class: 'overlay cam' }, video, h('button', { type: 'button', class: 'btn', onclick: () => done() }, '✕'));
  document.body.append(box);
  let stream, stop = false;
  const done = () => {
    stop = true;
    if (stream) for (const tr of stream.getTracks()) tr.stop();
    box.remove();
  };
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } });
    video.srcObject = stream;
    await video.play();
    while (!stop) {
      const codes = await det.detect(video);
      if (codes.length) {
        done();
        fn(codes[0].rawValue);
        return;
      }
      await new Promise((r) => setTimeout(r, 150));
    }
  } catch (e) {
    done();
    console.error(e);
  }
}
