// Who is logged in: the user from /auth/me, its permissions, and what happens
// when the session ends (timeout → back to login with a redirect; drafts stay).
import { reactive } from 'vue';
import { ElMessage } from 'element-plus';
import { api, setCsrf, onSessionLost, onPasswordRequired } from './api.js';
import { clearAllDrafts } from './composables/draft.js';

export const auth = reactive({
  user: null,
  loaded: false,
  expired: false, // the last session ended by timeout (shown on the login page)
});

export function can(perm) {
  if (!perm) return true;
  const p = auth.user?.permissions || [];
  return Array.isArray(perm) ? perm.some((x) => p.includes(x)) : p.includes(perm);
}

export async function loadMe() {
  try {
    const r = await api.get('/auth/me', undefined, { auth: false });
    auth.user = r.user; setCsrf(r.csrf_token);
  } catch (e) {
    auth.user = null; setCsrf(null);
    if (e.status !== 401) throw e;
  } finally {
    auth.loaded = true;
  }
  return auth.user;
}

export async function login(username, password) {
  const r = await api.post('/auth/login', { username, password }, { auth: false });
  auth.user = r.user; setCsrf(r.csrf_token); auth.expired = false;
  return r.user;
}

export async function logout() {
  try { await api.post('/auth/logout', {}, { auth: false }); } catch { /* already gone */ }
  auth.user = null; setCsrf(null);
  clearAllDrafts();
}

export async function changePassword(oldPassword, newPassword) {
  const r = await api.post('/auth/password', { old_password: oldPassword, new_password: newPassword });
  if (r && r.user) auth.user = r.user; else await loadMe();
  return r;
}

let router = null;
export function installSessionHandler(r) {
  router = r;
  let busy = false;
  onSessionLost((e) => {
    if (busy || !auth.user) { auth.user = null; return; }
    busy = true;
    auth.user = null; setCsrf(null);
    auth.expired = e.code === 'session_expired';
    const cur = router.currentRoute.value;
    ElMessage({ type: 'warning', message: e.message || '登录已超时，请重新登录', duration: 4000 });
    router.push({ name: 'login', query: cur.name && cur.name !== 'login' ? { redirect: cur.fullPath } : {} })
      .finally(() => { busy = false; });
  });
  onPasswordRequired(() => {
    const cur = router.currentRoute.value;
    if (cur.name !== 'password') router.push({ name: 'password', query: { redirect: cur.fullPath } });
  });
}
