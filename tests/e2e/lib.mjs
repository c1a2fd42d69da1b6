// Machinery of the browser tests: the daemon on a fresh data directory and a free port, Debian's
// chromium through playwright-core, an API client for set-up and checks, TAP output, and an
// interaction counter (a click, a whole field filled, a scanner's code = one interaction each).
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];
export const PINS = { registrar: '1111', nurse: '2222', doctor: '3333', pharmacist: '4444', lead: '9999' };

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export { sleep };

// mokitd --demo on a new data directory. extra: more arguments (e.g. ['--idle-minutes', '1']).
export async function startDaemon(buildDir, extra = []) {
  const tmp = mkdtempSync(path.join(tmpdir(), 'mokit-e2e-'));
  const port = await freePort();
  const log = path.join(tmp, 'mokitd.log');
  const fd = openSync(log, 'a');
  const exe = path.resolve(buildDir, 'mokitd');
  const argv = ['--data', path.join(tmp, 'data'), '--demo', '--listen', '127.0.0.1:' + port, '--usb', 'no', '--evdev', 'no',
    '--web', path.join(REPO, 'app/web'), ...extra];
  const proc = spawn(exe, argv, { stdio: ['ignore', fd, fd] });
  let exited = null;
  proc.on('exit', (code, sig) => (exited = code != null ? code : sig));
  const base = 'http://127.0.0.1:' + port;
  const deadline = Date.now() + 15000;
  for (;;) {
    if (exited != null) throw new Error('mokitd exited (' + exited + ') while starting:\n' + readFileSync(log, 'utf8').slice(-3000));
    try {
      const r = await fetch(base + '/api/v1/health');
      if (r.ok) break;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error('mokitd did not answer /api/v1/health');
    await sleep(50);
  }
  return {
    base, port, tmp, log,
    async stop() {
      if (exited == null) {
        proc.kill('SIGTERM');
        for (let i = 0; i < 100 && exited == null; i++) await sleep(50);
        if (exited == null) proc.kill('SIGKILL');
      }
      return exited;
    },
    cleanup() {
      rmSync(tmp, { recursive: true, force: true });
    },
    logTail() {
      try {
        return readFileSync(log, 'utf8').slice(-2000);
      } catch {
        return '';
      }
    },
  };
}

export async function launch() {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

// A logged-in API client for set-up and checks (Bearer token).
export async function apiClient(base, pin) {
  const r = await fetch(base + '/api/v1/login', { method: 'POST', body: JSON.stringify({ pin }) });
  const j = await r.json();
  if (!r.ok) throw new Error('login ' + pin + ': ' + JSON.stringify(j));
  const token = j.token;
  const call = async (method, p, body) => {
    const res = await fetch(base + '/api/v1' + p, {
      method, headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = text;
    }
    return { status: res.status, data };
  };
  return {
    token, staff: j.staff, login: j, call,
    async get(p) {
      const r = await call('GET', p);
      if (r.status !== 200) throw new Error('GET ' + p + ' -> ' + r.status + ' ' + JSON.stringify(r.data));
      return r.data;
    },
    async post(p, body, want) {
      const r = await call('POST', p, body === undefined ? {} : body);
      if (want && r.status !== want) throw new Error('POST ' + p + ' -> ' + r.status + ' ' + JSON.stringify(r.data));
      return r.data;
    },
  };
}

// ------------------------------------------------------------------ TAP
export class Tap {
  constructor() {
    this.n = 0;
    this.failed = 0;
  }
  ok(cond, name, diag) {
    this.n++;
    if (cond) console.log('ok ' + this.n + ' - ' + name);
    else {
      this.failed++;
      console.log('not ok ' + this.n + ' - ' + name);
      if (diag) console.log(String(diag).split('\n').map((l) => '# ' + l).join('\n'));
    }
  }
  comment(s) {
    console.log('# ' + s);
  }
  plan() {
    console.log('1..' + this.n);
  }
}

// ------------------------------------------------------------------ assertions
export class AssertionError extends Error {}
export function eq(a, b, what) {
  if (a !== b) throw new AssertionError((what || 'value') + ': expected ' + JSON.stringify(b) + ', got ' + JSON.stringify(a));
}
export function ok(c, what) {
  if (!c) throw new AssertionError(what || 'assertion failed');
}

// ------------------------------------------------------------------ pages
export async function waitReady(page, screen, timeout = 10000) {
  await page.waitForFunction((s) => document.documentElement.dataset.ready === '1' && (!s || document.documentElement.dataset.screen === s), screen, { timeout });
}

// Counts what a person does: each click, each field filled, each scan is one interaction.
export class Person {
  constructor(page) {
    this.page = page;
    this.count = 0;
    this.log = [];
  }
  note(what) {
    this.count++;
    this.log.push(what);
  }
  async click(sel) {
    this.note('click ' + sel);
    await this.page.locator(sel).first().click();
  }
  async fill(sel, value) {
    this.note('fill ' + sel);
    await this.page.locator(sel).first().fill(value);
  }
  async select(sel, value) {
    this.note('select ' + sel);
    await this.page.locator(sel).first().selectOption(value);
  }
  // A USB scanner in keyboard mode: the whole code typed fast, then Enter.
  async scanKeys(text) {
    this.note('scan');
    await this.page.keyboard.type(text, { delay: 0 });
    await this.page.keyboard.press('Enter');
  }
  // The demo wristband scanner (a device on the kit) reads a code.
  async scanDevice(api, code) {
    this.note('scan (device)');
    await api.post('/devices/demo-scanner/simulate', { code }, 202);
  }
  reset() {
    this.count = 0;
    this.log = [];
  }
}

export async function login(page, base, pin, hash = '#/') {
  await page.goto(base + '/' + hash);
  await waitReady(page);
  const screen = await page.evaluate(() => document.documentElement.dataset.screen);
  if (screen === 'login') {
    await page.locator('[data-testid=pinpad]').focus();
    await page.keyboard.type(pin);
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.documentElement.dataset.screen !== 'login' && document.documentElement.dataset.ready === '1');
  }
}

export function screensDir(buildDir) {
  const d = path.resolve(buildDir, 'e2e-screens');
  mkdirSync(d, { recursive: true });
  return d;
}
