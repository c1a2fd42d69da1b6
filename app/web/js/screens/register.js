// Registration desk: a citizen ID card's QR from the USB scanner (or typing by hand), duplicates
// shown while typing, save -> wristband + queue ticket printed, queue number shown big.
import * as api from '../api.js';
import { t } from '../i18n.js';
import { h, clear, fill, button, errText, sexText, toast } from '../ui.js';
import { bindDraft, fieldsOf } from '../draft.js';
import { scanField } from '../scanner.js';
import { onScan } from '../scanner.js';
import { printLines } from '../app.js';

const ETHNIC = ['Kinh', 'Tày', 'Thái', 'Mường', 'Khmer', 'Hoa', 'Nùng', "H'Mông", 'Dao', 'Giáy', 'Gia Rai', 'Ê Đê', 'Ba Na', 'Xơ Đăng', 'Sán Chay', 'Cơ Ho', 'Chăm', 'Sán Dìu', 'Hrê', 'Ra Glai', 'Mnông', 'Thổ', 'Xtiêng', 'Khơ Mú', 'Bru Vân Kiều', 'Cơ Tu', 'Tà Ôi', 'Mạ', 'Giẻ Triêng', 'Co', 'Chơ Ro', 'Xinh Mun', 'Hà Nhì', 'Chu Ru', 'Lào', 'La Chí', 'Kháng', 'Phù Lá', 'La Hủ', 'La Ha', 'Pà Thẻn', 'Lự', 'Ngái', 'Chứt', 'Lô Lô', 'Mảng', 'Cơ Lao', 'Bố Y', 'Cống', 'Si La', 'Pu Péo', 'Rơ Măm', 'Brâu', 'Ơ Đu'];

// "1989", "15/08/1989", "15081989", "1989-08-15" -> "1989" or "1989-08-15"; null when not a date.
export function normBirth(s) {
  s = (s || '').trim();
  let m;
  if (/^\d{4}$/.test(s)) return s;
  if ((m = s.match(/^(\d{4})-(\d{1,2})-(\d{1,2})$/))) return m[1] + '-' + m[2].padStart(2, '0') + '-' + m[3].padStart(2, '0');
  if ((m = s.match(/^(\d{1,2})[/.\- ](\d{1,2})[/.\- ](\d{4})$/)) || (m = s.match(/^(\d{2})(\d{2})(\d{4})$/)))
    return m[3] + '-' + m[2].padStart(2, '0') + '-' + m[1].padStart(2, '0');
  return null;
}

// "Thôn 3, Tả Van, Sa Pa, Lào Cai" -> {village: "Thôn 3", commune: "Tả Van"}
export function splitAddress(a) {
  const p = (a || '').split(',').map((x) => x.trim()).filter(Boolean);
  if (p.length >= 4) return { village: p.slice(0, p.length - 3).join(', '), commune: p[p.length - 3] };
  if (p.length === 3) return { village: '', commune: p[0] };
  return { village: p.join(', '), commune: '' };
}

