// Browser tests of the mokit web UI: usage: node tests/e2e/run.mjs BUILD_DIR
// Starts BUILD_DIR/mokitd --demo on a fresh data directory and a free port, drives Debian's
// chromium with playwright-core, prints TAP and exits non-zero when a test fails. Screenshots of
// every screen at phone and laptop widths go to BUILD_DIR/e2e-screens/.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import {
  REPO, PINS, startDaemon, launch, apiClient, Tap, AssertionError, eq, ok, waitReady, Person, login, screensDir, sleep,
} from './lib.mjs';

const buildDir = process.argv[2] || 'build';
const only = process.env.E2E_ONLY ? new RegExp(process.env.E2E_ONLY) : null;
const tap = new Tap();
const T0 = Date.now();
const PHONE = { width: 360, height: 740 };
const LAPTOP = { width: 1280, height: 800 };
const shots = screensDir(buildDir);
const problems = []; // page errors, CSP violations, missing translation keys
const counts = {};

let daemon, browser, lead, nurseApi, doctorApi, pharmApi;
let pool = []; // demo residents, each test that needs one takes its own

// The demo's residents (mokitd --demo seeds 40): found by common family names.
async function fillPool() {
  const seen = new Set();
  for (const q of ['Giang', 'Thao', 'Vang', 'Sung', 'Ly', 'Hau', 'Nguyen', 'Lo'])
    for (const p of (await lead.get('/patients?q=' + q + '&limit=50')).results)
      if (!seen.has(p.code)) {
        seen.add(p.code);
        pool.push(p);
      }
  if (pool.length < 8) throw new Error('the demo has only ' + pool.length + ' residents with these names');
}
function takePatient() {
  const p = pool.shift();
  if (!p) throw new AssertionError('no demo resident left');
  return p;
}
const state = {}; // what one test leaves for the next (the journey's patient, visit, medicine)

async function newPage(viewport = LAPTOP) {
  const ctx = await browser.newContext({ viewport, locale: 'vi-VN' });
  const page = await ctx.newPage();
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('console', (m) => {
    const text = m.text();
    if (/Content Security Policy|Refused to/i.test(text)) problems.push('CSP: ' + text);
  });
  page.setDefaultTimeout(10000);
  page.closeAll = async () => {
    try {
      const missing = await page.evaluate(() => [...(window.__mokitMissing || [])]);
      for (const k of missing) problems.push('missing i18n key: ' + k);
    } catch {
      /* page gone */
    }
    await ctx.close();
  };
  return page;
}

const text = (page, sel) => page.locator(sel).first().innerText();
async function waitText(page, sel, want, timeout = 10000) {
  const loc = page.locator(sel).first();
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = (await loc.innerText({ timeout: 500 })).trim();
      if (typeof want === 'function' ? want(last) : last === want) return last;
    } catch {
      /* not there yet */
    }
    if (Date.now() > deadline) throw new AssertionError(sel + ': expected ' + (typeof want === 'function' ? 'a match' : JSON.stringify(want)) + ', got ' + JSON.stringify(last));
    await sleep(100);
  }
}
const notDash = (s) => s && s !== '—';

function uniqueDigits(n) {
  let s = String(Date.now()) + String(Math.floor(Math.random() * 1e9));
  return s.slice(-n).padStart(n, '1');
}

// ------------------------------------------------------------------ the tests
const tests = [];
const test = (name, fn) => tests.push({ name, fn });

test('i18n: vi.json and en.json have the same keys, none empty, every key the code names exists', async () => {
  const vi = JSON.parse(readFileSync(path.join(REPO, 'app/web/i18n/vi.json'), 'utf8'));
  const en = JSON.parse(readFileSync(path.join(REPO, 'app/web/i18n/en.json'), 'utf8'));
  const kv = Object.keys(vi).sort(), ke = Object.keys(en).sort();
  const onlyVi = kv.filter((k) => !(k in en)), onlyEn = ke.filter((k) => !(k in vi));
  ok(!onlyVi.length && !onlyEn.length, 'keys only in vi: ' + onlyVi.join(', ') + '; only in en: ' + onlyEn.join(', '));
  const empty = kv.filter((k) => !String(vi[k]).trim() || !String(en[k]).trim());
  ok(!empty.length, 'empty texts: ' + empty.join(', '));
  const files = [];
  const walk = (d) => {
    for (const f of readdirSync(d)) {
      const p = path.join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(js|html)$/.test(f)) files.push(p);
    }
  };
  walk(path.join(REPO, 'app/web'));
  const missing = new Set();
  let used = 0;
  for (const f of files) {
    const src = readFileSync(f, 'utf8');
    for (const m of src.matchAll(/\bt\('([a-z_]+\.[a-z_0-9.]+)'\s*[,)]/g)) {
      used++;
      if (!(m[1] in vi)) missing.add(m[1]);
    }
    for (const m of src.matchAll(/data-i18n(?:-ph|-label)?="([^"]+)"/g)) if (!(m[1] in vi)) missing.add(m[1]);
  }
  ok(used > 200, 'found only ' + used + ' t() calls');
  ok(!missing.size, 'keys used but not translated: ' + [...missing].join(', '));
  // No inline script or style: the page's Content-Security-Policy forbids them.
  for (const f of files) {
    const src = readFileSync(f, 'utf8');
    ok(!/<script(?![^>]*\bsrc=)[^>]*>/i.test(src) && !/<style/i.test(src) && !/\sstyle=/i.test(src) && !/style:\s*'/.test(src), f + ' has inline script or style');
  }
});

