// Web UI benchmark (`make bench`, not part of `make test`). usage: node tests/bench/bench_web.mjs BUILD_DIR
//   a) bytes: HTML + JS + CSS + JSON the UI loads on first load (a fresh browser, logging in and
//      opening the vitals screen), counted from the responses; goal <= 150 KB (153,600 bytes).
//      Also reported: every file of every screen (all screens opened once).
//   b) time to interactive of the vitals screen on a phone profile: 360x740, CPU slowed 4x
//      (CDP Emulation.setCPUThrottlingRate), a fresh browser context (nothing cached), logged in,
//      the vitals station with a current patient. TTI = from navigation start to the later of
//      (the app's "ready" mark: the screen drawn with its data, the scan field enabled) and the
//      end of the last long task (> 50 ms) before a 500 ms quiet window. Median of BENCH_WEB_RUNS
//      (default 9) runs; goal <= 1 s. The context holds what a login leaves: the session cookie and
//      the staff member's name and role in localStorage.
//   c) interactions: the e2e flows that count them (tests/e2e/run.mjs), run again here
//      (BENCH_WEB_INTERACTIONS=0 skips them).
// Writes BUILD_DIR/bench/web.json. Exit 0 when every goal is met, 1 when one is missed, 2 when
// the benchmark failed.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO, PINS, startDaemon, launch, apiClient, waitReady, login, sleep } from '../e2e/lib.mjs';

const buildDir = process.argv[2] || 'build';
const RUNS = Number(process.env.BENCH_WEB_RUNS || 9);
const BUDGET = 150 * 1024;
const TTI_GOAL = 1000;

