// Vitals station: scan a wristband, readings from the station's devices arrive live, readings by
// hand (checked against the plausible ranges first), symptoms, flags.
import * as api from '../api.js';
import { t, lang } from '../i18n.js';
import { h, clear, fill, button, errText, flagList, vitalsGrid, patientCard, toast } from '../ui.js';
import { bindDraft } from '../draft.js';
import { stationPanel } from '../station.js';
import * as events from '../events.js';

// name: [code, value key, min, max]
const FIELDS = [
  ['sys', 'bp', 'systolic', 60, 260], ['dia', 'bp', 'diastolic', 40, 260], ['pulse', 'pulse', 'value', 25, 250],
  ['spo2', 'spo2', 'value', 50, 100], ['weight', 'weight', 'value', 0.5, 300], ['height', 'height', 'value', 30, 250],
  ['temp', 'temp', 'value', 30, 45], ['glucose', 'glucose', 'value', 1, 40], ['waist', 'waist', 'value', 30, 200],
];
export const SYMPTOMS = ['chest_pain', 'breathlessness', 'severe_headache', 'blurred_vision', 'confusion', 'one_sided_weakness', 'thirst_urination'];

function parseNum(s) {
  s = String(s).trim().replace(',', '.');
  if (!s) return null;
  return /^-?\d+(\.\d+)?$/.test(s) ? Number(s) : NaN;
}

// Checks the manual form; returns {obs:[{code, body, names}], errors:{name: text}}.
export function checkReadings(v) {
  const errors = {};
  const val = {};
  for (const [name, , , min, max] of FIELDS) {
    const n = parseNum(v[name] || '');
    if (n === null) continue;
    if (Number.isNaN(n)) errors[name] = t('vitals.not_number');
    else if (n < min || n > max) errors[name] = t('vitals.range', { min, max });
    else val[name] = n;
  }
  const obs = [];
  const hasS = v.sys && String(v.sys).trim(), hasD = v.dia && String(v.dia).trim();
  if (hasS || hasD) {
    if (!hasS) errors.sys = errors.sys || t('vitals.bp_both');
    else if (!hasD) errors.dia = errors.dia || t('vitals.bp_both');
    else if (val.sys != null && val.dia != null && val.dia >= val.sys) errors.dia = t('vitals.dia_below');
    if (!errors.sys && !errors.dia) obs.push({ code: 'bp', names: ['sys', 'dia'], body: { code: 'bp', values: { systolic: val.sys, diastolic: val.dia } } });
  }
  for (const [name, code] of FIELDS) {
    if (code === 'bp' || val[name] == null) continue;
    const body = { code, value: val[name] };
    if (code === 'glucose' && v.fasting) body.fasting = v.fasting === 'yes';
    obs.push({ code, names: code === 'glucose' ? ['glucose', 'fasting'] : [name], body });
  }
  return { obs, errors };
}