test('login: the PIN pad refuses a wrong PIN and lets a nurse in to her stations', async () => {
  const page = await newPage(PHONE);
  await page.goto(daemon.base + '/');
  await waitReady(page, 'login');
  for (const d of '1234') await page.click('[data-key="' + d + '"]');
  await page.click('[data-key=ok]');
  await waitText(page, '.pin-err', 'Sai mã PIN');
  for (const d of PINS.nurse) await page.click('[data-key="' + d + '"]');
  await page.click('[data-key=ok]');
  await waitReady(page, 'home');
  const tiles = await page.locator('[data-tile]').evaluateAll((els) => els.map((e) => e.dataset.tile));
  eq(tiles.join(','), 'vitals,queue,dashboard', 'nurse tiles');
  ok((await text(page, '#who')).includes('Điều dưỡng'), 'role shown');
  await page.click('#logout');
  await waitReady(page, 'login');
  const me = await page.evaluate(() => fetch('/api/v1/me').then((r) => r.status));
  eq(me, 401, 'after logout /me');
  await page.closeAll();
});

test('roles: a registrar sees registration, queue and dashboard only; the API refuses the rest', async () => {
  const page = await newPage();
  await login(page, daemon.base, PINS.registrar);
  const nav = await page.locator('[data-nav]').evaluateAll((els) => els.map((e) => e.dataset.nav));
  eq(nav.join(','), 'register,queue,dashboard', 'registrar nav');
  for (const s of ['doctor', 'pharmacy', 'setup', 'vitals']) {
    await page.goto(daemon.base + '/#/' + s);
    await waitReady(page, 'forbidden');
    ok(await page.locator('[data-testid=forbidden]').isVisible(), s + ' forbidden shown');
  }
  const st = await page.evaluate(async () => {
    const post = (p, b) => fetch('/api/v1' + p, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(b) }).then((r) => r.status);
    return { staff: await post('/staff', { name: 'X', role: 'lead', pin: '55554444' }), obs: await post('/visits/x/observations', { code: 'pulse', value: 70 }) };
  });
  eq(st.staff, 403, 'POST /staff as registrar');
  ok(st.obs === 403 || st.obs === 404, 'POST observations as registrar: ' + st.obs);
  await page.closeAll();
});

test('language: Vietnamese by default, English with one switch, remembered, and back', async () => {
  const page = await newPage(PHONE);
  await login(page, daemon.base, PINS.lead);
  eq(await page.evaluate(() => document.documentElement.lang), 'vi', 'default lang');
  eq((await text(page, '#logout')).trim(), 'Đăng xuất', 'logout in vi');
  ok((await text(page, '[data-nav=vitals]')).includes('Đo chỉ số'), 'nav in vi');
  await page.click('[data-testid=lang]');
  await waitText(page, '#logout', 'Log out');
  ok((await text(page, '[data-nav=vitals]')).includes('Vitals'), 'nav in en');
  eq(await page.evaluate(() => document.documentElement.lang), 'en', 'lang attr');
  await page.reload();
  await waitReady(page, 'home');
  eq((await text(page, '#logout')).trim(), 'Log out', 'still en after reload');
  await page.click('[data-testid=lang]');
  await waitText(page, '#logout', 'Đăng xuất');
  await page.closeAll();
});

test('journey 1/5 registration: a CCCD QR typed by the USB scanner fills the form; save prints a wristband and a ticket', async () => {
  const cccd = uniqueDigits(12);
  const qr = cccd + '|123456789|Nguyễn Văn An|15081989|Nam|Thôn 3, Tả Van, Sa Pa, Lào Cai|20062021';
  const page = await newPage();
  await login(page, daemon.base, PINS.registrar, '#/register');
  await waitReady(page, 'register');
  const p = new Person(page);
  await page.locator('[data-testid=scan]').focus();
  await p.scanKeys(qr);
  await page.waitForFunction(() => document.querySelector('[data-testid=f-name]').value === 'Nguyễn Văn An');
  eq(await page.inputValue('[data-testid=f-sex]'), 'male', 'sex');
  eq(await page.inputValue('[data-testid=f-birth]'), '15/08/1989', 'birth');
  eq(await page.inputValue('[data-testid=f-village]'), 'Thôn 3', 'village');
  eq(await page.inputValue('[data-testid=f-commune]'), 'Tả Van', 'commune');
  eq(await page.inputValue('[data-testid=f-cccd]'), cccd, 'cccd');
  await p.fill('[data-testid=f-ethnicity]', 'Kinh');
  await p.click('[data-testid=save]');
  await waitText(page, '[data-testid=err-consent]', 'Cần sự đồng ý của người dân'); // consent is required
  await p.click('[data-testid=f-consent]');
  await p.click('[data-testid=save]');
  const qn = await waitText(page, '[data-testid=queue-number]', (s) => /^\d+$/.test(s));
  const found = (await lead.get('/patients?q=' + cccd)).results;
  eq(found.length, 1, 'one patient with the CCCD');
  const pat = await lead.get('/patients/' + found[0].code);
  eq(pat.name, 'Nguyễn Văn An', 'stored name');
  eq(pat.birth_date, '1989-08-15', 'stored birth');
  eq(pat.ethnicity_name, 'Kinh', 'stored ethnicity');
  eq(pat.village, 'Thôn 3', 'stored village');
  eq(String(pat.visits[0].queue_number), qn, 'queue number shown = stored');
  for (const kind of ['wristband', 'ticket'])
    await page.waitForSelector('[data-testid=prints] li[data-kind=' + kind + '][data-state=done]', { timeout: 15000 });
  eq(await page.inputValue('[data-testid=f-name]'), '', 'form emptied after save');
  eq(await page.evaluate(() => localStorage.getItem('mokit.draft.register')), null, 'draft dropped');
  await page.screenshot({ path: path.join(shots, 'journey-register.png') });
  tap.comment('interactions: registration with a CCCD scan = ' + p.count);
  counts.registration_cccd = p.count;
  Object.assign(state, { code: pat.code, visit: pat.visits[0].id, queue: Number(qn), name: pat.name, cccd, qr });
  await page.closeAll();
});

