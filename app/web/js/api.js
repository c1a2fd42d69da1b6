// The kit's JSON API. Reads (get) fail at once when the kit cannot be reached. Writes (send) go
// through an outbox kept in localStorage: a write that cannot be sent (no Wi-Fi) stays queued,
// "not sent yet", and is retried on a timer and when the browser comes back online; a write
// refused because the session ended (401) waits for the PIN to be entered again and is then sent
// again. Writes are sent one at a time, in the order they were made.
const BASE = '/api/v1';
const OUTBOX = 'mokit.outbox';
const RETRY_MS = 3000;

export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || 'HTTP ' + status);
    this.status = status;
    this.code = e.code || null;
    this.field = e.field || null;
    this.body = body;
  }
}

let reauth = null; // () => Promise, set by app.js: shows the PIN pad over the screen
export function setReauth(fn) {
  reauth = fn;
}

const listeners = new Set(); // outbox changes: fn(count, offline)
export function onOutbox(fn) {
  listeners.add(fn);
  fn(outbox.length, offline);
}
let offline = false;
function notify() {
  for (const fn of listeners) fn(outbox.length, offline);
}

async function raw(method, path, body, key) {
  const opts = { method, credentials: 'same-origin', headers: {} };
  // A write sent again after its answer was lost gets that answer back: never done twice.
  if (key) opts.headers['Idempotency-Key'] = key;
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  let r;
  try {
    r = await fetch(BASE + path, opts);
  } catch (e) {
    const err = new Error('network');
    err.offline = true;
    throw err;
  }
  const text = await r.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  return { status: r.status, data };
}

function expired(r, path) {
  return r.status === 401 && path !== '/login' && r.data && r.data.error && r.data.error.code === 'unauthorized';
}

export async function get(path) {
  for (;;) {
    const r = await raw('GET', path);
    if (expired(r, path) && reauth) {
      await reauth();
      continue;
    }
    if (r.status >= 400) throw new ApiError(r.status, r.data);
    return r.data;
  }
}

// A write that only makes sense now (a scan, a queue call, parsing an ID card): not queued; a
// network failure throws at once. An ended login still brings up the PIN pad, then it goes again.
export async function now(method, path, body) {
  for (;;) {
    const r = await raw(method, path, body === undefined ? {} : body);
    if (expired(r, path) && reauth) {
      await reauth();
      continue;
    }
    if (r.status >= 400) throw new ApiError(r.status, r.data);
    return r.data;
  }
}

// Direct request, not queued (login, logout).
export async function call(method, path, body) {
  const r = await raw(method, path, body);
  if (r.status >= 400) throw new ApiError(r.status, r.data);
  return r.data;
}

// ---------------------------------------------------------------- the outbox
function loadBox() {
  try {
    return JSON.parse(localStorage.getItem(OUTBOX)) || [];
  } catch {
    return [];
  }
}
let outbox = loadBox();
const waiters = new Map();
function saveBox() {
  localStorage.setItem(OUTBOX, JSON.stringify(outbox));
  notify();
}

// send('POST', '/visits/ID/observations', {...}, {label, onQueued}) -> Promise of the answer's
// JSON; rejects with ApiError on a 4xx/5xx. onQueued() is called when the write could not be
// sent and waits in the outbox.
function newKey() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

// Who is logged in on this browser (app.js keeps it): a write waits for the one who made it.
function currentStaff() {
  try {
    const s = JSON.parse(localStorage.getItem('mokit.staff'));
    return s && s.id;
  } catch {
    return null;
  }
}

export function send(method, path, body, opts = {}) {
  const e = {
    id: Date.now().toString(36) + Math.random().toString(36).slice(2, 8),
    key: newKey(),
    staff: currentStaff(),
    method,
    path,
    body,
    label: opts.label || '',
  };
  outbox.push(e);
  saveBox();
  return new Promise((resolve, reject) => {
    waiters.set(e.id, { resolve, reject, onQueued: opts.onQueued });
    pump();
  });
}

export function pending() {
  return outbox.slice();
}

let pumping = false;
let timer = null;
export async function pump() {
  if (pumping) return;
  pumping = true;
  clearTimeout(timer);
  try {
    while (outbox.length) {
      const e = outbox[0];
      // Made by someone else, who logged out before it went: it waits for them to log in again
      // rather than go under another name.
      if (e.staff && currentStaff() !== e.staff) {
        timer = setTimeout(pump, RETRY_MS);
        return;
      }
      if (!e.key) {
        e.key = newKey(); // queued by an older page
        saveBox();
      }
      let r;
      try {
        r = await raw(e.method, e.path, e.body, e.key);
      } catch {
        offline = true;
        notify();
        for (const q of outbox) {
          const w = waiters.get(q.id);
          if (w && w.onQueued && !w.told) {
            w.told = true;
            w.onQueued();
          }
        }
        timer = setTimeout(pump, RETRY_MS);
        return;
      }
      if (expired(r, e.path) && reauth) {
        await reauth();
        continue;
      }
      offline = false;
      outbox.shift();
      saveBox();
      const w = waiters.get(e.id);
      waiters.delete(e.id);
      if (w) {
        if (r.status >= 400) w.reject(new ApiError(r.status, r.data));
        else w.resolve(r.data);
      }
      // Also for writes queued before a reload, whose caller is gone.
      window.dispatchEvent(new CustomEvent('mokit:sent', { detail: { entry: e, status: r.status, data: r.data, orphan: !w } }));
    }
  } finally {
    pumping = false;
  }
  notify();
}

window.addEventListener('online', pump);
