// Translations: every text of the UI is a key in i18n/vi.json and i18n/en.json.
// t('key', {n: 3}) looks a key up and fills {n}; an unknown key is shown as itself and recorded
// in window.__mokitMissing (the e2e tests check that it stays empty).
const KEY = 'mokit.lang';
let dict = {};
export let lang = localStorage.getItem(KEY) === 'en' ? 'en' : 'vi';
const missing = new Set();
window.__mokitMissing = missing;

export async function load(l = lang) {
  const r = await fetch('i18n/' + l + '.json', { credentials: 'same-origin' });
  dict = await r.json();
  lang = l;
  localStorage.setItem(KEY, l);
  document.documentElement.lang = l;
}

export function t(key, vars) {
  let s = dict[key];
  if (s == null) {
    missing.add(key);
    s = key;
  }
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (vars[k] != null ? vars[k] : m));
  return s;
}

// Whether a key is translated (for texts that come from data, such as a kit's own rules).
export function has(key) {
  return key in dict;
}

// Static texts in the page: data-i18n (text), data-i18n-ph (placeholder), data-i18n-label (aria-label).
export function apply(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-ph]')) el.placeholder = t(el.dataset.i18nPh);
  for (const el of root.querySelectorAll('[data-i18n-label]')) el.setAttribute('aria-label', t(el.dataset.i18nLabel));
}
