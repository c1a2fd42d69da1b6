// Setup (lead): campaign, staff and PINs, medicines and stock, printers, station devices, devices.
import * as api from '../api.js';
import { t } from '../i18n.js';
import { h, clear, fill, button, errText, toast } from '../ui.js';
import { stationLabel } from '../station.js';

const ROLES = ['registrar', 'nurse', 'doctor', 'pharmacist', 'lead'];

// Runs a write and reports it; returns true when it went through.
async function act(method, path, body, then) {
  try {
    await api.send(method, path, body, { label: t('nav.setup') });
    toast(t('common.saved'), 'ok');
    if (then) await then();
    return true;
  } catch (e) {
    toast(errText(e), 'error', 8000);
    return false;
  }
}

const inp = (props) => h('input', Object.assign({ autocomplete: 'off' }, props));
const fld = (label, control) => h('label', { class: 'field' }, h('span', { class: 'lbl' }, label), control);
const table = (heads, rows) => h('div', { class: 'tbl-wrap stack' }, h('table', null, h('thead', null, h('tr', null, heads.map((x) => h('th', null, x)))), h('tbody', null, rows)));

async function campaignPart(box) {
  const r = await api.get('/campaigns');
  const c = (r.campaigns || []).find((x) => x.code === r.current);
  if (!c) return fill(box, h('p', { class: 'banner warn' }, t('setup.no_campaign')));
  const keys = ['name', 'province', 'district', 'commune', 'village', 'start_date', 'end_date', 'hospital'];
  const f = {};
  for (const k of keys) f[k] = inp({ name: 'c_' + k, value: c[k] || '', type: k.endsWith('_date') ? 'date' : 'text', 'data-testid': 'c-' + k });
  fill(box, h('p', null, h('strong', null, c.code)),
    h('div', { class: 'grid' }, keys.map((k) => fld(t('setup.c_' + k), f[k]))),
    h('div', { class: 'actions' }, button(t('common.save'), () => {
      const body = {};
      for (const k of keys) body[k] = f[k].value.trim() || null;
      act('PATCH', '/campaigns/' + encodeURIComponent(c.code), body, () => campaignPart(box));
    }, 'btn primary', { 'data-testid': 'c-save' })));
}

async function staffPart(box) {
  const r = await api.get('/staff');
  const name = inp({ 'data-testid': 's-name' }), pin = inp({ inputmode: 'numeric', 'data-testid': 's-pin' });
  const role = h('select', { 'data-testid': 's-role' }, ROLES.map((x) => h('option', { value: x }, t('role.' + x))));
  const reload = () => staffPart(box);
  fill(box, table([t('setup.name'), t('setup.role'), t('setup.state'), ''], r.staff.map((s) => {
    const newPin = inp({ inputmode: 'numeric', placeholder: t('setup.new_pin'), 'aria-label': t('setup.new_pin') });
    const active = s.active === true || s.active === 1;
    return h('tr', { 'data-staff': s.id }, h('td', null, s.name), h('td', null, t('role.' + s.role)), h('td', null, active ? t('common.active') : t('common.inactive')),
      h('td', null, h('div', { class: 'row' },
        active ? button(t('setup.deactivate'), () => act('PATCH', '/staff/' + s.id, { active: false }, reload), 'btn small danger') :
          button(t('setup.activate'), () => act('PATCH', '/staff/' + s.id, { active: true }, reload), 'btn small'),
        newPin, button(t('setup.reset_pin'), () => {
          if (!/^\d{4,8}$/.test(newPin.value)) return toast(t('setup.pin_bad'), 'error');
          act('PATCH', '/staff/' + s.id, { pin: newPin.value }, reload);
        }, 'btn small'))));
  })),
  h('h3', null, t('setup.add_staff')),
  h('div', { class: 'grid' }, fld(t('setup.name'), name), fld(t('setup.role'), role), fld(t('setup.pin'), pin)),
  h('div', { class: 'actions' }, button(t('setup.add'), () => {
    if (!name.value.trim() || !/^\d{4,8}$/.test(pin.value)) return toast(t('setup.pin_bad'), 'error');
    act('POST', '/staff', { name: name.value.trim(), role: role.value, pin: pin.value }, reload);
  }, 'btn primary', { 'data-testid': 's-add' })));
}