test('journey 2/5 vitals: wristband scan, device readings arrive live, a manual reading, a flag', async () => {
  ok(state.visit, 'needs the registration test');
  const page = await newPage(PHONE);
  await login(page, daemon.base, PINS.nurse, '#/vitals');
  await waitReady(page, 'vitals');
  // The camera button is there only where the browser has a BarcodeDetector.
  const hasBD = await page.evaluate(() => 'BarcodeDetector' in window);
  eq(await page.locator('[data-testid=camera]').count(), hasBD ? 1 : 0, 'camera button');
  const auto = new Person(page);
  await auto.scanDevice(nurseApi, state.code);
  await waitText(page, '[data-testid=patient-name]', state.name);
  for (const c of ['weight', 'spo2', 'pulse']) await waitText(page, '[data-testid=v-' + c + ']', notDash, 8000);
  await waitText(page, '[data-testid=v-bp]', notDash, 15000);
  const v1 = await nurseApi.get('/visits/' + state.visit);
  const dev = v1.observations.filter((o) => o.source === 'device').map((o) => o.code).sort();
  ok(dev.includes('weight') && dev.includes('spo2') && dev.includes('bp'), 'device readings stored: ' + dev);
  const w = v1.observations.find((o) => o.code === 'weight').values.value;
  eq(await text(page, '[data-testid=v-weight]'), String(Math.round(w * 10) / 10), 'weight shown = stored');
  // By hand: a raised blood pressure and a temperature (comma as decimal point). The demo
  // monitor gives 104-168 systolic, and the rules average two readings: 196/116 makes the mean
  // raised whatever the monitor gave.
  const hand = new Person(page);
  await hand.fill('[data-testid=in-sys]', '300');
  await hand.click('[data-testid=save-readings]');
  await waitText(page, '[data-testid=manual] .ferr', (s) => s.includes('60') && s.includes('260'));
  await hand.fill('[data-testid=in-sys]', '196');
  await hand.fill('[data-testid=in-dia]', '116');
  await hand.fill('[data-testid=in-temp]', '36,8');
  await hand.click('[data-testid=save-readings]');
  await waitText(page, '[data-testid=v-bp]', '196/116');
  await waitText(page, '[data-testid=v-temp]', '36.8');
  const v2 = await nurseApi.get('/visits/' + state.visit);
  ok(v2.observations.some((o) => o.code === 'temp' && o.source === 'manual' && o.values.value === 36.8), 'manual temp stored');
  ok(Array.isArray(v2.flags) && v2.flags.some((f) => f.group === 'bp' || /^bp/.test(f.rule)), 'the API flags the raised BP: ' + JSON.stringify(v2.flags));
  await page.waitForSelector('[data-testid=flags] .flag[data-rule^="bp"]');
  await hand.click('[data-testid=symptoms] input[value=severe_headache]');
  await waitText(page, '[data-testid=symptoms] p', 'Đã lưu');
  const v3 = await nurseApi.get('/visits/' + state.visit);
  ok(JSON.stringify(v3.symptoms) === '["severe_headache"]', 'symptoms stored: ' + JSON.stringify(v3.symptoms));
  await page.screenshot({ path: path.join(shots, 'journey-vitals-360.png'), fullPage: true });
  await auto.click('[data-testid=done]');
  await page.waitForSelector('[data-testid=waiting]');
  eq((await nurseApi.get('/stations/vitals')).current, null, 'station cleared');
  tap.comment('interactions: vitals visit with device auto-capture (scan, readings arrive, confirm) = ' + auto.count + ' [' + auto.log.join('; ') + ']');
  counts.vitals_auto = auto.count;
  ok(auto.count <= 8, 'auto-capture interactions <= 8: ' + auto.count);
  await page.closeAll();
});

