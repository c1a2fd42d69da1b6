// Browser tests of the dashboard's Export buttons: usage: node tests/e2e/export.mjs BUILD_DIR
// Starts BUILD_DIR/mokitd --demo, opens a visit with a reading, and as a doctor clicks the CSV
// and the report export in chromium: the downloaded files are read back. A nurse sees no export.
// Prints TAP; exits non-zero when a test fails.
import { readFileSync } from 'node:fs';
import { PINS, startDaemon, launch, apiClient, Tap, AssertionError, eq, ok, waitReady, login } from './lib.mjs';

const buildDir = process.argv[2] || 'build';
const tap = new Tap();
const problems = [];
let daemon, browser, doctor;

async function newPage(locale = 'vi-VN') {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale, acceptDownloads: true });
  const page = await ctx.newPage();
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) problems.push('CSP: ' + m.text());
  });
  page.setDefaultTimeout(10000);
  page.closeAll = async () => {
    const missing = await page.evaluate(() => [...(window.__mokitMissing || [])]).catch(() => []);
    for (const k of missing) problems.push('missing i18n key: ' + k);
    await ctx.close();
  };
  return page;
}

// Clicks an export button and returns the download's name and bytes.
async function exportFile(page, format) {
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export-' + format + ']')]);
  const file = await dl.path();
  ok(file, format + ': the download failed: ' + (await dl.failure()));
  return { name: dl.suggestedFilename(), bytes: readFileSync(file) };
}

const tests = [];
const test = (name, fn) => tests.push({ name, fn });

let resident;
test('dashboard export: a doctor clicks the CSV export and gets visits.csv, UTF-8 with a BOM, Vietnamese headers, the visit in its first row', async () => {
  const page = await newPage();
  await login(page, daemon.base, PINS.doctor, '#/dashboard');
  await waitReady(page, 'dashboard');
  await page.click('[data-testid=scope-campaign]');
  await page.waitForSelector('[data-testid=export-csv]');
  const { name, bytes } = await exportFile(page, 'csv');
  eq(name, 'DEMO-TAVAN-visits.csv', 'file name');
  eq(bytes.subarray(0, 3).toString('hex'), 'efbbbf', 'BOM');
  const lines = bytes.subarray(3).toString('utf8').split('\r\n');
  ok(lines[0].startsWith('Đợt khám,Ngày khám,Số thứ tự,Mã người khám,Họ và tên,Giới tính,'), 'header: ' + lines[0]);
  const row = lines[1].split(',');
  eq(row[0], 'DEMO-TAVAN', 'campaign');
  eq(row[3], resident.code, 'patient code');
  eq(row[4], resident.name, 'name');
  ok(lines[1].includes(',152,96,1,'), 'blood pressure in the row: ' + lines[1]);
  await page.waitForSelector('.toast.ok');
  await page.closeAll();
});

test('dashboard export: in English the report downloads as a printable HTML page with SVG charts and no script', async () => {
  const page = await newPage();
  await login(page, daemon.base, PINS.doctor, '#/dashboard');
  await waitReady(page, 'dashboard');
  await page.click('[data-testid=lang]');
  await page.waitForSelector('[data-testid=export] h3:has-text("Export the whole campaign")');
  const { name, bytes } = await exportFile(page, 'report');
  eq(name, 'DEMO-TAVAN-report.html', 'file name');
  const html = bytes.toString('utf8');
  ok(html.includes('Screening campaign report') && html.includes('<svg') && !html.includes('<script'), 'report: ' + html.slice(0, 200));
  await page.closeAll();
});

test('dashboard export: the package without a hospital key says why; a nurse sees no export', async () => {
  const page = await newPage();
  await login(page, daemon.base, PINS.doctor, '#/dashboard');
  await waitReady(page, 'dashboard');
  await page.click('[data-testid=export-package]');
  await page.waitForSelector('.toast.error');
  ok(/key|khóa/i.test(await page.locator('.toast.error').first().innerText()), 'error toast names the key');
  ok(await page.locator('[data-testid=export-csv]').isEnabled(), 'buttons enabled again');
  await page.closeAll();
  const nurse = await newPage();
  await login(nurse, daemon.base, PINS.nurse, '#/dashboard');
  await waitReady(nurse, 'dashboard');
  await nurse.waitForSelector('[data-testid=stat-residents]');
  eq(await nurse.locator('[data-testid=export]').count(), 0, 'export card for a nurse');
  await nurse.closeAll();
});

test('no page errors, no CSP violations, no missing translation key', async () => {
  ok(!problems.length, problems.join('\n'));
});

async function main() {
  daemon = await startDaemon(buildDir);
  try {
    browser = await launch();
    doctor = await apiClient(daemon.base, PINS.doctor);
    resident = (await doctor.get('/patients?q=Giang&limit=1')).results[0];
    if (!resident) throw new Error('no demo resident');
    const v = await doctor.post('/visits', { patient: resident.code }, 201);
    await doctor.post('/visits/' + v.id + '/observations', { code: 'bp', values: { systolic: 152, diastolic: 96 } }, 201);
    for (const t of tests) {
      try {
        await t.fn();
        tap.ok(true, t.name);
      } catch (e) {
        tap.ok(false, t.name, e instanceof AssertionError ? e.message : e.stack || String(e));
      }
    }
  } catch (e) {
    tap.ok(false, 'set-up', e.stack || String(e));
  } finally {
    if (browser) await browser.close();
    const rc = await daemon.stop();
    if (rc !== 0 && rc !== null) tap.ok(false, 'mokitd exited with ' + rc, daemon.logTail());
    if (tap.failed) tap.comment('mokitd log: ' + daemon.log);
    else daemon.cleanup();
  }
  tap.plan();
  process.exit(tap.failed ? 1 : 0);
}
main();
