// The top of a station screen: which station this is, "now serving" with Call next / Recall, and
// the scan field (USB scanner typing into it or into the page, or the phone's camera).
import * as api from './api.js';
import { t } from './i18n.js';
import { h, clear, fill, toast, button, errText } from './ui.js';
import { onScan, scanField, cameraButton } from './scanner.js';
import * as events from './events.js';

export function stationLabel(st) {
  return st.name === st.role ? t('station.' + st.role) : st.name;
}

// opts: {role, onVisit(visitId, how), scanHint}
export async function stationPanel(opts) {
  const { stations } = await api.get('/stations');
  const key = 'mokit.station.' + opts.role;
  const pick = stations.find((s) => s.name === localStorage.getItem(key)) ||
    stations.find((s) => s.role === opts.role && s.is_default) || stations.find((s) => s.role === opts.role) ||
    stations.find((s) => s.is_default) || stations[0];
  let name = pick ? pick.name : opts.role;
  const select = h('select', { 'data-testid': 'station', 'aria-label': t('station.pick'),
    onchange: () => {
      name = select.value;
      localStorage.setItem(key, name);
      loadCurrent();
      loadServing();
    } }, stations.map((s) => h('option', { value: s.name }, stationLabel(s))));
  select.value = name;
  const now = h('span', { class: 'now', 'data-testid': 'serving' }, '—');
  const msg = h('div', { 'data-testid': 'scan-msg' });

  const scan = async (text) => {
    clear(msg);
    try {
      const r = await api.now('POST', '/stations/' + encodeURIComponent(name) + '/scan', { text });
      if (r.accepted && r.kind === 'patient') opts.onVisit(r.visit, 'scan');
      else if (r.accepted) msg.append(h('p', { class: 'banner warn' }, t('station.not_patient')));
      else msg.append(h('p', { class: 'banner warn', role: 'alert' }, t('station.scan_refused') + ': ' + r.reason));
    } catch (e) {
      msg.append(h('p', { class: 'banner error' }, errText(e)));
    }
  };
  const field = scanField(scan, { 'data-testid': 'scan', 'aria-label': t('station.scan_label'), placeholder: t('station.scan_ph') });
  const cam = cameraButton(t('station.camera'), scan);

  const callBtn = async (body) => {
    try {
      const r = await api.now('POST', '/stations/' + encodeURIComponent(name) + '/call', body);
      now.textContent = r.queue_number != null ? String(r.queue_number) : '—';
      if (r.visit) {
        await api.now('POST', '/stations/' + encodeURIComponent(name) + '/current', { visit: r.visit });
        opts.onVisit(r.visit, 'call');
      }
    } catch (e) {
      toast(e.code === 'queue_empty' ? t('station.queue_empty') : errText(e), e.code === 'queue_empty' ? 'info' : 'error');
    }
  };

  const el = h('div', { class: 'card station noprint' },
    h('div', { class: 'row' },
      h('label', { class: 'field grow' }, h('span', { class: 'lbl' }, t('station.pick')), select),
      h('div', { class: 'serving' }, h('span', null, t('station.serving')), now,
        button(t('station.call_next'), () => callBtn({ next: true }), 'btn primary', { 'data-testid': 'call-next' }),
        button(t('station.recall'), () => callBtn({ recall: true }), 'btn', { 'data-testid': 'recall' }))),
    h('div', { class: 'row' }, h('label', { class: 'field grow' }, h('span', { class: 'lbl' }, t('station.scan_label')), field), cam),
    msg);

  async function loadCurrent() {
    try {
      const st = await api.get('/stations/' + encodeURIComponent(name));
      if (st.current && st.current.visit) opts.onVisit(st.current.visit, 'current');
    } catch (e) {
      console.error(e);
    }
  }
  async function loadServing() {
    try {
      const q = await api.get('/queue');
      const s = (q.stations || []).find((x) => x.name === name);
      now.textContent = s && s.serving != null ? String(s.serving) : '—';
    } catch {
      now.textContent = '—';
    }
  }
  const offs = [
    onScan(scan),
    events.on('station', (st) => {
      if (st.name === name && st.current && st.current.visit) opts.onVisit(st.current.visit, 'station');
    }),
    events.on('scan', (s) => {
      if (s.station === name && !s.accepted && s.device) {
        fill(msg, h('p', { class: 'banner warn', role: 'alert' }, t('station.scan_refused') + ': ' + s.reason));
      }
    }),
    events.on('call', (c) => {
      if (c.station === name) now.textContent = c.queue_number != null ? String(c.queue_number) : '—';
    }),
    events.on('reconnect', () => {
      loadCurrent();
      loadServing();
    }),
  ];
  loadServing();
  // The list has each station's current patient already.
  if (pick && pick.name === name && pick.current && pick.current.visit) await opts.onVisit(pick.current.visit, 'current');
  return {
    el,
    field,
    name: () => name,
    focus: () => field.focus(),
    destroy: () => offs.forEach((f) => f()),
  };
}