test('journey 3/5 doctor: the visit from the list, findings (ICD-10, one removed, one code off the list), a prescription (one cancelled), advice, a referral with its slip printed (one cancelled)', async () => {
  ok(state.visit, 'needs the registration test');
  const med = await lead.post('/medicines', { code: 'E2E-AML', name: 'Amlodipin', strength: '5 mg', form: 'viên', unit: 'viên', stock: 100 });
  ok(med && med.id, 'medicine created: ' + JSON.stringify(med));
  state.med = med;
  const page = await newPage();
  await login(page, daemon.base, PINS.doctor, '#/doctor');
  await waitReady(page, 'doctor');
  await page.click('[data-visit="' + state.visit + '"]');
  await waitText(page, '[data-testid=patient-name]', state.name);
  await waitText(page, '[data-testid=v-bp]', '196/116');
  await page.fill('[data-testid=icd-q]', 'tăng huyết áp');
  await page.click('[data-testid=icd-results] [data-code=I10]');
  await page.waitForSelector('[data-finding=I10]');
  // A finding recorded by mistake is removed.
  await page.fill('[data-testid=icd-q]', 'E11.9');
  await page.click('[data-testid=icd-results] [data-code="E11.9"]');
  await page.click('[data-finding="E11.9"] button.danger');
  await page.waitForSelector('[data-finding="E11.9"]', { state: 'detached' });
  // A WHO code that the kit's list does not have: the doctor writes its name.
  await page.fill('[data-testid=icd-q]', 'm79.1');
  await page.fill('[data-testid=icd-label]', 'Đau cơ');
  await page.click('[data-testid=icd-add-other]');
  await page.waitForSelector('[data-finding="M79.1"]');
  // A prescription made by mistake is cancelled.
  await page.selectOption('[data-testid=rx-med]', med.id);
  await page.fill('[data-testid=rx-qty]', '5');
  await page.click('[data-testid=prescribe]');
  await page.locator('[data-rx][data-state=prescribed]').first().locator('button.danger').click();
  await page.waitForSelector('[data-rx][data-state=cancelled]');
  await page.selectOption('[data-testid=rx-med]', med.id);
  await page.fill('[data-testid=rx-qty]', '30');
  await page.fill('[data-testid=rx-dose]', '1 viên/ngày');
  await page.click('[data-testid=prescribe]');
  await page.waitForSelector('[data-rx][data-state=prescribed]');
  await page.fill('[data-testid=advice]', 'Ăn nhạt, tái khám sau 1 tháng');
  await page.click('[data-testid=save-advice]');
  await page.fill('[data-testid=ref-to]', 'Bệnh viện Đa khoa tỉnh Lào Cai');
  await page.fill('[data-testid=ref-reason]', 'Tăng huyết áp chưa kiểm soát');
  await page.selectOption('[data-testid=ref-urgency]', 'soon');
  await page.click('[data-testid=refer]');
  await page.waitForSelector('[data-testid=ref-result] li[data-kind=slip][data-state=done]', { timeout: 15000 });
  // A referral made by mistake is cancelled (kept, printed and audited), and another made.
  await page.fill('[data-testid=ref-to]', 'Trạm y tế xã');
  await page.fill('[data-testid=ref-reason]', 'nhầm');
  await page.click('[data-testid=refer]');
  await page.waitForSelector('[data-ref][data-status=referred] >> nth=1');
  await page.locator('[data-ref][data-status=referred]').nth(1).locator('[data-testid=ref-cancel]').click();
  await page.waitForSelector('[data-ref][data-status=cancelled]');
  const v = await doctorApi.get('/visits/' + state.visit);
  eq(v.findings.filter((f) => !f.removed_at).map((f) => f.code + (f.label ? ':' + f.label : '')).join(), 'I10,M79.1:Đau cơ', 'findings stored');
  eq(v.prescriptions.map((p) => p.state + ':' + p.quantity).sort().join(), 'cancelled:5,prescribed:30', 'prescriptions');
  eq(v.referrals.map((r) => r.status).join(), 'referred,cancelled', 'one referral stands, one cancelled');
  eq(v.referrals[0].urgency, 'soon', 'urgency');
  eq(v.advice, 'Ăn nhạt, tái khám sau 1 tháng', 'advice');
  await page.screenshot({ path: path.join(shots, 'journey-doctor.png'), fullPage: true });
  await page.closeAll();
});

test('journey 4/5 pharmacy: a typed wristband scan, dispense, stock goes down by the quantity', async () => {
  ok(state.med, 'needs the doctor test');
  const page = await newPage(PHONE);
  await login(page, daemon.base, PINS.pharmacist, '#/pharmacy');
  await waitReady(page, 'pharmacy');
  await waitText(page, '[data-testid=stock-E2E-AML]', '100 viên');
  const p = new Person(page);
  await p.scanKeys(state.code);
  await waitText(page, '[data-testid=patient-name]', state.name);
  await page.waitForSelector('[data-testid=rx-table] tr[data-state=prescribed]');
  await p.click('[data-testid=dispense]');
  await page.waitForSelector('[data-testid=dispensed]');
  await waitText(page, '[data-testid=stock-E2E-AML]', '70 viên');
  await page.waitForSelector('[data-testid=rx-table] tr[data-state=dispensed]');
  const meds = (await pharmApi.get('/medicines')).medicines;
  eq(meds.find((m) => m.code === 'E2E-AML').stock, 70, 'stock in the API');
  await page.screenshot({ path: path.join(shots, 'journey-pharmacy-360.png'), fullPage: true });
  await page.closeAll();
});

