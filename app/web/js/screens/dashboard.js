// Dashboard: residents screened (by sex, age group, ethnicity), flags, conditions, referrals and
// medicines, today or the whole campaign. Bar charts are SVG built here; the page prints.
// Doctors and the lead export the whole campaign from here (GET /campaigns/{code}/export).
import * as api from '../api.js';
import { t, lang, has } from '../i18n.js';
import { h, s, clear, fill, button, errText, toast } from '../ui.js';

// A bar chart: rows [{label, value}], each label above its bar (long names stay readable on a phone).
export function barChart(title, rows, id) {
  const W = 360, rowH = 40, pad = 4, room = W - 60;
  const max = Math.max(1, ...rows.map((r) => r.value));
  const H = Math.max(1, rows.length) * rowH + pad * 2;
  const svg = s('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': title });
  if (!rows.length) svg.append(s('text', { x: 4, y: 24 }, t('dash.none')));
  rows.forEach((r, i) => {
    const y = pad + i * rowH;
    const w = Math.round((room * r.value) / max);
    const label = r.label.length > 46 ? r.label.slice(0, 45) + '…' : r.label;
    svg.append(s('text', { x: 2, y: y + 14 }, s('title', null, r.label), label),
      s('rect', { class: 'bar', x: 2, y: y + 19, width: Math.max(w, r.value ? 2 : 0), height: 14, rx: 2 }),
      s('text', { x: w + 8, y: y + 31, 'data-value': r.value }, String(r.value)));
  });
  return h('div', { class: 'card chart', 'data-chart': id }, h('h3', null, title), svg);
}

const ruleText = (rule) => (has('rule.' + rule) ? t('rule.' + rule) : rule);

// The export formats, in the order of their buttons; the kit names the file (Content-Disposition).
const EXPORTS = [['report', 'dash.export_report'], ['csv', 'dash.export_csv'], ['fhir', 'dash.export_fhir'], ['package', 'dash.export_package']];
const EXPORT_ROLES = ['doctor', 'lead'];

