// Form drafts: every named field of a form is copied to localStorage as it is typed, so that a
// reload, an expired session or a dropped connection never loses an entered value.
const P = 'mokit.draft.';

export function readDraft(key) {
  try {
    return JSON.parse(localStorage.getItem(P + key)) || null;
  } catch {
    return null;
  }
}

export function dropDraft(key) {
  localStorage.removeItem(P + key);
}

export function fieldsOf(form) {
  const out = {};
  for (const el of form.querySelectorAll('[name]')) {
    if (el.type === 'checkbox') out[el.name] = el.checked;
    else out[el.name] = el.value;
  }
  return out;
}

// Restores the draft into the form and keeps it up to date. Returns {save, clear}.
export function bindDraft(form, key) {
  const initial = fieldsOf(form); // a draft equal to this is no draft
  const d = readDraft(key);
  if (d)
    for (const el of form.querySelectorAll('[name]')) {
      if (!(el.name in d)) continue;
      if (el.type === 'checkbox') el.checked = !!d[el.name];
      else el.value = d[el.name];
    }
  const save = () => {
    const v = fieldsOf(form);
    const empty = Object.keys(v).every((k) => v[k] === initial[k] || v[k] === '' || v[k] === false);
    if (empty) localStorage.removeItem(P + key);
    else localStorage.setItem(P + key, JSON.stringify(v));
  };
  form.addEventListener('input', save);
  form.addEventListener('change', save);
  return { save, clear: () => dropDraft(key), restored: !!d };
}