test('journey 5/5 dashboard: today\u2019s counts as the API gives them, charts drawn', async () => {
  ok(state.med, 'needs the pharmacy test');
  const page = await newPage();
  await login(page, daemon.base, PINS.doctor, '#/dashboard');
  await waitReady(page, 'dashboard');
  const d = await doctorApi.get('/dashboard?scope=today');
  ok(d.residents >= 1, 'residents >= 1');
  eq(await text(page, '[data-testid=stat-residents]'), String(d.residents), 'residents shown');
  eq(await text(page, '[data-testid=stat-referrals]'), '1', 'referrals shown');
  eq(await text(page, '[data-testid=given-E2E-AML]'), '30 viên', 'medicine given');
  eq(await text(page, '[data-testid=left-E2E-AML]'), '70', 'stock left');
  const male = await page.locator('[data-chart=sex] text[data-value]').first().getAttribute('data-value');
  eq(male, String(d.by_sex.male), 'male bar');
  ok(await page.locator('[data-chart=conditions] text', { hasText: 'I10' }).count() >= 1, 'I10 in the conditions chart');
  await page.click('[data-testid=scope-campaign]');
  await waitReady(page, 'dashboard');
  ok((await page.evaluate(() => location.hash)).includes('campaign'), 'campaign scope');
  await page.screenshot({ path: path.join(shots, 'journey-dashboard.png'), fullPage: true });
  await page.closeAll();
});

test('registration: the same CCCD again is a duplicate; the existing resident opens and keeps today\u2019s queue number', async () => {
  ok(state.cccd, 'needs the registration test');
  const page = await newPage(PHONE);
  await login(page, daemon.base, PINS.registrar, '#/register');
  await waitReady(page, 'register');
  await page.locator('[data-testid=scan]').focus();
  await page.keyboard.type(state.qr, { delay: 0 });
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelector('[data-testid=f-cccd]').value !== '');
  await page.click('[data-testid=f-consent]');
  await page.click('[data-testid=save]');
  await page.waitForSelector('[data-testid=duplicate]');
  eq(await text(page, '[data-testid=existing-name]'), state.name, 'the existing resident');
  await page.click('[data-testid=visit-ticket]');
  eq(await waitText(page, '[data-testid=visit-result] [data-testid=queue-number]', (x) => /^\d+$/.test(x)), String(state.queue), 'same queue number');
  await page.waitForSelector('[data-testid=visit-result] li[data-kind=ticket]');
  eq((await lead.get('/patients?q=' + state.cccd)).results.length, 1, 'still one record');
  await page.closeAll();
});

test('follow-up visit with manual entry: typed wristband, readings by hand, save, done', async () => {
  const pat = takePatient();
  const page = await newPage(PHONE);
  await login(page, daemon.base, PINS.nurse, '#/vitals');
  await waitReady(page, 'vitals');
  const p = new Person(page);
  await p.scanKeys(pat.code); // the USB scanner, no field focused
  await waitText(page, '[data-testid=patient-name]', pat.name);
  await p.fill('[data-testid=in-sys]', '150');
  await p.fill('[data-testid=in-dia]', '95');
  await p.fill('[data-testid=in-pulse]', '80');
  await p.fill('[data-testid=in-weight]', '55');
  await p.fill('[data-testid=in-height]', '150');
  await p.fill('[data-testid=in-glucose]', '7.4');
  await p.select('[data-testid=in-fasting]', 'yes');
  await p.fill('[data-testid=in-waist]', '82');
  await p.click('[data-testid=save-readings]');
  await waitText(page, '[data-testid=v-waist]', '82');
  await waitText(page, '[data-testid=v-bmi]', '24.4');
  const visitId = (await nurseApi.get('/stations/vitals')).current.visit;
  const v = await nurseApi.get('/visits/' + visitId);
  eq(v.observations.filter((o) => o.source === 'manual').length, 6, 'six manual observations');
  const g = v.observations.find((o) => o.code === 'glucose');
  eq(g.values.value, 7.4, 'glucose');
  eq(g.fasting, true, 'fasting recorded');
  await p.click('[data-testid=done]');
  await page.waitForSelector('[data-testid=waiting]');
  tap.comment('interactions: follow-up visit with manual entry = ' + p.count + ' [' + p.log.join('; ') + ']');
  counts.vitals_manual = p.count;
  ok(p.count <= 16, 'manual follow-up interactions <= 16: ' + p.count);
  await page.closeAll();
});

async function vitalsWith(pin, code, viewport = PHONE) {
  await nurseApi.post('/stations/vitals/current', { patient: code }, 200);
  const page = await newPage(viewport);
  await login(page, daemon.base, pin, '#/vitals');
  await waitReady(page, 'vitals');
  await page.waitForSelector('[data-testid=manual]');
  return page;
}

