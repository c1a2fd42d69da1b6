// Pharmacy: scan -> the visit's prescriptions -> Dispense; the campaign's stock, receiving stock.
import * as api from '../api.js';
import { t } from '../i18n.js';
import { h, clear, fill, button, errText, patientCard, toast } from '../ui.js';
import { stationPanel } from '../station.js';
import * as events from '../events.js';

export async function render(root) {
  const body = h('div', { class: 'visit' }, h('p', { class: 'muted', 'data-testid': 'waiting' }, t('pharm.scan')));
  const stockBox = h('div', { 'data-testid': 'stock' });
  const msg = h('div', { 'aria-live': 'polite', 'data-testid': 'pharm-msg' });
  let visit = null;
  let medicines = [];

  async function loadStock() {
    try {
      medicines = (await api.get('/medicines')).medicines || [];
    } catch (e) {
      fill(stockBox, h('p', { class: 'banner error' }, errText(e)));
      return;
    }
    const med = h('select', { 'data-testid': 'recv-med', 'aria-label': t('doctor.medicine') }, medicines.map((m) => h('option', { value: m.id }, m.name + ' ' + (m.strength || ''))));
    const qty = h('input', { inputmode: 'numeric', 'data-testid': 'recv-qty', 'aria-label': t('pharm.receive_qty') });
    const err = h('p', { class: 'ferr' });
    fill(stockBox, h('div', { class: 'tbl-wrap' }, h('table', null,
      h('thead', null, h('tr', null, h('th', null, t('doctor.medicine')), h('th', { class: 'n' }, t('pharm.stock')), h('th', { class: 'n' }, t('pharm.dispensed')))),
      h('tbody', null, medicines.map((m) => h('tr', { 'data-med': m.code },
        h('td', null, m.name + ' ' + (m.strength || ''), m.active === false || m.active === 0 ? ' (' + t('common.inactive') + ')' : ''),
        h('td', { class: 'n', 'data-testid': 'stock-' + m.code }, m.stock + ' ' + (m.unit || '')),
        h('td', { class: 'n' }, String(m.dispensed != null ? m.dispensed : '')))))) ),
    h('h3', null, t('pharm.receive')),
    h('div', { class: 'row' }, h('label', { class: 'field grow' }, h('span', { class: 'lbl' }, t('doctor.medicine')), med),
      h('label', { class: 'field' }, h('span', { class: 'lbl' }, t('pharm.receive_qty')), qty),
      button(t('pharm.receive_btn'), async () => {
        err.textContent = '';
        const n = parseInt(qty.value, 10);
        if (!(n > 0)) return (err.textContent = t('doctor.qty_bad'));
        try {
          await api.send('POST', '/medicines/' + encodeURIComponent(med.value) + '/stock', { change: n, reason: 'receive' }, { label: t('pharm.receive') });
          qty.value = '';
          toast(t('common.saved'), 'ok');
          loadStock();
        } catch (e) {
          err.textContent = errText(e);
        }
      }, 'btn', { 'data-testid': 'recv' })), err);
  }

  const stockOf = (id) => medicines.find((m) => m.id === id);

  async function open(id) {
    try {
      visit = await api.get('/visits/' + encodeURIComponent(id));
    } catch (e) {
      fill(body, h('p', { class: 'banner error' }, errText(e)));
      return;
    }
    draw();
  }

  function draw() {
    const v = visit;
    const items = (v.prescriptions || []).filter((p) => p.state !== 'cancelled');
    const todo = items.filter((p) => p.state === 'prescribed');
    fill(body, patientCard(v),
      h('h2', null, t('doctor.prescriptions')),
      items.length ? h('div', { class: 'tbl-wrap' }, h('table', { 'data-testid': 'rx-table' },
        h('thead', null, h('tr', null, h('th', null, t('doctor.medicine')), h('th', { class: 'n' }, t('doctor.quantity')), h('th', null, t('doctor.dosage')), h('th', null, t('pharm.state')), h('th', { class: 'n' }, t('pharm.stock')))),
        h('tbody', null, items.map((p) => {
          const m = stockOf(p.medicine.id);
          return h('tr', { 'data-rx': p.id, 'data-state': p.state },
            h('td', null, p.medicine.name + ' ' + (p.medicine.strength || '')), h('td', { class: 'n' }, p.quantity + ' ' + (p.medicine.unit || '')),
            h('td', null, p.dosage || ''), h('td', null, t('rx.' + p.state)), h('td', { class: 'n' }, m ? String(m.stock) : ''));
        }))))
        : h('p', { class: 'muted', 'data-testid': 'no-rx' }, t('pharm.no_rx')),
      todo.length ? h('div', { class: 'actions' }, button(t('pharm.dispense', { n: todo.length }), dispense, 'btn primary', { 'data-testid': 'dispense' })) : null);
  }

  async function dispense() {
    clear(msg);
    try {
      const r = await api.send('POST', '/visits/' + encodeURIComponent(visit.id) + '/dispense', {}, { label: t('pharm.dispense_label') });
      msg.append(h('p', { class: 'banner ok', 'data-testid': 'dispensed' }, t('pharm.dispensed_n', { n: (r.dispensed || []).length })));
      await loadStock();
      await open(visit.id);
    } catch (e) {
      if (e.code === 'out_of_stock') {
        const m = e.body.medicine || {};
        msg.append(h('p', { class: 'banner error', role: 'alert', 'data-testid': 'out-of-stock' }, t('pharm.out_of_stock', { name: (m.name || '') + ' ' + (m.strength || ''), n: m.stock != null ? m.stock : '?' })));
      } else msg.append(h('p', { class: 'banner error', role: 'alert' }, errText(e)));
      await loadStock();
      await open(visit.id);
    }
  }

  await loadStock();
  const panel = await stationPanel({ role: 'pharmacy', onVisit: (id) => {
    clear(msg);
    open(id);
  } });
  root.append(h('h1', null, t('nav.pharmacy')), panel.el, msg, body, h('section', { class: 'card' }, h('h2', null, t('pharm.stock_title')), stockBox));
  let stockTimer = null;
  const offs = [
    events.on('reconnect', () => {
      loadStock();
      if (visit) open(visit.id);
    }),
    // Another phone dispensed or received: the stock shown follows.
    events.on('stock', () => {
      clearTimeout(stockTimer);
      stockTimer = setTimeout(loadStock, 300);
    }),
  ];
  return () => {
    clearTimeout(stockTimer);
    panel.destroy();
    offs.forEach((f) => f());
  };
}
