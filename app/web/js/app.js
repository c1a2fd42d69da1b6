// mokit web UI: boot, login (PIN pad), the session's re-login, hash routes, header and print toasts.
import * as api from './api.js';
import * as i18n from './i18n.js';
import { t } from './i18n.js';
import { h, clear, fill, toast, button, errText } from './ui.js';
import * as events from './events.js';

const ALL = ['registrar', 'nurse', 'doctor', 'pharmacist', 'lead'];
// Screens: who sees them, and the module that draws them (loaded when first opened).
export const SCREENS = {
  register: { roles: ['registrar', 'lead'], load: () => import('./screens/register.js') },
  vitals: { roles: ['nurse', 'doctor', 'lead'], load: () => import('./screens/vitals.js') },
  doctor: { roles: ['doctor', 'lead'], load: () => import('./screens/doctor.js') },
  pharmacy: { roles: ['pharmacist', 'lead'], load: () => import('./screens/pharmacy.js') },
  queue: { roles: ALL, load: () => import('./screens/queue.js') },
  dashboard: { roles: ALL, load: () => import('./screens/dashboard.js') },
  setup: { roles: ['lead'], load: () => import('./screens/setup.js') },
};

export const session = { staff: null, idle: null };
const STAFF_KEY = 'mokit.staff';
function rememberStaff(s) {
  if (s) localStorage.setItem(STAFF_KEY, JSON.stringify({ id: s.id, name: s.name, role: s.role }));
  else localStorage.removeItem(STAFF_KEY);
}
const view = document.getElementById('view');
let cleanup = null;
let renderSeq = 0;

function allowed(name) {
  return session.staff && SCREENS[name] && SCREENS[name].roles.includes(session.staff.role);
}