// Fetches an export and hands it to the browser as a download. A login that ended brings up the
// PIN pad (through api.get) and the export is asked for again.
async function download(code, format) {
  const path = '/api/v1/campaigns/' + encodeURIComponent(code) + '/export?format=' + format + '&lang=' + lang;
  for (let again = true; ; again = false) {
    let r;
    try {
      r = await fetch(path, { credentials: 'same-origin' });
    } catch {
      const e = new Error('network');
      e.offline = true;
      throw e;
    }
    if (r.status === 401 && again) {
      await api.get('/me');
      continue;
    }
    if (!r.ok) {
      let body = null;
      try {
        body = await r.json();
      } catch {
        body = null;
      }
      throw new api.ApiError(r.status, body);
    }
    const blob = await r.blob();
    const name = (/filename="([^"]+)"/.exec(r.headers.get('Content-Disposition') || '') || [])[1] || code + '-' + format;
    const url = URL.createObjectURL(blob);
    const a = h('a', { href: url, download: name, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    return name;
  }
}

function exportCard(code) {
  const buttons = EXPORTS.map(([format, key]) => button(t(key), async () => {
    for (const b of buttons) b.disabled = true;
    try {
      toast(t('dash.export_done', { name: await download(code, format) }), 'ok');
    } catch (e) {
      toast(errText(e), 'error', 8000);
    } finally {
      for (const b of buttons) b.disabled = false;
    }
  }, 'btn', { 'data-testid': 'export-' + format }));
  return h('section', { class: 'card noprint', 'data-testid': 'export' }, h('h3', null, t('dash.export')),
    h('p', { class: 'muted' }, t('dash.export_note')), h('div', { class: 'actions' }, buttons));
}

export async function render(root, ctx) {
  const scope = ctx.params.scope === 'campaign' ? 'campaign' : 'today';
  const out = h('div', { 'data-testid': 'dash' });
  root.append(h('h1', null, t('dash.title')),
    h('div', { class: 'actions noprint' },
      button(t('dash.today'), () => ctx.navigate('#/dashboard?scope=today'), scope === 'today' ? 'btn primary' : 'btn', { 'data-testid': 'scope-today' }),
      button(t('dash.campaign'), () => ctx.navigate('#/dashboard?scope=campaign'), scope === 'campaign' ? 'btn primary' : 'btn', { 'data-testid': 'scope-campaign' }),
      button(t('dash.print'), () => window.print(), 'btn')),
    out);
  let d;
  try {
    d = await api.get('/dashboard?scope=' + scope);
  } catch (e) {
    out.append(h('p', { class: 'banner error' }, errText(e)));
    return;
  }
  const ref = d.referrals || {};
  const urg = ref.by_urgency || {};
  const nRef = (urg.routine || 0) + (urg.soon || 0) + (urg.urgent || 0);
  const stat = (key, n, id) => h('div', { class: 'stat' }, h('b', { 'data-testid': 'stat-' + id }, String(n != null ? n : 0)), t(key));
  fill(out, 
    h('p', null, (d.campaign && d.campaign.name) || '', d.day ? ' · ' + d.day : '', ' · ', scope === 'today' ? t('dash.today') : t('dash.campaign')),
    h('div', { class: 'stats' }, stat('dash.residents', d.residents, 'residents'), stat('dash.visits', d.visits, 'visits'),
      stat('dash.referrals', nRef, 'referrals'), stat('dash.arrived', ref.arrived, 'arrived')),
    h('div', { class: 'charts' },
      barChart(t('dash.by_sex'), [{ label: t('sex.male'), value: (d.by_sex || {}).male || 0 }, { label: t('sex.female'), value: (d.by_sex || {}).female || 0 }], 'sex'),
      barChart(t('dash.by_age'), (d.by_age || []).map((a) => ({ label: a.group === 'unknown' ? t('dash.unknown') : a.group, value: a.count })), 'age'),
      barChart(t('dash.by_ethnicity'), (d.by_ethnicity || []).map((e) => ({ label: e.name || e.code || t('dash.unknown'), value: e.count })), 'ethnicity'),
      barChart(t('dash.flags'), (d.flags || []).map((f) => ({ label: ruleText(f.rule) + ' (' + t('level.' + f.level) + ')', value: f.count })), 'flags'),
      barChart(t('dash.conditions'), (d.conditions || []).map((c) => ({ label: c.code + ' ' + (c[lang] || c.vi || ''), value: c.count })), 'conditions'),
      barChart(t('dash.ref_dest'), (ref.by_destination || []).map((r) => ({ label: r.to, value: r.count })), 'destination'),
      barChart(t('dash.ref_urgency'), ['routine', 'soon', 'urgent'].map((u) => ({ label: t('urg.' + u), value: urg[u] || 0 })), 'urgency')),
    h('section', { class: 'card' }, h('h3', null, t('dash.medicines')), h('div', { class: 'tbl-wrap' }, h('table', { 'data-testid': 'dash-meds' },
      h('thead', null, h('tr', null, h('th', null, t('doctor.medicine')), h('th', { class: 'n' }, t('pharm.dispensed')), h('th', { class: 'n' }, t('pharm.stock')))),
      h('tbody', null, (d.medicines || []).map((m) => h('tr', { 'data-med': m.code }, h('td', null, m.name + ' ' + (m.strength || '')),
        h('td', { class: 'n', 'data-testid': 'given-' + m.code }, m.dispensed + ' ' + (m.unit || '')), h('td', { class: 'n', 'data-testid': 'left-' + m.code }, String(m.stock)))))))),
    d.campaign && ctx.session.staff && EXPORT_ROLES.includes(ctx.session.staff.role) ? exportCard(d.campaign.code) : null);
}