test('expired session: the form in progress survives a reload and the PIN pad, and is sent after re-login', async () => {
  const pat = takePatient();
  const page = await vitalsWith(PINS.nurse, pat.code);
  await page.fill('[data-testid=in-weight]', '61.5');
  await page.fill('[data-testid=in-pulse]', '77');
  await page.reload();
  await waitReady(page, 'vitals');
  await page.waitForSelector('[data-testid=restored]');
  eq(await page.inputValue('[data-testid=in-weight]'), '61.5', 'weight kept over a reload');
  // The session ends (as after 30 idle minutes: the kit no longer knows the cookie).
  await page.evaluate(() => fetch('/api/v1/logout', { method: 'POST' }));
  await page.click('[data-testid=save-readings]');
  await page.waitForSelector('[data-testid=relogin]');
  eq(await page.inputValue('[data-testid=in-weight]'), '61.5', 'weight still in the form');
  await page.keyboard.type(PINS.nurse);
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-testid=relogin]', { state: 'detached' });
  await waitText(page, '[data-testid=v-weight]', '61.5');
  const visitId = (await nurseApi.get('/stations/vitals')).current.visit;
  const v = await nurseApi.get('/visits/' + visitId);
  ok(v.observations.some((o) => o.code === 'weight' && o.values.value === 61.5), 'weight stored after re-login');
  ok(v.observations.some((o) => o.code === 'pulse' && o.values.value === 77), 'pulse stored after re-login');
  eq(await page.evaluate(() => localStorage.getItem('mokit.outbox')), '[]', 'outbox empty');
  await page.closeAll();
});

test('dropped Wi-Fi: a reading that cannot be sent stays queued ("not sent yet"), survives a reload, and is sent when back', async () => {
  const pat = takePatient();
  const page = await vitalsWith(PINS.nurse, pat.code);
  const visitId = (await nurseApi.get('/stations/vitals')).current.visit;
  await page.route('**/api/v1/visits/*/observations', (r) => r.abort('internetdisconnected'));
  await page.fill('[data-testid=in-height]', '158');
  await page.click('[data-testid=save-readings]');
  await page.waitForSelector('[data-testid=not-sent]:visible');
  await page.waitForSelector('#outbox:visible');
  eq(await page.inputValue('[data-testid=in-height]'), '158', 'value still in the form');
  await page.reload();
  await waitReady(page, 'vitals');
  eq(await page.inputValue('[data-testid=in-height]'), '158', 'value kept over a reload');
  ok((await page.evaluate(() => JSON.parse(localStorage.getItem('mokit.outbox')).length)) === 1, 'one write queued');
  let v = await nurseApi.get('/visits/' + visitId);
  ok(!v.observations.some((o) => o.code === 'height'), 'nothing stored while offline');
  await page.unroute('**/api/v1/visits/*/observations');
  await page.waitForSelector('#outbox', { state: 'hidden', timeout: 10000 });
  v = await nurseApi.get('/visits/' + visitId);
  eq(v.observations.filter((o) => o.code === 'height').length, 1, 'height stored once when back');
  await page.closeAll();
});

test('answer lost: the kit stored a reading but the phone never heard; the resend (same Idempotency-Key) stores nothing twice', async () => {
  const pat = takePatient();
  const page = await vitalsWith(PINS.nurse, pat.code);
  const visitId = (await nurseApi.get('/stations/vitals')).current.visit;
  let lost = 0;
  // The first try reaches the kit, and its answer is dropped on the way back.
  await page.route('**/api/v1/visits/*/observations', async (r) => {
    if (lost++ === 0) {
      await r.fetch();
      await r.abort('connectionreset');
    } else {
      await r.continue();
    }
  });
  await page.fill('[data-testid=in-waist]', '87');
  await page.click('[data-testid=save-readings]');
  await page.waitForSelector('#outbox', { state: 'hidden', timeout: 15000 });
  ok(lost >= 2, 'sent again after the lost answer: ' + lost + ' tries');
  const v = await nurseApi.get('/visits/' + visitId);
  eq(v.observations.filter((o) => o.code === 'waist').length, 1, 'waist stored once');
  await page.unroute('**/api/v1/visits/*/observations');
  await page.closeAll();
});

test('registration by hand: a likely duplicate is shown, "this is a new person" saves a second record', async () => {
  const page = await newPage(PHONE);
  await login(page, daemon.base, PINS.registrar, '#/register');
  await waitReady(page, 'register');
  const existing = takePatient();
  const p = new Person(page);
  await p.fill('[data-testid=f-name]', existing.name);
  await p.select('[data-testid=f-sex]', existing.sex);
  await p.fill('[data-testid=f-birth]', String(existing.birth_year));
  await page.waitForSelector('[data-testid=dupes] [data-code="' + existing.code + '"]');
  await p.click('[data-testid=f-consent]');
  await p.click('[data-testid=save]');
  await page.waitForSelector('[data-testid=likely] [data-code="' + existing.code + '"]');
  await p.click('[data-testid=confirm-new]');
  await waitText(page, '[data-testid=queue-number]', (s) => /^\d+$/.test(s));
  tap.comment('interactions: registration by hand (name, sex, birth, consent, save, confirm new) = ' + p.count);
  counts.registration_hand = p.count;
  const same = (await lead.get('/patients?q=' + encodeURIComponent(existing.name) + '&birth_year=' + existing.birth_year)).results;
  ok(same.length >= 2, 'two records now: ' + same.length);
  await page.closeAll();
});

