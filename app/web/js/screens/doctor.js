// Doctor: today's visits (flags first) or a scan; vitals, flags, earlier visits; findings (ICD-10),
// advice, prescriptions, referral with its printed slip.
import * as api from '../api.js';
import { t, lang } from '../i18n.js';
import { h, clear, fill, button, errText, flagList, vitalsGrid, patientCard, levelRank, toast, time } from '../ui.js';
import { bindDraft } from '../draft.js';
import { stationPanel } from '../station.js';
import { printLines } from '../app.js';
import * as events from '../events.js';

export async function render(root) {
  const listBox = h('ul', { class: 'list', 'data-testid': 'visit-list' });
  const body = h('div', { class: 'visit' }, h('p', { class: 'muted' }, t('doctor.pick')));
  let visit = null;
  let medicines = [];
  let campaign = null;
  let ctl = null; // the open visit's form draft
  let lastSlip = null; // {visit, results}: the last referral slip printed here
  const saveDraft = () => ctl && ctl.save();

  async function loadList() {
    try {
      const r = await api.get('/visits?day=today');
      const vs = r.visits.slice().sort((a, b) => levelRank(a.flag) - levelRank(b.flag) || a.queue_number - b.queue_number);
      fill(listBox, ...vs.map((v) => h('li', null, h('button', {
        type: 'button', class: 'pick' + (visit && visit.id === v.id ? ' on' : ''), 'data-visit': v.id, 'data-queue': v.queue_number,
        onclick: () => open(v.id),
      }, h('span', { class: 'qn-s' }, String(v.queue_number)),
      h('span', { class: 'grow' }, v.patient.name, h('br'), h('small', { class: 'muted' }, t('doctor.counts', { obs: v.observations, fnd: v.findings, rx: v.prescribed }))),
      v.flag ? h('span', { class: 'lvl ' + v.flag }, t('level.' + v.flag)) : null,
      v.referral ? h('span', { class: 'lvl' }, t('doctor.referred')) : null))));
      if (!vs.length) listBox.append(h('li', { class: 'muted' }, t('doctor.none_today')));
    } catch (e) {
      fill(listBox, h('li', { class: 'banner error' }, errText(e)));
    }
  }

  async function open(id) {
    try {
      const v = await api.get('/visits/' + encodeURIComponent(id));
      visit = v;
      draw(v);
      for (const b of listBox.querySelectorAll('.pick')) b.classList.toggle('on', b.dataset.visit === id);
    } catch (e) {
      fill(body, h('p', { class: 'banner error' }, errText(e)));
    }
  }
  const reload = () => visit && open(visit.id).then(loadList);

  function draw(v) {
    const history = h('div', { 'data-testid': 'history' }, h('p', { class: 'muted' }, '…'));
    api.get('/patients/' + encodeURIComponent(v.patient.code)).then((p) => {
      const earlier = (p.visits || []).filter((x) => x.id !== v.id);
      fill(history, earlier.length
        ? h('ul', { class: 'list' }, earlier.map((x) => h('li', { class: 'pick' }, x.day + ' · #' + x.queue_number +
          (x.observations ? ' · ' + t('doctor.n_readings', { n: x.observations.length || x.observations }) : ''))))
        : h('p', { class: 'muted' }, t('doctor.no_history')));
    }).catch((e) => fill(history, h('p', { class: 'muted' }, errText(e))));

    const form = h('form', { autocomplete: 'off', 'data-testid': 'doctor-form' });
    form.addEventListener('submit', (ev) => ev.preventDefault());
    form.append(findingsPart(v), advicePart(v), rxPart(v), referralPart(v));
    fill(body, patientCard(v), flagList(v.flags, lang),
      v.symptoms && v.symptoms.length ? h('p', null, h('strong', null, t('vitals.symptoms') + ': '), v.symptoms.map((k) => t('sym.' + k)).join(', ')) : null,
      h('h2', null, t('vitals.readings')), vitalsGrid(v.observations),
      h('h2', null, t('doctor.history')), history, form);
    ctl = bindDraft(form, 'doctor.' + v.id);
  }

  // ---- findings
  function findingsPart(v) {
    const list = (v.findings || []).filter((f) => !f.removed_at);
    const q = h('input', { name: 'f_q', type: 'search', placeholder: t('doctor.icd_ph'), 'data-testid': 'icd-q', 'aria-label': t('doctor.icd_ph') });
    const results = h('div', { class: 'results', 'data-testid': 'icd-results' });
    const note = h('input', { name: 'f_note', 'data-testid': 'f-note' });
    const known = h('input', { type: 'checkbox', name: 'f_known', 'data-testid': 'f-known' });
    let timer = null;
    const search = async () => {
      const s = q.value.trim();
      if (!s) return clear(results);
      try {
        const r = await api.get('/conditions?q=' + encodeURIComponent(s) + '&limit=8');
        fill(results, ...r.conditions.map((c) => button(c.code + ' — ' + (c[lang] || c.vi), () => add(c.code), 'pick', { 'data-code': c.code })));
        // A WHO ICD-10 code that the kit's list does not have: the doctor writes its name.
        const code = s.toUpperCase();
        if (/^[A-Z]\d\d(\.\d{1,2})?$/.test(code) && !r.conditions.some((c) => c.code === code)) {
          const label = h('input', { name: 'f_label', 'data-testid': 'icd-label', 'aria-label': t('doctor.icd_label') });
          results.append(h('div', { class: 'grid', 'data-testid': 'icd-other' },
            h('label', { class: 'field wide' }, h('span', { class: 'lbl' }, t('doctor.icd_other', { code })), label),
            button(t('doctor.icd_add', { code }), () => {
              if (!label.value.trim()) return label.focus();
              add(code, label.value.trim());
            }, 'btn', { 'data-testid': 'icd-add-other' })));
        } else if (!r.conditions.length) {
          results.append(h('p', { class: 'muted' }, t('doctor.icd_none')));
        }
      } catch (e) {
        fill(results, h('p', { class: 'muted' }, errText(e)));
      }
    };
    q.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(search, 250);
    });
    const add = async (code, label) => {
      try {
        const body = { code, known: known.checked };
        if (label) body.label = label;
        if (note.value.trim()) body.note = note.value.trim();
        await api.send('POST', '/visits/' + encodeURIComponent(v.id) + '/findings', body, { label: t('doctor.findings') });
        q.value = note.value = '';
        known.checked = false;
        saveDraft();
        reload();
      } catch (e) {
        toast(errText(e), 'error');
      }
    };
    return h('section', { class: 'card', 'data-testid': 'findings' }, h('h2', null, t('doctor.findings')),
      h('ul', { class: 'list' }, list.map((f) => h('li', { class: 'pick', 'data-finding': f.code },
        h('span', { class: 'grow' }, h('strong', null, f.code), ' ', (f.name && (f.name[lang] || f.name.vi)) || f.label || '',
          f.known ? ' (' + t('doctor.known') + ')' : '', f.note ? ' — ' + f.note : ''),
        button(t('common.remove'), async () => {
          try {
            await api.send('DELETE', '/findings/' + encodeURIComponent(f.id), undefined, { label: t('doctor.findings') });
            reload();
          } catch (e) {
            toast(errText(e), 'error');
          }
        }, 'btn small danger')))),
      h('div', { class: 'grid' }, h('label', { class: 'field wide' }, h('span', { class: 'lbl' }, t('doctor.icd')), q),
        h('label', { class: 'field' }, h('span', { class: 'lbl' }, t('doctor.note')), note),
        h('label', { class: 'check' }, known, t('doctor.known'))),
      results);
  }

  function advicePart(v) {
    const ta = h('textarea', { name: 'advice', 'data-testid': 'advice', value: v.advice || '' });
    const st = h('span', { class: 'muted', 'aria-live': 'polite' });
    return h('section', { class: 'card' }, h('h2', null, t('doctor.advice')), ta,
      h('div', { class: 'actions' }, button(t('common.save'), async () => {
        st.textContent = '';
        try {
          await api.send('PATCH', '/visits/' + encodeURIComponent(v.id), { advice: ta.value }, { label: t('doctor.advice'), onQueued: () => (st.textContent = t('common.not_sent')) });
          st.textContent = t('common.saved');
        } catch (e) {
          st.textContent = errText(e);
        }
      }, 'btn', { 'data-testid': 'save-advice' }), st));
  }

  function rxPart(v) {
    const items = v.prescriptions || [];
    const med = h('select', { name: 'rx_med', 'data-testid': 'rx-med' }, h('option', { value: '' }, '—'),
      medicines.filter((m) => m.active !== false && m.active !== 0).map((m) => h('option', { value: m.id }, m.name + ' ' + (m.strength || '') + ' (' + t('pharm.stock_n', { n: m.stock, unit: m.unit || '' }) + ')')));
    const qty = h('input', { name: 'rx_qty', inputmode: 'numeric', 'data-testid': 'rx-qty' });
    const dose = h('input', { name: 'rx_dose', 'data-testid': 'rx-dose', placeholder: t('doctor.dosage_ph') });
    const err = h('p', { class: 'ferr' });
    return h('section', { class: 'card', 'data-testid': 'rx' }, h('h2', null, t('doctor.prescriptions')),
      h('ul', { class: 'list' }, items.map((p) => h('li', { class: 'pick', 'data-rx': p.id, 'data-state': p.state },
        h('span', { class: 'grow' }, h('strong', null, p.medicine.name + ' ' + (p.medicine.strength || '')), ' × ' + p.quantity + ' ' + (p.medicine.unit || ''),
          p.dosage ? ' — ' + p.dosage : '', ' · ', t('rx.' + p.state)),
        p.state === 'prescribed' ? button(t('common.cancel'), async () => {
          try {
            await api.send('DELETE', '/prescriptions/' + encodeURIComponent(p.id), undefined, { label: t('doctor.prescriptions') });
            reload();
          } catch (e) {
            toast(errText(e), 'error');
          }
        }, 'btn small danger') : null))),
      h('div', { class: 'grid' }, h('label', { class: 'field wide' }, h('span', { class: 'lbl' }, t('doctor.medicine')), med),
        h('label', { class: 'field' }, h('span', { class: 'lbl' }, t('doctor.quantity')), qty),
        h('label', { class: 'field' }, h('span', { class: 'lbl' }, t('doctor.dosage')), dose)),
      err,
      h('div', { class: 'actions' }, button(t('doctor.prescribe'), async () => {
        err.textContent = '';
        const n = parseInt(qty.value, 10);
        if (!med.value) return (err.textContent = t('doctor.pick_medicine'));
        if (!(n > 0)) return (err.textContent = t('doctor.qty_bad'));
        try {
          await api.send('POST', '/visits/' + encodeURIComponent(v.id) + '/prescriptions', { medicine: med.value, quantity: n, dosage: dose.value.trim() }, { label: t('doctor.prescriptions') });
          med.value = qty.value = dose.value = '';
          saveDraft();
          reload();
        } catch (e) {
          err.textContent = errText(e);
        }
      }, 'btn primary', { 'data-testid': 'prescribe' })));
  }

  function referralPart(v) {
    const refs = v.referrals || [];
    const dests = [campaign && campaign.hospital].filter(Boolean);
    const to = h('input', { name: 'ref_to', list: 'ref-dests', 'data-testid': 'ref-to', value: '' });
    const reason = h('input', { name: 'ref_reason', 'data-testid': 'ref-reason' });
    const urg = h('select', { name: 'ref_urgency', 'data-testid': 'ref-urgency' }, ['routine', 'soon', 'urgent'].map((u) => h('option', { value: u }, t('urg.' + u))));
    if (v.flags && v.flags.some((f) => f.level === 'urgent')) urg.value = 'urgent';
    const out = h('div', { 'data-testid': 'ref-result' }, lastSlip && lastSlip.visit === v.id ? printLines(lastSlip.results) : null);
    return h('section', { class: 'card', 'data-testid': 'referral' }, h('h2', null, t('doctor.referral')),
      h('ul', { class: 'list' }, refs.map((r) => h('li', { class: 'pick', 'data-ref': r.id, 'data-status': r.status },
        h('span', { class: 'grow' }, r.to + ' · ' + t('urg.' + r.urgency) + ' · ' + (r.reason || '') + ' · ' + t('refst.' + r.status) + ' ' + time(r.created_at)),
        // a referral made by mistake is cancelled, not deleted (it was printed and audited)
        r.status === 'referred' ? button(t('doctor.ref_cancel'), async () => {
          try {
            await api.send('POST', '/referrals/' + encodeURIComponent(r.id) + '/status', { status: 'cancelled' }, { label: t('doctor.referral') });
            reload();
          } catch (e) {
            toast(errText(e), 'error');
          }
        }, 'btn small danger', { 'data-testid': 'ref-cancel' }) : null))),
      h('datalist', { id: 'ref-dests' }, dests.map((d) => h('option', { value: d }))),
      h('div', { class: 'grid' }, h('label', { class: 'field wide' }, h('span', { class: 'lbl' }, t('doctor.ref_to')), to),
        h('label', { class: 'field wide' }, h('span', { class: 'lbl' }, t('doctor.ref_reason')), reason),
        h('label', { class: 'field' }, h('span', { class: 'lbl' }, t('doctor.ref_urgency')), urg)),
      h('div', { class: 'actions' }, button(t('doctor.refer'), async () => {
        clear(out);
        if (!to.value.trim()) return out.append(h('p', { class: 'ferr' }, t('doctor.ref_to_needed')));
        try {
          const r = await api.send('POST', '/visits/' + encodeURIComponent(v.id) + '/referrals',
            { to: to.value.trim(), reason: reason.value.trim(), urgency: urg.value, print: true }, { label: t('doctor.referral') });
          to.value = reason.value = '';
          saveDraft();
          const p = r.print || {};
          lastSlip = { visit: v.id, results: [p.job ? { kind: 'slip', job: p.job } : { kind: 'slip', error: p.error || { message: '—' } }] };
          toast(t('doctor.referred_ok'), 'ok');
          reload();
        } catch (e) {
          out.append(h('p', { class: 'banner error' }, errText(e)));
        }
      }, 'btn primary', { 'data-testid': 'refer' })), out);
  }

  const panel = await stationPanel({ role: 'doctor', onVisit: open });
  const [meds, camps] = await Promise.all([api.get('/medicines').catch(() => ({ medicines: [] })), api.get('/campaigns').catch(() => ({ campaigns: [] }))]);
  medicines = meds.medicines || [];
  campaign = (camps.campaigns || []).find((c) => c.code === camps.current) || null;
  root.append(h('h1', null, t('nav.doctor')), panel.el,
    h('div', { class: 'cols' }, h('section', null, h('h2', null, t('doctor.today'), ' ', button('↻', loadList, 'btn small', { 'aria-label': t('common.refresh') })), listBox), body));
  await loadList();
  const offs = [events.on('reconnect', () => {
    loadList();
    if (visit) open(visit.id);
  })];
  return () => {
    panel.destroy();
    offs.forEach((f) => f());
  };
}
