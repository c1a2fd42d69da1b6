// Queue screen for a TV or tablet: "now serving" per station. No names. Logged in, it follows
// `call` events live; without a login (a TV in the waiting room: GET /queue is public) it asks
// every 2 s.
import * as api from '../api.js';
import { t } from '../i18n.js';
import { h, clear, fill, errText } from '../ui.js';
import { stationLabel } from '../station.js';
import * as events from '../events.js';

export async function render(root, ctx = {}) {
  const live = !!(ctx.session && ctx.session.staff);
  const board = h('div', { class: 'qboard', 'data-testid': 'qboard' });
  const cells = new Map();
  async function load() {
    try {
      const q = await api.get('/queue');
      if (q.stations.some((s) => !cells.has(s.name)) || q.stations.length !== cells.size) {
        clear(board);
        cells.clear();
      }
      for (const s of q.stations) {
        const have = cells.get(s.name);
        if (have) {
          have.num.textContent = s.serving != null ? String(s.serving) : '—';
          have.wait.textContent = t('queue.waiting', { n: s.waiting != null ? s.waiting : 0 });
          continue;
        }
        const num = h('div', { class: 'qnum', 'data-testid': 'q-' + s.name }, s.serving != null ? String(s.serving) : '—');
        const wait = h('div', { class: 'wait' }, t('queue.waiting', { n: s.waiting != null ? s.waiting : 0 }));
        const box = h('div', { class: 'qst', 'data-station': s.name }, h('h2', null, stationLabel(s)), h('div', null, t('queue.now')), num, wait);
        cells.set(s.name, { box, num, wait });
        board.append(box);
      }
    } catch (e) {
      fill(board, h('p', { class: 'banner error' }, errText(e)));
    }
  }
  root.append(h('h1', null, t('queue.title')), board);
  await load();
  const timer = setInterval(load, live ? 30000 : 2000);
  const offs = [
    events.on('call', (c) => {
      const cell = cells.get(c.station);
      if (!cell) return load();
      cell.num.textContent = c.queue_number != null ? String(c.queue_number) : '—';
      cell.box.classList.add('flash');
      setTimeout(() => cell.box.classList.remove('flash'), 3000);
      load();
    }),
    events.on('reconnect', load),
  ];
  return () => {
    clearInterval(timer);
    offs.forEach((f) => f());
  };
}