function parseHash() {
  const hash = location.hash.replace(/^#\/?/, '');
  const [path, query] = hash.split('?');
  const params = Object.fromEntries(new URLSearchParams(query || ''));
  return { name: path || '', params };
}

function ready(name) {
  document.documentElement.dataset.screen = name;
  document.documentElement.dataset.ready = '1';
  performance.mark('mokit-ready');
}

async function route() {
  const seq = ++renderSeq;
  document.documentElement.dataset.ready = '0';
  if (cleanup) {
    try {
      cleanup();
    } catch (e) {
      console.error(e);
    }
    cleanup = null;
  }
  clear(view);
  const { name, params } = parseHash();
  // The queue screen needs no login: a TV in the waiting room shows numbers only, and holds
  // no one's session.
  const open = name === 'queue';
  if (!session.staff && !open) {
    drawHeader();
    view.append(loginScreen());
    ready('login');
    return;
  }
  if (!name || !SCREENS[name]) {
    drawHeader();
    view.append(home());
    ready('home');
    return;
  }
  if (!allowed(name) && !open) {
    drawHeader();
    view.append(h('p', { class: 'banner warn', 'data-testid': 'forbidden' }, t('err.screen_forbidden')), home());
    ready('forbidden');
    return;
  }
  try {
    const mod = await SCREENS[name].load();
    if (seq !== renderSeq) return;
    const c = await mod.render(view, { params, session, navigate });
    if (seq !== renderSeq) {
      if (typeof c === 'function') c();
      return;
    }
    cleanup = typeof c === 'function' ? c : null;
    drawHeader(); // with the screen, in one layout
  } catch (e) {
    drawHeader();
    console.error(e);
    view.append(h('p', { class: 'banner error' }, errText(e)), button(t('common.retry'), route));
  }
  ready(name);
}

export function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

// ---------------------------------------------------------------- header
function drawHeader() {
  const top = document.getElementById('top');
  const nav = clear(document.getElementById('nav'));
  document.getElementById('lang').textContent = i18n.lang === 'vi' ? 'EN' : 'VI';
  document.getElementById('lang').setAttribute('aria-label', t('nav.language'));
  top.hidden = false;
  const who = document.getElementById('who');
  const logout = document.getElementById('logout');
  if (!session.staff) {
    who.textContent = '';
    logout.hidden = true;
    return;
  }
  logout.hidden = false;
  logout.textContent = t('nav.logout');
  who.textContent = session.staff.name + ' · ' + t('role.' + session.staff.role);
  const cur = parseHash().name;
  for (const name of Object.keys(SCREENS))
    if (allowed(name))
      nav.append(h('a', { href: '#/' + name, class: 'navlink' + (cur === name ? ' on' : ''), 'data-nav': name }, t('nav.' + name)));
}

function home() {
  const names = Object.keys(SCREENS).filter(allowed);
  return h('section', { class: 'home' },
    h('h1', null, t('home.title', { name: session.staff.name })),
    h('div', { class: 'tiles' }, names.map((n) => h('a', { class: 'tile', href: '#/' + n, 'data-tile': n }, h('strong', null, t('nav.' + n)), h('span', null, t('home.' + n))))));
}

// ---------------------------------------------------------------- PIN pad
function pinPad(onDone, message) {
  let pin = '';
  const dots = h('div', { class: 'pin-dots', 'data-testid': 'pin-dots', 'aria-live': 'polite' });
  const err = h('p', { class: 'pin-err', role: 'alert' });
  const ok = h('button', { type: 'button', class: 'btn primary key ok', 'data-key': 'ok', disabled: true }, t('login.ok'));
  const draw = () => {
    dots.textContent = pin ? '●'.repeat(pin.length) : t('login.enter_pin');
    ok.disabled = pin.length < 4;
  };
  const press = (k) => {
    err.textContent = '';
    if (k === 'del') pin = pin.slice(0, -1);
    else if (k === 'ok') return submit();
    else if (pin.length < 8) pin += k;
    draw();
  };
  let busy = false;
  const submit = async () => {
    if (pin.length < 4 || busy) return;
    busy = true;
    try {
      const r = await api.call('POST', '/login', { pin });
      pin = '';
      draw();
      session.staff = r.staff;
      session.idle = r.idle_timeout || null;
      rememberStaff(r.staff);
      await onDone(r.staff);
    } catch (e) {
      pin = '';
      draw();
      err.textContent = e.code === 'wrong_pin' ? t('login.wrong_pin') : e.code === 'too_many_attempts' ? t('login.wait') : errText(e);
    } finally {
      busy = false;
    }
  };
  const keys = ['1', '2', '3', '4', '5', '6', '7', '8', '9', 'del', '0'].map((k) =>
    h('button', { type: 'button', class: 'btn key', 'data-key': k, onclick: () => press(k), 'aria-label': k === 'del' ? t('login.delete') : k }, k === 'del' ? '⌫' : k));
  ok.addEventListener('click', () => press('ok'));
  const pad = h('div', { class: 'pinpad', tabindex: '0', 'data-testid': 'pinpad' },
    message ? h('p', { class: 'banner warn' }, message) : null,
    dots, h('div', { class: 'keys' }, keys, ok), err);
  pad.addEventListener('keydown', (ev) => {
    if (/^[0-9]$/.test(ev.key)) press(ev.key);
    else if (ev.key === 'Backspace') press('del');
    else if (ev.key === 'Enter') press('ok');
    else return;
    ev.preventDefault();
  });
  draw();
  setTimeout(() => pad.focus(), 0);
  return pad;
}

function loginScreen() {
  return h('section', { class: 'login' },
    h('h1', null, t('login.title')),
    pinPad(async () => {
      events.start();
      route();
    }));
}

// The session ended while working: the PIN pad over the screen, then the request goes again.
let reauthing = null;
function reauth() {
  if (reauthing) return reauthing;
  const box = document.getElementById('overlay');
  reauthing = new Promise((resolve) => {
    fill(box, h('div', { class: 'dialog', role: 'dialog', 'aria-modal': 'true', 'data-testid': 'relogin' },
      h('h2', null, t('login.expired_title')),
      pinPad(async () => {
        box.hidden = true;
        clear(box);
        reauthing = null;
        events.restart();
        drawHeader();
        resolve();
      }, t('login.expired'))));
    box.hidden = false;
  });
  return reauthing;
}
api.setReauth(reauth);

// ---------------------------------------------------------------- print results
// Jobs this page asked for: their state changes come as `print` events and show as toasts.
const myJobs = new Map();
const jobStates = new Map(); // id -> the last `print` event of the job
function jobText(kind, j) {
  return t('kind.' + kind) + ': ' + t('job.' + j.state) + (j.last_error ? ' — ' + j.last_error : '');
}
export function trackJob(job, kind) {
  if (job && job.id) myJobs.set(job.id, kind || job.kind);
}
// A print job's change: from a `print` event, or from asking the kit when no event came.
function jobChanged(j) {
  const before = jobStates.get(j.id);
  if (before && before.state === j.state && before.last_error === j.last_error) return;
  jobStates.set(j.id, j);
  for (const el of document.querySelectorAll('[data-job="' + j.id + '"]')) {
    el.dataset.state = j.state;
    el.textContent = jobText(j.kind, j);
  }
  if (!myJobs.has(j.id)) return;
  if (j.state === 'done') {
    toast(t('print.done', { kind: t('kind.' + j.kind) }), 'ok');
    myJobs.delete(j.id);
  } else if (j.state === 'failed') {
    toast(t('print.failed', { kind: t('kind.' + j.kind) }) + (j.last_error ? ': ' + j.last_error : ''), 'error', 8000);
    myJobs.delete(j.id);
  } else if (j.last_error) {
    toast(t('print.problem', { printer: j.printer }) + ': ' + j.last_error, 'warn', 8000);
  }
}
events.on('print', jobChanged);
// Events can be missed (a reconnect, a job done before this page listened): look again now and then.
function watchJob(id, tries = 0) {
  setTimeout(async () => {
    const j = jobStates.get(id);
    if (j && (j.state === 'done' || j.state === 'failed' || j.state === 'cancelled')) return;
    try {
      jobChanged(await api.get('/print-jobs/' + encodeURIComponent(id)));
    } catch {
      /* try again */
    }
    if (tries < 20) watchJob(id, tries + 1);
  }, tries < 5 ? 1500 : 5000);
}

// One line per print result ({kind, job} or {kind, error}) that follows the job live.
export function printLines(results) {
  return h('ul', { class: 'prints', 'data-testid': 'prints' }, (results || []).map((p) => {
    const kind = p.kind || (p.job && p.job.kind) || '';
    if (p.error) return h('li', { class: 'err', 'data-kind': kind }, t('kind.' + kind) + ': ' + t('print.not_printed') + ' — ' + (p.error.message || p.error.code));
    const j = jobStates.get(p.job.id) || p.job;
    if (j.state !== 'done' && j.state !== 'failed') {
      trackJob(p.job, kind);
      watchJob(p.job.id);
    }
    return h('li', { 'data-kind': kind, 'data-job': p.job.id, 'data-state': j.state }, jobText(kind, j));
  }));
}

// ---------------------------------------------------------------- boot
async function boot() {
  // In parallel: the texts, who is logged in, and the module of the screen asked for.
  const first = SCREENS[parseHash().name];
  if (first) first.load().catch(() => null);
  // Who was logged in on this phone is remembered (name and role only), so that the screen is
  // drawn at once; GET /me confirms it alongside, and a login that ended shows the PIN pad.
  const me = api.call('GET', '/me').then((s) => s, (e) => (e.status === 401 ? null : undefined));
  let known = null;
  try {
    known = JSON.parse(localStorage.getItem(STAFF_KEY));
  } catch {
    known = null;
  }
  await i18n.load();
  session.staff = known || (await me);
  if (session.staff === undefined) session.staff = null;
  me.then((s) => {
    if (s === undefined) return; // the kit could not be reached: keep what is known
    rememberStaff(s);
    if (!s && reauthing) return; // the PIN pad is already over the screen
    const changed = (s && s.id) !== (session.staff && session.staff.id) || (s && s.role) !== (session.staff && session.staff.role);
    session.staff = s;
    if (changed) route();
  });
  i18n.apply();
  document.getElementById('lang').addEventListener('click', async () => {
    await i18n.load(i18n.lang === 'vi' ? 'en' : 'vi');
    i18n.apply();
    route();
  });
  document.getElementById('logout').addEventListener('click', async () => {
    try {
      await api.call('POST', '/logout');
    } catch {
      /* logged out either way */
    }
    session.staff = null;
    rememberStaff(null);
    events.stop();
    location.hash = '#/';
    route();
  });
  const badge = document.getElementById('outbox');
  badge.addEventListener('click', () => api.pump());
  api.onOutbox((n) => {
    badge.hidden = n === 0;
    badge.textContent = t('outbox.waiting', { n });
  });
  window.addEventListener('mokit:sent', (ev) => {
    const d = ev.detail;
    if (d.orphan && d.status >= 400) toast(t('outbox.refused', { what: d.entry.label || d.entry.path }) + ': ' + ((d.data && d.data.error && d.data.error.message) || d.status), 'error', 10000);
  });
  window.addEventListener('hashchange', route);
  await route();
  if (session.staff) {
    events.start();
    api.pump();
  }
}
boot();