test('registration: a printer problem is shown, and the resident is registered all the same', async () => {
  await lead.call('PATCH', '/printers/band', { enabled: false });
  try {
    const page = await newPage();
    await login(page, daemon.base, PINS.registrar, '#/register');
    await waitReady(page, 'register');
    await page.fill('[data-testid=f-name]', 'Lò Thị Pằng');
    await page.selectOption('[data-testid=f-sex]', 'female');
    await page.fill('[data-testid=f-birth]', '1975');
    await page.click('[data-testid=f-consent]');
    await page.click('[data-testid=save]');
    await waitText(page, '[data-testid=queue-number]', (x) => /^\d+$/.test(x));
    await page.waitForSelector('[data-testid=prints] li.err[data-kind=wristband]');
    await page.waitForSelector('[data-testid=prints] li[data-kind=ticket][data-state=done]', { timeout: 15000 });
    eq((await lead.get('/patients?q=' + encodeURIComponent('Lò Thị Pằng'))).results.length, 1, 'registered');
    await page.closeAll();
  } finally {
    await lead.call('PATCH', '/printers/band', { enabled: true });
  }
});

test('pharmacy: not enough stock says so clearly and changes nothing', async () => {
  const low = await lead.post('/medicines', { code: 'E2E-LOW', name: 'Metformin', strength: '500 mg', form: 'viên', unit: 'viên', stock: 2 });
  const pat = takePatient();
  const visit = await doctorApi.post('/visits', { patient: pat.code });
  await doctorApi.post('/visits/' + visit.id + '/prescriptions', { medicine: low.id, quantity: 5, dosage: '1 viên' }, 201);
  await pharmApi.post('/stations/pharmacy/current', { visit: visit.id }, 200);
  const page = await newPage();
  await login(page, daemon.base, PINS.pharmacist, '#/pharmacy');
  await waitReady(page, 'pharmacy');
  await page.waitForSelector('[data-testid=rx-table] tr[data-state=prescribed]');
  await page.click('[data-testid=dispense]');
  await waitText(page, '[data-testid=out-of-stock]', (s) => s.includes('Metformin') && s.includes('2'));
  eq(await text(page, '[data-testid=stock-E2E-LOW]'), '2 viên', 'stock unchanged on screen');
  eq((await pharmApi.get('/medicines')).medicines.find((m) => m.code === 'E2E-LOW').stock, 2, 'stock unchanged');
  eq((await pharmApi.get('/visits/' + visit.id)).prescriptions[0].state, 'prescribed', 'still prescribed');
  await page.closeAll();
});

test('queue screen: "Call next" at the vitals station shows the number live on the queue screen, no names; a TV needs no login', async () => {
  const board = await newPage(LAPTOP);
  await login(board, daemon.base, PINS.lead, '#/queue');
  await waitReady(board, 'queue');
  // A TV in the waiting room: no login at all, numbers only.
  const tv = await newPage(LAPTOP);
  await tv.goto(daemon.base + '/#/queue');
  await waitReady(tv, 'queue');
  eq((await tv.context().cookies()).filter((c) => c.name === 'mokit_session').length, 0, 'the TV holds no login');
  const nurse = await newPage(PHONE);
  await login(nurse, daemon.base, PINS.nurse, '#/vitals');
  await waitReady(nurse, 'vitals');
  await nurse.click('[data-testid=call-next]');
  const q = await waitText(board, '[data-testid=q-vitals]', (s) => /^\d+$/.test(s));
  const api = await nurseApi.get('/queue');
  eq(q, String(api.stations.find((s) => s.name === 'vitals').serving), 'serving number');
  eq(await text(nurse, '[data-testid=serving]'), q, 'the station shows it too');
  await waitText(tv, '[data-testid=q-vitals]', q);
  ok((await tv.locator('[data-nav]').count()) === 0, 'no way from the TV to other screens');
  const boardText = await board.locator('main').innerText();
  ok(!boardText.includes(state.name || 'Nguyễn Văn An') && !/Giàng|Sùng|Nguyễn/.test(boardText), 'no names on the queue screen');
  await nurse.click('[data-testid=recall]');
  await waitText(board, '[data-testid=q-vitals]', q);
  await board.screenshot({ path: path.join(shots, 'queue-live.png') });
  await nurse.closeAll();
  await board.closeAll();
  await tv.closeAll();
});

