// Drafts of open forms in sessionStorage: when the session times out while a user
// is typing, the form comes back filled after the new login (same tab). Cleared on
// submit and on explicit logout.
import { watch, onBeforeUnmount } from 'vue';
import { ElMessage } from 'element-plus';

const PREFIX = 'vets.draft.';

export function clearAllDrafts() {
  try {
    for (let i = sessionStorage.length - 1; i >= 0; i--) {
      const k = sessionStorage.key(i);
      if (k && k.startsWith(PREFIX)) sessionStorage.removeItem(k);
    }
  } catch { /* storage unavailable */ }
}

// Call in setup. form: a reactive object.
// With auto (default) the draft is restored at once and saving starts; otherwise the
// page calls start(tag) after loading its record: a draft saved under another tag
// (e.g. an older version of the record) is not restored.
export function useDraft(key, form, { notify = true, exclude = [], auto = true } = {}) {
  const full = PREFIX + key;
  let timer = null;
  let enabled = false;
  let tag = null;
  let pristine = null; // the form as it was when drafting started: nothing to keep
  const snapshot = () => {
    const data = JSON.parse(JSON.stringify(form));
    for (const k of exclude) delete data[k];
    return data;
  };
  const save = () => {
    if (!enabled) return;
    try {
      const data = snapshot();
      if (JSON.stringify(data) === pristine) sessionStorage.removeItem(full);
      else sessionStorage.setItem(full, JSON.stringify({ tag, data }));
    } catch { /* quota or cycles */ }
  };
  const restore = () => {
    try {
      const raw = sessionStorage.getItem(full);
      if (!raw) return false;
      const saved = JSON.parse(raw);
      if ((saved.tag ?? null) !== tag) return false;
      for (const [k, v] of Object.entries(saved.data || {})) if (!exclude.includes(k)) form[k] = v;
      if (notify) ElMessage({ type: 'info', message: '已恢复上次未提交的内容', duration: 3000 });
      return true;
    } catch { return false; }
  };
  const stop = watch(form, () => { clearTimeout(timer); timer = setTimeout(save, 300); }, { deep: true });
  // Leaving the page (a session loss included) saves at once.
  onBeforeUnmount(() => { clearTimeout(timer); save(); stop(); });
  const api = {
    restored: false,
    start(t = null) { tag = t; pristine = JSON.stringify(snapshot()); api.restored = restore(); enabled = true; return api.restored; },
    // Defaults filled in after start() (e.g. from a code table) are not user input.
    rebase() { if (!api.restored) pristine = JSON.stringify(snapshot()); },
    clear() { enabled = false; clearTimeout(timer); try { sessionStorage.removeItem(full); } catch { /* ignore */ } },
    discard() { try { sessionStorage.removeItem(full); } catch { /* ignore */ } },
  };
  if (auto) api.start();
  return api;
}