export async function render(root) {
  const body = h('div', { class: 'visit' });
  let visit = null;
  let parts = null;
  let refreshTimer = null;

  const open = async (id) => {
    if (visit && visit.id === id) return refresh();
    let v;
    try {
      v = await api.get('/visits/' + encodeURIComponent(id));
    } catch (e) {
      fill(body, h('p', { class: 'banner error' }, errText(e)));
      return;
    }
    visit = v;
    draw();
  };
  const refresh = async () => {
    if (!visit) return;
    try {
      const v = await api.get('/visits/' + encodeURIComponent(visit.id));
      if (!visit || v.id !== visit.id) return;
      visit = v;
      fill(parts.flags, flagList(v.flags, lang));
      fill(parts.grid, vitalsGrid(v.observations));
    } catch (e) {
      console.error(e);
    }
  };
  const soon = () => {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refresh, 150);
  };

  function draw() {
    const v = visit;
    parts = {
      flags: h('div', null, flagList(v.flags, lang)),
      grid: h('div', { 'data-testid': 'vitals' }, vitalsGrid(v.observations)),
    };
    fill(body, patientCard(v), parts.flags, h('h2', null, t('vitals.readings')), parts.grid, manualForm(v), symptomsForm(v),
      h('div', { class: 'actions' }, button(t('vitals.done'), done, 'btn primary', { 'data-testid': 'done' })));
  }

  function manualForm(v) {
    const status = h('div', { 'data-testid': 'manual-status', 'aria-live': 'polite' });
    const inputs = {};
    const errs = {};
    const cell = (name, label, unit) => {
      inputs[name] = h('input', { name, inputmode: 'decimal', autocomplete: 'off', 'data-testid': 'in-' + name });
      errs[name] = h('span', { class: 'ferr' });
      return h('label', { class: 'field' }, h('span', { class: 'lbl' }, label + (unit ? ' (' + unit + ')' : '')), inputs[name], errs[name]);
    };
    const fasting = h('select', { name: 'fasting', 'data-testid': 'in-fasting' },
      h('option', { value: '' }, t('vitals.fasting_unknown')), h('option', { value: 'yes' }, t('vitals.fasting_yes')), h('option', { value: 'no' }, t('vitals.fasting_no')));
    errs.fasting = h('span', { class: 'ferr' });
    inputs.fasting = fasting;
    const form = h('form', { class: 'card later', 'data-testid': 'manual', autocomplete: 'off' },
      h('h2', null, t('vitals.manual')),
      h('div', { class: 'grid' },
        cell('sys', t('vitals.sys'), 'mmHg'), cell('dia', t('vitals.dia'), 'mmHg'), cell('pulse', t('obs.pulse'), '/min'),
        cell('spo2', t('obs.spo2'), '%'), cell('weight', t('obs.weight'), 'kg'), cell('height', t('obs.height'), 'cm'),
        cell('temp', t('obs.temp'), '°C'), cell('glucose', t('obs.glucose'), 'mmol/L'),
        h('label', { class: 'field' }, h('span', { class: 'lbl' }, t('vitals.fasting')), fasting, errs.fasting),
        cell('waist', t('obs.waist'), 'cm')),
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn primary', 'data-testid': 'save-readings' }, t('vitals.save'))),
      status);
    const draft = bindDraft(form, 'vitals.' + v.id);
    if (draft.restored) status.append(h('p', { class: 'banner warn', 'data-testid': 'restored' }, t('common.restored')));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      for (const k in errs) errs[k].textContent = '';
      for (const k in inputs) inputs[k].classList.remove('bad');
      const values = {};
      for (const k in inputs) values[k] = inputs[k].value;
      const { obs, errors } = checkReadings(values);
      for (const k in errors) {
        errs[k].textContent = errors[k];
        inputs[k].classList.add('bad');
      }
      if (Object.keys(errors).length || !obs.length) {
        if (!obs.length && !Object.keys(errors).length) status.replaceChildren(h('p', { class: 'banner warn' }, t('vitals.nothing')));
        return;
      }
      clear(status);
      const pend = h('p', { class: 'pending', 'data-testid': 'not-sent', hidden: true }, t('common.not_sent'));
      status.append(pend);
      let sent = 0;
      await Promise.all(obs.map(async (o) => {
        try {
          await api.send('POST', '/visits/' + encodeURIComponent(v.id) + '/observations', o.body,
            { label: t('obs.' + o.code), onQueued: () => (pend.hidden = false) });
          sent++;
          for (const n of o.names) inputs[n].value = '';
        } catch (e) {
          const n = o.names[0];
          errs[n].textContent = e.code === 'out_of_range' ? t('err.out_of_range') + ': ' + e.message : errText(e);
          inputs[n].classList.add('bad');
        }
      }));
      draft.save();
      pend.hidden = true;
      if (sent) status.append(h('p', { class: 'banner ok', 'data-testid': 'saved' }, t('vitals.saved', { n: sent })));
      if (visit && visit.id === v.id) refresh();
    });
    return form;
  }

  function symptomsForm(v) {
    const form = h('form', { class: 'card later', 'data-testid': 'symptoms' }, h('h2', null, t('vitals.symptoms')));
    const cur = new Set(v.symptoms || []);
    const boxes = SYMPTOMS.map((k) => h('input', { type: 'checkbox', name: 'sym_' + k, value: k, checked: cur.has(k) }));
    form.append(h('div', { class: 'grid' }, SYMPTOMS.map((k, i) => h('label', { class: 'check' }, boxes[i], t('sym.' + k)))));
    const st = h('p', { class: 'muted', 'aria-live': 'polite' });
    form.append(st);
    const draft = bindDraft(form, 'symptoms.' + v.id);
    form.addEventListener('change', async () => {
      const list = boxes.filter((b) => b.checked).map((b) => b.value);
      st.textContent = '';
      try {
        await api.send('PATCH', '/visits/' + encodeURIComponent(v.id), { symptoms: list },
          { label: t('vitals.symptoms'), onQueued: () => (st.textContent = t('common.not_sent')) });
        st.textContent = t('common.saved');
        draft.clear();
        if (visit && visit.id === v.id) refresh();
      } catch (e) {
        st.textContent = errText(e);
      }
    });
    return form;
  }

  async function done() {
    try {
      await api.now('POST', '/stations/' + encodeURIComponent(panel.name()) + '/current', { visit: null });
    } catch (e) {
      toast(errText(e), 'error');
    }
    visit = null;
    fill(body, h('p', { class: 'muted', 'data-testid': 'waiting' }, t('vitals.scan_next')));
    panel.focus();
  }

  body.append(h('p', { class: 'muted', 'data-testid': 'waiting' }, t('vitals.scan_next')));
  const panel = await stationPanel({ role: 'vitals', onVisit: open });
  root.append(h('h1', null, t('nav.vitals')), panel.el, body);
  const offs = [
    events.on('reading', (r) => {
      if (visit && r.visit === visit.id) soon();
      else if (r.station === panel.name() && r.state === 'unassigned') toast(t('vitals.unassigned', { what: t('obs.' + r.code) }), 'warn');
      else if (r.station === panel.name() && r.state === 'implausible') toast(t('vitals.implausible', { what: t('obs.' + r.code) }), 'warn');
    }),
    events.on('reconnect', soon),
  ];
  return () => {
    clearTimeout(refreshTimer);
    panel.destroy();
    offs.forEach((f) => f());
  };
}