function median(xs) {
  const s = xs.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function countBytes(browser, base, visitAll) {
  const ctx = await browser.newContext({ viewport: { width: 360, height: 740 } });
  const page = await ctx.newPage();
  const files = new Map();
  page.on('response', async (r) => {
    const u = new URL(r.url());
    if (u.origin !== base || u.pathname.startsWith('/api/')) return;
    try {
      const b = await r.body();
      files.set(u.pathname, b.length);
    } catch {
      /* redirects have no body */
    }
  });
  await login(page, base, PINS.lead, '#/vitals');
  await waitReady(page, 'vitals');
  if (visitAll)
    for (const s of ['register', 'doctor', 'pharmacy', 'queue', 'dashboard', 'setup']) {
      await page.goto(base + '/#/' + s);
      await waitReady(page, s);
    }
  await sleep(300);
  await ctx.close();
  const total = [...files.values()].reduce((a, b) => a + b, 0);
  return { total, files: Object.fromEntries([...files.entries()].sort()) };
}

async function tti(browser, base, token, staff) {
  const ctx = await browser.newContext({ viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  // A phone that has logged in: the session cookie, and the name and role the app remembers.
  await ctx.addCookies([{ name: 'mokit_session', value: token, url: base }]);
  await ctx.addInitScript((s) => localStorage.setItem('mokit.staff', s), JSON.stringify({ id: staff.id, name: staff.name, role: staff.role }));
  await ctx.addInitScript(() => {
    window.__lt = [];
    try {
      new PerformanceObserver((l) => {
        for (const e of l.getEntries()) window.__lt.push(e.startTime + e.duration);
      }).observe({ type: 'longtask', buffered: true });
    } catch {
      /* no long task timing */
    }
  });
  const page = await ctx.newPage();
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });
  await page.goto(base + '/#/vitals', { waitUntil: 'commit' });
  // Nothing is asked of the page while it loads (a poll would take the throttled main thread):
  // wait, then read the marks it left. Ready = the screen drawn with its patient and the scan
  // field enabled; then no long task for 500 ms.
  let r;
  await sleep(2500);
  for (let i = 0; i < 40; i++) {
    r = await page.evaluate(() => {
      const d = document.documentElement.dataset;
      const scan = document.querySelector('[data-testid=scan]');
      const mark = performance.getEntriesByName('mokit-ready').pop();
      return {
        ok: d.ready === '1' && d.screen === 'vitals' && !!scan && !scan.disabled && !!document.querySelector('[data-testid=patient-name]') && !!mark,
        ready: mark ? mark.startTime : 0,
        lastLong: Math.max(0, ...window.__lt),
        now: performance.now(),
      };
    });
    if (r.ok && r.now - Math.max(r.ready, r.lastLong) >= 500) break;
    await sleep(250);
  }
  if (!r.ok) throw new Error('the vitals screen did not get ready');
  await ctx.close();
  return { tti: Math.max(r.ready, r.lastLong), ready: r.ready, lastLong: r.lastLong };
}

function interactions() {
  const res = spawnSync(process.execPath, [path.join(REPO, 'tests/e2e/run.mjs'), buildDir], {
    env: { ...process.env, E2E_ONLY: 'journey 1/5|journey 2/5|follow-up|by hand' },
    encoding: 'utf8',
    timeout: 180000,
  });
  const line = (res.stdout || '').split('\n').find((l) => l.startsWith('# interaction counts: '));
  if (!line) throw new Error('the e2e flows printed no interaction counts:\n' + res.stdout + res.stderr);
  return JSON.parse(line.slice('# interaction counts: '.length));
}

async function main() {
  const out = path.resolve(buildDir, 'bench');
  mkdirSync(out, { recursive: true });
  const daemon = await startDaemon(buildDir);
  let browser;
  const results = {};
  try {
    browser = await launch();
    const lead = await apiClient(daemon.base, PINS.lead);
    const nurse = await apiClient(daemon.base, PINS.nurse);
    const pat = (await nurse.get('/patients?q=Giang&limit=1')).results[0];
    await nurse.post('/stations/vitals/current', { patient: pat.code }, 200);

    const first = await countBytes(browser, daemon.base, false);
    const all = await countBytes(browser, daemon.base, true);
    results.bytes_first_load = first.total;
    results.bytes_first_load_files = first.files;
    results.bytes_all_screens = all.total;
    results.bytes_budget = BUDGET;

    await tti(browser, daemon.base, nurse.token, nurse.staff); // warm the daemon, not the browser (a new context each run)
    const runs = [];
    for (let i = 0; i < RUNS; i++) runs.push(await tti(browser, daemon.base, nurse.token, nurse.staff));
    results.tti_runs_ms = runs.map((r) => Math.round(r.tti));
    results.tti_median_ms = Math.round(median(runs.map((r) => r.tti)));
    results.ready_median_ms = Math.round(median(runs.map((r) => r.ready)));
    results.tti_goal_ms = TTI_GOAL;
    void lead;
  } catch (e) {
    console.error('bench_web: ' + (e.stack || e));
    if (browser) await browser.close();
    await daemon.stop();
    process.exit(2);
  }
  await browser.close();
  await daemon.stop();
  daemon.cleanup();
  try {
    results.interactions = process.env.BENCH_WEB_INTERACTIONS === '0' ? {} : interactions();
  } catch (e) {
    console.error('bench_web: ' + e.message);
    process.exit(2);
  }
  const ic = results.interactions;
  const goals = [
    ['web bytes, first load (HTML+JS+CSS+JSON)', results.bytes_first_load, BUDGET, 'B'],
    ['web bytes, every screen opened', results.bytes_all_screens, BUDGET, 'B'],
    ['vitals TTI, 360x740, CPU 4x, median of ' + RUNS, results.tti_median_ms, TTI_GOAL, 'ms'],
    ['interactions: vitals with device capture', ic.vitals_auto, 8, ''],
    ['interactions: follow-up visit, manual entry', ic.vitals_manual, 16, ''],
  ];
  console.log('web benchmark                                         value        goal    ratio');
  let missed = 0;
  for (const [name, v, goal, unit] of goals) {
    const ratio = v / goal;
    if (!(ratio <= 1)) missed++;
    console.log(name.padEnd(48) + String(v + ' ' + unit).padStart(12) + String(goal + ' ' + unit).padStart(12) + ratio.toFixed(2).padStart(9) + (ratio <= 1 ? '' : '  MISSED'));
  }
  console.log('  TTI runs (ms): ' + results.tti_runs_ms.join(' ') + '; app ready median ' + results.ready_median_ms + ' ms');
  console.log('  other interaction counts: registration with a CCCD scan ' + ic.registration_cccd + ', registration by hand ' + ic.registration_hand);
  results.ratios = Object.fromEntries(goals.map(([n, v, g]) => [n, Math.round((v / g) * 1000) / 1000]));
  writeFileSync(path.join(out, 'web.json'), JSON.stringify(results, null, 2) + '\n');
  process.exit(missed ? 1 : 0);
}
main();