test('setup (lead): add a staff member with a PIN, who can then log in; deactivate; add a medicine', async () => {
  const page = await newPage();
  await login(page, daemon.base, PINS.lead, '#/setup');
  await waitReady(page, 'setup');
  await page.fill('[data-testid=s-name]', 'Vàng Thị Mỷ');
  await page.selectOption('[data-testid=s-role]', 'nurse');
  await page.fill('[data-testid=s-pin]', '24681357');
  await page.click('[data-testid=s-add]');
  await page.waitForSelector('tr[data-staff]:has-text("Vàng Thị Mỷ")');
  const r = await fetch(daemon.base + '/api/v1/login', { method: 'POST', body: JSON.stringify({ pin: '24681357' }) });
  eq(r.status, 200, 'the new PIN logs in');
  await page.locator('tr[data-staff]:has-text("Vàng Thị Mỷ") button.danger').click();
  await page.waitForSelector('tr[data-staff]:has-text("Vàng Thị Mỷ") >> text=Ngừng');
  const s = (await lead.get('/staff')).staff.find((x) => x.name === 'Vàng Thị Mỷ');
  ok(!s.active, 'deactivated');
  // A medicine for the campaign's list, with its first stock.
  const fields = { code: 'E2E-ORS', name: 'Oresol', strength: '4,1 g', form: 'gói', unit: 'gói', stock: '250' };
  for (const k in fields) await page.fill('[data-testid=m-' + k + ']', fields[k]);
  await page.click('[data-testid=m-add]');
  await page.waitForSelector('tr[data-med=E2E-ORS]');
  ok((await text(page, 'tr[data-med=E2E-ORS]')).includes('250 gói'), 'stock shown');
  const m = (await lead.get('/medicines')).medicines.find((x) => x.code === 'E2E-ORS');
  eq(m && m.stock, 250, 'medicine stored with its stock');
  await page.closeAll();
});

const SCREENS = ['home', 'register', 'vitals', 'doctor', 'pharmacy', 'queue', 'dashboard', 'setup'];
for (const [label, vp] of [['360', PHONE], ['1280', LAPTOP]])
  test('every screen at ' + vp.width + 'x' + vp.height + ': drawn, no horizontal scroll, no null/undefined text, targets >= 44 px, screenshot', async () => {
    if (state.code) await nurseApi.post('/stations/vitals/current', { patient: state.code }, 200);
    if (state.code) await nurseApi.post('/stations/pharmacy/current', { patient: state.code }, 200);
    const page = await newPage(vp);
    await page.goto(daemon.base + '/');
    await waitReady(page, 'login');
    await page.screenshot({ path: path.join(shots, 'login-' + label + '.png') });
    await login(page, daemon.base, PINS.lead);
    const bad = [];
    for (const s of SCREENS) {
      await page.goto(daemon.base + '/#/' + (s === 'home' ? '' : s));
      await waitReady(page, s);
      if (s === 'doctor' && state.visit) {
        await page.click('[data-visit="' + state.visit + '"]');
        await page.waitForSelector('[data-testid=patient-name]');
      }
      if (s === 'vitals' && state.code) await page.waitForSelector('[data-testid=patient-name]');
      const m = await page.evaluate(() => {
        const de = document.documentElement;
        const small = [];
        for (const el of document.querySelectorAll('button, .navlink, input:not([type=hidden]), select')) {
          const r = (el.type === 'checkbox' && el.closest('label') ? el.closest('label') : el).getBoundingClientRect();
          if (r.width && r.height && r.height < 43.5 && !el.closest('svg')) small.push(el.tagName + '.' + el.className + ' ' + Math.round(r.height));
        }
        const words = (document.querySelector('main').innerText.match(/\b(null|undefined|NaN)\b|\[object/g) || []);
        return { sw: de.scrollWidth, cw: de.clientWidth, small, words };
      });
      if (m.sw > m.cw) bad.push(s + ': scrollWidth ' + m.sw + ' > ' + m.cw);
      if (m.words.length) bad.push(s + ': shows ' + m.words.join(', '));
      if (m.small.length) bad.push(s + ': small targets ' + m.small.slice(0, 3).join(', '));
      await page.screenshot({ path: path.join(shots, s + '-' + label + '.png'), fullPage: true });
    }
    ok(!bad.length, bad.join('\n'));
    await page.closeAll();
  });

test('no page errors, no CSP violations, no missing translation key on any page', async () => {
  ok(!problems.length, problems.join('\n'));
});

// ------------------------------------------------------------------ main
async function main() {
  daemon = await startDaemon(buildDir);
  try {
    browser = await launch();
    lead = await apiClient(daemon.base, PINS.lead);
    nurseApi = await apiClient(daemon.base, PINS.nurse);
    doctorApi = await apiClient(daemon.base, PINS.doctor);
    pharmApi = await apiClient(daemon.base, PINS.pharmacist);
    await fillPool();
    for (const t of tests) {
      if (only && !only.test(t.name)) continue;
      const t1 = Date.now();
      try {
        await t.fn();
        tap.ok(true, t.name + ' (' + ((Date.now() - t1) / 1000).toFixed(1) + ' s)');
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
  tap.comment('interaction counts: ' + JSON.stringify(counts));
  tap.comment('web suite: ' + ((Date.now() - T0) / 1000).toFixed(1) + ' s, screenshots in ' + shots);
  tap.plan();
  process.exit(tap.failed ? 1 : 0);
}
main();
