// The kit's event stream (Server-Sent Events, the session cookie authenticates it).
// on('reading', fn) subscribes and returns an unsubscribe function; on('reconnect', fn) is called
// when the stream opens again after a break, so that screens reload what they show.
const subs = new Map();
let es = null;
let broken = false;
let retry = null;
let wait = 1500;
const TYPES = ['scan', 'reading', 'device', 'station', 'call', 'print', 'stock'];

function emit(type, data) {
  for (const fn of subs.get(type) || []) {
    try {
      fn(data);
    } catch (e) {
      console.error(e);
    }
  }
}

export function start() {
  if (es) return;
  es = new EventSource('/api/v1/events');
  es.onopen = () => {
    wait = 1500;
    if (broken) emit('reconnect', {});
    broken = false;
    document.documentElement.dataset.live = '1';
  };
  es.onerror = () => {
    broken = true;
    document.documentElement.dataset.live = '0';
    if (es.readyState === EventSource.CLOSED) {
      // The browser gave up (the login ended, or the kit went away): start again later, less
      // often the longer it lasts; a new login restarts the stream at once.
      es = null;
      clearTimeout(retry);
      wait = Math.min(wait * 2, 30000);
      retry = setTimeout(start, wait);
    }
  };
  for (const type of TYPES)
    es.addEventListener(type, (ev) => {
      let data;
      try {
        data = JSON.parse(ev.data);
      } catch {
        return;
      }
      emit(type, data);
    });
}

export function stop() {
  clearTimeout(retry);
  if (es) es.close();
  es = null;
}

export function restart() {
  stop();
  broken = true;
  start();
}

export function on(type, fn) {
  if (!subs.has(type)) subs.set(type, new Set());
  subs.get(type).add(fn);
  return () => subs.get(type).delete(fn);
}
