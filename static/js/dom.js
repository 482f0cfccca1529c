// Small DOM helpers shared by the modules (no globals: everything is imported).

export const byId = (id) => document.getElementById(id);

/** The JSON inside a <script type="application/json" id=...>, or null. */
export function readJson(id) {
  const el = byId(id);
  return el ? JSON.parse(el.textContent) : null;
}

/** localStorage that never throws (private mode, disabled storage). */
export const prefs = {
  get(key) {
    try { return localStorage.getItem(`migscope.${key}`); } catch { return null; }
  },
  set(key, value) {
    try { localStorage.setItem(`migscope.${key}`, value); } catch { /* not stored: fine */ }
  },
};

/** True when a key press belongs to a text field, not to the page's shortcuts. */
export function isTyping(target) {
  return Boolean(target.matches && target.matches("input:not([type=range]):not([type=checkbox]), textarea, select, [contenteditable]"));
}