export async function render(root) {
  const msg = h('div', { 'aria-live': 'polite' });
  const result = h('div', { 'data-testid': 'result' });
  const dupes = h('div', { 'data-testid': 'dupes' });
  const inp = (name, props = {}) => h('input', Object.assign({ name, autocomplete: 'off', 'data-testid': 'f-' + name }, props));
  const f = {
    name: inp('name', { required: true, autocapitalize: 'words' }),
    sex: h('select', { name: 'sex', 'data-testid': 'f-sex', required: true },
      h('option', { value: '' }, '—'), h('option', { value: 'male' }, t('sex.male')), h('option', { value: 'female' }, t('sex.female'))),
    birth: inp('birth', { inputmode: 'numeric', placeholder: t('reg.birth_ph') }),
    ethnicity: inp('ethnicity', { list: 'ethnic-list' }),
    village: inp('village'),
    commune: inp('commune'),
    phone: inp('phone', { inputmode: 'tel' }),
    cccd: inp('cccd', { inputmode: 'numeric' }),
    bhyt: inp('bhyt'),
    address: h('input', { name: 'address', type: 'hidden' }),
    consent: h('input', { type: 'checkbox', name: 'consent', 'data-testid': 'f-consent' }),
  };
  const errs = {};
  const lab = (name, text, cls) => {
    errs[name] = h('span', { class: 'ferr' });
    return h('label', { class: 'field' + (cls ? ' ' + cls : '') }, h('span', { class: 'lbl' }, text), f[name], errs[name]);
  };
  const saveBtn = h('button', { type: 'submit', class: 'btn primary', 'data-testid': 'save' }, t('reg.save'));
  const form = h('form', { class: 'card', autocomplete: 'off', 'data-testid': 'reg-form' },
    h('div', { class: 'grid' },
      lab('name', t('reg.name') + ' *', 'wide'), lab('sex', t('reg.sex') + ' *'), lab('birth', t('reg.birth') + ' *'),
      lab('ethnicity', t('reg.ethnicity')), lab('village', t('reg.village')), lab('commune', t('reg.commune')),
      lab('phone', t('reg.phone')), lab('cccd', t('reg.cccd')), lab('bhyt', t('reg.bhyt'))),
    f.address,
    h('datalist', { id: 'ethnic-list' }, ETHNIC.map((e) => h('option', { value: e }))),
    h('label', { class: 'check' }, f.consent, t('reg.consent') + ' *'), (errs.consent = h('span', { class: 'ferr', 'data-testid': 'err-consent' })),
    dupes,
    h('div', { class: 'actions' }, saveBtn, button(t('reg.clear'), () => reset(), 'btn', { 'data-testid': 'clear' })));
  const draft = bindDraft(form, 'register');

  const setFields = (v) => {
    for (const k in v) if (f[k] && v[k] != null) f[k].value = v[k];
    draft.save();
  };
  function reset() {
    form.reset();
    for (const k in f) if (f[k].type !== 'checkbox') f[k].value = '';
    draft.clear();
    clear(dupes);
    clear(msg);
    scan.focus();
  }

  // ---- scanning: a CCCD QR (has '|') or a wristband code
  const onText = async (text) => {
    clear(msg);
    if (text.includes('|')) {
      try {
        const c = await api.now('POST', '/id/cccd', { text });
        clear(result);
        const a = splitAddress(c.address);
        setFields({ name: c.name, sex: c.sex, birth: c.birth_date ? c.birth_date.split('-').reverse().join('/') : '', cccd: c.id,
          address: c.address || '', village: a.village, commune: a.commune });
        msg.append(h('p', { class: 'banner ok', 'data-testid': 'cccd-ok' }, t('reg.cccd_read', { name: c.name })));
        checkDupes();
        f.ethnicity.focus();
      } catch (e) {
        msg.append(h('p', { class: 'banner error', role: 'alert' }, t('reg.cccd_bad') + ': ' + errText(e)));
      }
    } else if (/^[A-Za-z0-9 -]{12,16}$/.test(text)) {
      try {
        const p = await api.get('/patients/' + encodeURIComponent(text.replace(/[\s-]/g, '').toUpperCase()));
        showExisting(p, t('reg.found'));
      } catch (e) {
        msg.append(h('p', { class: 'banner error', role: 'alert' }, errText(e)));
      }
    } else {
      f.name.value = text;
      draft.save();
      f.name.focus();
    }
  };
  const scan = scanField(onText, { 'data-testid': 'scan', placeholder: t('reg.scan_ph'), 'aria-label': t('reg.scan') });
  const offScan = onScan(onText);

  // ---- duplicates while typing
  let dupTimer = null;
  let dupSeq = 0;
  async function checkDupes() {
    const name = f.name.value.trim();
    const b = normBirth(f.birth.value);
    if (name.length < 3) return clear(dupes);
    const seq = ++dupSeq;
    let q = '?q=' + encodeURIComponent(name) + '&limit=5';
    if (b) q += '&birth_year=' + b.slice(0, 4);
    try {
      const r = await api.get('/patients' + q);
      if (seq !== dupSeq) return;
      clear(dupes);
      if (r.results.length)
        dupes.append(h('div', { class: 'banner warn' }, t('reg.maybe_dupes')),
          h('ul', { class: 'list' }, r.results.map((p) => h('li', null, patientLine(p)))));
    } catch {
      /* only a hint */
    }
  }
  for (const k of ['name', 'birth']) f[k].addEventListener('input', () => {
    clearTimeout(dupTimer);
    dupTimer = setTimeout(checkDupes, 350);
  });

  function patientLine(p) {
    return h('button', { type: 'button', class: 'pick', 'data-code': p.code, onclick: () => openExisting(p.code) },
      h('span', { class: 'grow' }, h('strong', null, p.name), ' · ', sexText(p.sex), ' · ', p.birth_date || p.birth_year, ' · ', p.village || p.commune || ''),
      h('span', { class: 'btn small' }, t('reg.open')));
  }
  async function openExisting(code) {
    try {
      showExisting(await api.get('/patients/' + encodeURIComponent(code)), t('reg.existing'));
    } catch (e) {
      toast(errText(e), 'error');
    }
  }

  // ---- an existing resident: today's visit + ticket, or a new wristband
  function showExisting(p, title) {
    const out = h('div', { 'data-testid': 'visit-result' });
    const act = async (kinds) => {
      clear(out);
      try {
        const v = await api.send('POST', '/visits', { patient: p.code }, { label: t('reg.visit') });
        const prints = [];
        for (const kind of kinds) {
          try {
            prints.push({ kind, job: await api.send('POST', '/print-jobs', { kind, patient: p.code }, { label: t('kind.' + kind) }) });
          } catch (e) {
            prints.push({ kind, error: { code: e.code, message: e.message } });
          }
        }
        out.append(bigQueue(v.queue_number), printLines(prints));
      } catch (e) {
        out.append(h('p', { class: 'banner error' }, errText(e)));
      }
    };
    fill(result, h('div', { class: 'card', 'data-testid': 'existing' },
      h('h2', null, title),
      h('p', null, h('strong', { 'data-testid': 'existing-name' }, p.name), ' · ', sexText(p.sex), ' · ', p.birth_date || p.birth_year),
      h('p', null, [p.ethnicity_name, p.village, p.commune].filter(Boolean).join(' · ')),
      h('p', { class: 'mono' }, p.code_display || p.code),
      h('div', { class: 'actions' },
        button(t('reg.visit_ticket'), () => act(['ticket']), 'btn primary', { 'data-testid': 'visit-ticket' }),
        button(t('reg.new_band'), () => act(['wristband', 'ticket']), 'btn', { 'data-testid': 'visit-band' })),
      out));
  }

  function bigQueue(n) {
    return h('div', { class: 'bigq' }, h('div', null, t('common.queue_number')), h('div', { class: 'n', 'data-testid': 'queue-number' }, n != null ? String(n) : '—'));
  }

  // ---- save
  let confirmNew = false;
  form.addEventListener('input', () => (confirmNew = false));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    for (const k in errs) errs[k].textContent = '';
    for (const k in f) f[k].classList.remove('bad');
    const v = fieldsOf(form);
    const bad = {};
    if (!v.name.trim()) bad.name = t('reg.required');
    if (!v.sex) bad.sex = t('reg.required');
    const birth = normBirth(v.birth);
    if (!birth) bad.birth = t('reg.birth_bad');
    if (v.cccd && !/^\d{12}$/.test(v.cccd.trim())) bad.cccd = t('reg.cccd_12');
    if (!v.consent) bad.consent = t('reg.consent_needed');
    for (const k in bad) {
      errs[k].textContent = bad[k];
      f[k].classList.add('bad');
    }
    if (Object.keys(bad).length) return f[Object.keys(bad)[0]].focus();
    const body = { name: v.name.trim(), sex: v.sex, birth, consent: true, print: ['wristband', 'ticket'] };
    for (const k of ['ethnicity', 'village', 'commune', 'phone', 'cccd', 'bhyt', 'address']) if (v[k] && v[k].trim()) body[k] = v[k].trim();
    if (confirmNew) body.confirm_new = true;
    clear(msg);
    clear(result);
    saveBtn.disabled = true;
    const pend = h('p', { class: 'pending', 'data-testid': 'not-sent', hidden: true }, t('common.not_sent'));
    msg.append(pend);
    try {
      const p = await api.send('POST', '/patients', body, { label: t('reg.title') + ': ' + body.name, onQueued: () => (pend.hidden = false) });
      pend.remove();
      draft.clear();
      form.reset();
      for (const k in f) if (f[k].type !== 'checkbox') f[k].value = '';
      clear(dupes);
      result.append(h('div', { class: 'card', 'data-testid': 'saved' },
        h('h2', null, t('reg.saved', { name: p.name })),
        bigQueue(p.visit ? p.visit.queue_number : null),
        h('p', { class: 'mono', 'data-testid': 'saved-code' }, p.code_display || p.code),
        printLines(p.print),
        button(t('reg.next'), () => {
          clear(result);
          scan.focus();
        }, 'btn primary', { 'data-testid': 'next' })));
    } catch (e) {
      pend.remove();
      if (e.code === 'duplicate' && e.body.patient) {
        msg.append(h('p', { class: 'banner warn', role: 'alert', 'data-testid': 'duplicate' }, t('reg.duplicate')));
        showExisting(e.body.patient, t('reg.existing'));
      } else if (e.code === 'likely_duplicate') {
        msg.append(h('div', { class: 'card', 'data-testid': 'likely' },
          h('p', { class: 'banner warn', role: 'alert' }, t('reg.likely')),
          h('ul', { class: 'list' }, (e.body.candidates || []).map((c) => h('li', null, patientLine(c)))),
          button(t('reg.confirm_new'), () => {
            confirmNew = true;
            form.requestSubmit();
          }, 'btn primary', { 'data-testid': 'confirm-new' })));
      } else {
        if (e.field && errs[e.field]) {
          errs[e.field].textContent = e.message;
          f[e.field].classList.add('bad');
        }
        msg.append(h('p', { class: 'banner error', role: 'alert' }, errText(e)));
      }
    } finally {
      saveBtn.disabled = false;
    }
  });

  root.append(h('h1', null, t('reg.title')),
    h('div', { class: 'card noprint' }, h('label', { class: 'field' }, h('span', { class: 'lbl' }, t('reg.scan')), scan)),
    msg, result, form);
  if (draft.restored) msg.append(h('p', { class: 'banner warn', 'data-testid': 'restored' }, t('common.restored')));
  scan.focus();
  return () => {
    offScan();
    clearTimeout(dupTimer);
  };
}