async function medicinesPart(box) {
  const r = await api.get('/medicines');
  const reload = () => medicinesPart(box);
  const f = {};
  for (const k of ['code', 'name', 'strength', 'form', 'unit', 'stock']) f[k] = inp({ 'data-testid': 'm-' + k, inputmode: k === 'stock' ? 'numeric' : null });
  fill(box, table([t('setup.m_code'), t('setup.m_name'), t('pharm.stock'), t('pharm.dispensed'), ''], (r.medicines || []).map((m) => {
    const chg = inp({ inputmode: 'numeric', placeholder: '±', 'aria-label': t('setup.adjust') });
    const active = m.active !== false && m.active !== 0;
    return h('tr', { 'data-med': m.code }, h('td', null, m.code), h('td', null, m.name + ' ' + (m.strength || '') + ' ' + (m.form || '')),
      h('td', { class: 'n' }, m.stock + ' ' + (m.unit || '')), h('td', { class: 'n' }, String(m.dispensed != null ? m.dispensed : '')),
      h('td', null, h('div', { class: 'row' }, chg,
        button(t('setup.adjust'), () => {
          const n = parseInt(chg.value, 10);
          if (!n) return;
          act('POST', '/medicines/' + m.id + '/stock', { change: n, reason: n > 0 ? 'receive' : 'adjust' }, reload);
        }, 'btn small'),
        button(active ? t('setup.deactivate') : t('setup.activate'), () => act('PATCH', '/medicines/' + m.id, { active: !active }, reload), 'btn small'))));
  })),
  h('h3', null, t('setup.add_medicine')),
  h('div', { class: 'grid' }, Object.keys(f).map((k) => fld(t('setup.m_' + k), f[k]))),
  h('div', { class: 'actions' }, button(t('setup.add'), () => {
    const body = {};
    for (const k in f) if (f[k].value.trim()) body[k] = k === 'stock' ? parseInt(f[k].value, 10) : f[k].value.trim();
    act('POST', '/medicines', body, reload);
  }, 'btn primary', { 'data-testid': 'm-add' })));
}

async function printersPart(box) {
  const r = await api.get('/printers');
  const reload = () => printersPart(box);
  const f = { name: inp({}), profile: inp({ placeholder: 'escpos-58' }), uri: inp({ placeholder: 'usb:' }), kinds: inp({ placeholder: 'ticket,wristband,slip' }) };
  fill(box, table([t('setup.p_name'), t('setup.p_state'), t('setup.p_kinds'), ''], r.printers.map((p) =>
    h('tr', { 'data-printer': p.name }, h('td', null, p.name, h('br'), h('small', { class: 'muted' }, p.model || p.profile)),
      h('td', null, t('pstate.' + p.state) + (p.last_error ? ' — ' + p.last_error : '') + (p.queued ? ' · ' + t('setup.queued', { n: p.queued }) : '')),
      h('td', null, p.kinds),
      h('td', null, h('div', { class: 'row' },
        button(p.enabled ? t('setup.disable') : t('setup.enable'), () => act('PATCH', '/printers/' + p.name, { enabled: !p.enabled }, reload), 'btn small'),
        button(t('setup.test_print'), () => act('POST', '/print-jobs', { kind: 'test', printer: p.name }), 'btn small')))))),
  h('h3', null, t('setup.add_printer')),
  h('div', { class: 'grid' }, Object.keys(f).map((k) => fld(t('setup.p_' + k), f[k]))),
  h('div', { class: 'actions' }, button(t('setup.add'), () => act('POST', '/printers',
    { name: f.name.value.trim(), profile: f.profile.value.trim(), uri: f.uri.value.trim(), kinds: f.kinds.value.split(',').map((x) => x.trim()).filter(Boolean) }, reload), 'btn primary')));
}

async function stationsPart(box) {
  const [st, dv] = await Promise.all([api.get('/stations'), api.get('/devices')]);
  const reload = () => stationsPart(box);
  fill(box, table([t('station.pick'), t('setup.devices'), ''], st.stations.map((s) => {
    const d = inp({ value: s.devices || '', 'aria-label': t('setup.devices'), 'data-testid': 'st-' + s.name });
    return h('tr', null, h('td', null, stationLabel(s), s.is_default ? ' (' + t('setup.default') + ')' : ''), h('td', null, d),
      h('td', null, button(t('common.save'), () => act('PATCH', '/stations/' + s.name, { devices: d.value.trim() }, reload), 'btn small')));
  })),
  h('h3', null, t('setup.devices_found')),
  table([t('setup.device'), t('setup.p_state'), t('setup.readings')], dv.devices.map((d) =>
    h('tr', null, h('td', null, h('span', { class: 'mono' }, d.id), h('br'), h('small', { class: 'muted' }, d.model)),
      h('td', null, d.state + (d.message ? ' — ' + d.message : '')), h('td', { class: 'n' }, String(d.readings + d.scans))))));
}

export async function render(root) {
  const parts = [['setup.campaign', campaignPart], ['setup.staff', staffPart], ['setup.medicines', medicinesPart],
    ['setup.printers', printersPart], ['setup.stations', stationsPart]];
  root.append(h('h1', null, t('nav.setup')));
  await Promise.all(parts.map(async ([key, fn]) => {
    const box = h('div');
    root.append(h('section', { class: 'card', 'data-part': key }, h('h2', null, t(key)), box));
    try {
      await fn(box);
    } catch (e) {
      fill(box, h('p', { class: 'banner error' }, errText(e)));
    }
  }));
}
