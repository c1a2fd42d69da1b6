// DOM helpers shared by every screen: element builder, toasts, formatting.
import { t } from './i18n.js';

// h('button', {class:'btn', onclick: fn, text: 'x'}, child...) -> element
export function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  let value;
  if (props)
    for (const k in props) {
      const v = props[k];
      if (v == null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k === 'value') value = v;
      else if (k === 'checked' || k === 'disabled' || k === 'selected') el[k] = !!v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : v);
    }
  for (const c of kids.flat(4)) if (c != null && c !== false) el.append(c instanceof Node ? c : String(c));
  if (value !== undefined) el.value = value;
  return el;
}

const SVG = 'http://www.w3.org/2000/svg';
export function s(tag, attrs, ...kids) {
  const el = document.createElementNS(SVG, tag);
  for (const k in attrs || {}) el.setAttribute(k, attrs[k]);
  for (const c of kids.flat(4)) if (c != null) el.append(c instanceof Node ? c : String(c));
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

// Empties el and puts the kids in (null and false are left out, not written as text).
export function fill(el, ...kids) {
  clear(el);
  for (const c of kids.flat(4)) if (c != null && c !== false) el.append(c);
  return el;
}

export function toast(text, kind = 'info', ms = 4000) {
  const box = document.getElementById('toasts');
  const el = h('div', { class: 'toast ' + kind, role: kind === 'error' ? 'alert' : null }, text);
  box.append(el);
  setTimeout(() => el.remove(), ms);
  return el;
}

// A labelled field: field('name', t('reg.name'), input)
export function field(label, control, extra) {
  return h('label', { class: 'field' + (extra ? ' ' + extra : '') }, h('span', { class: 'lbl' }, label), control);
}

export function button(label, onclick, cls = 'btn', props = {}) {
  return h('button', Object.assign({ type: 'button', class: cls, onclick }, props), label);
}

// Error text for an ApiError or a network failure.
export function errText(e) {
  if (!e) return '';
  if (e.offline) return t('err.offline');
  if (e.code) {
    const k = 'err.' + e.code;
    const known = ['invalid', 'forbidden', 'not_found', 'out_of_range', 'duplicate', 'likely_duplicate',
      'out_of_stock', 'conflict', 'queue_empty', 'no_campaign', 'pin_taken', 'exists', 'busy',
      'storage_full', 'unavailable', 'wrong_pin', 'too_many_attempts', 'bad_code', 'internal'];
    const head = known.includes(e.code) ? t(k) : e.code;
    return e.message ? head + ': ' + e.message : head;
  }
  return String(e.message || e);
}

export function sexText(s) {
  return s === 'male' ? t('sex.male') : s === 'female' ? t('sex.female') : '—';
}

export function ageOf(p, at) {
  if (!p || !p.birth_year) return null;
  const d = at ? new Date(at) : new Date();
  let age = d.getFullYear() - p.birth_year;
  if (p.birth_date) {
    const [, m, dd] = p.birth_date.split('-').map(Number);
    if (d.getMonth() + 1 < m || (d.getMonth() + 1 === m && d.getDate() < dd)) age--;
  }
  return age;
}

export function time(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

export function num(v) {
  return typeof v === 'number' ? String(Math.round(v * 10) / 10) : '—';
}

const LEVELS = ['urgent', 'flag', 'review', 'repeat', 'info'];
export function levelRank(l) {
  const i = LEVELS.indexOf(l);
  return i < 0 ? 99 : i;
}

// Flags of a visit as a list; urgent ones get the "send to the doctor now" banner.
export function flagList(flags, lang) {
  if (!flags || !flags.length) return h('p', { class: 'muted', 'data-testid': 'no-flags' }, t('flags.none'));
  const urgent = flags.some((f) => f.level === 'urgent');
  return h('div', { class: 'flags', 'data-testid': 'flags' },
    urgent ? h('div', { class: 'banner urgent', role: 'alert', 'data-testid': 'urgent' }, t('flags.urgent_banner')) : null,
    flags.map((f) =>
      h('div', { class: 'flag lvl-' + f.level, 'data-level': f.level, 'data-rule': f.rule },
        h('strong', null, t('level.' + f.level)), ' ',
        (f.message && (f.message[lang] || f.message.vi)) || f.why || f.rule,
        f.level === 'repeat' ? h('div', { class: 'hint' }, t('flags.repeat_hint')) : null,
        f.why ? h('div', { class: 'why' }, f.why) : null)));
}

// Latest observation of each code.
export function latest(observations) {
  const out = {};
  for (const o of observations || []) {
    const cur = out[o.code];
    if (!cur || (o.taken_at || '') >= (cur.taken_at || '')) out[o.code] = o;
  }
  return out;
}

export function obsText(o) {
  if (!o) return '—';
  const v = o.values || {};
  if (o.code === 'bp') return num(v.systolic) + '/' + num(v.diastolic);
  let s = num(v.value);
  if (o.code === 'glucose' && o.fasting != null) s += ' (' + (o.fasting ? t('vitals.fasting_yes') : t('vitals.fasting_no')) + ')';
  return s;
}

export const OBS_CODES = ['bp', 'pulse', 'spo2', 'weight', 'height', 'temp', 'glucose', 'waist'];
export const UNITS = { bp: 'mmHg', pulse: '/min', spo2: '%', weight: 'kg', height: 'cm', temp: '°C', glucose: 'mmol/L', waist: 'cm' };

// The readings table of a visit (latest of each kind), with BMI when weight and height are known.
export function vitalsGrid(observations) {
  const last = latest(observations);
  const cells = OBS_CODES.map((c) =>
    h('div', { class: 'vital' + (last[c] ? ' has' : ''), 'data-code': c },
      h('span', { class: 'vk' }, t('obs.' + c)),
      h('span', { class: 'vv', 'data-testid': 'v-' + c }, obsText(last[c])),
      h('span', { class: 'vu' }, UNITS[c]),
      last[c] ? h('span', { class: 'src' }, last[c].source === 'device' ? t('vitals.src_device') : t('vitals.src_manual')) : null));
  const w = last.weight && last.weight.values.value, ht = last.height && last.height.values.value;
  if (w && ht) {
    const bmi = w / ((ht / 100) * (ht / 100));
    cells.push(h('div', { class: 'vital has', 'data-code': 'bmi' }, h('span', { class: 'vk' }, 'BMI'),
      h('span', { class: 'vv', 'data-testid': 'v-bmi' }, num(bmi)), h('span', { class: 'vu' }, 'kg/m²')));
  }
  return h('div', { class: 'vitals-grid' }, cells);
}

export function patientCard(v) {
  const p = v.patient || {};
  const age = v.age != null ? v.age : ageOf(p, v.created_at);
  return h('div', { class: 'pcard', 'data-testid': 'patient' },
    h('div', { class: 'qn', title: t('common.queue_number') }, v.queue_number != null ? String(v.queue_number) : ''),
    h('div', { class: 'pinfo' },
      h('div', { class: 'pname', 'data-testid': 'patient-name' }, p.name || ''),
      h('div', { class: 'pmeta' }, [sexText(p.sex), age != null ? t('common.age', { n: age }) : null,
        p.ethnicity_name, p.village].filter(Boolean).join(' · ')),
      h('div', { class: 'pcode mono' }, p.code_display || p.code || '')));
}
