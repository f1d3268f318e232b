// Role names from GET /roles (needs user.read); falls back to the code.
import { reactive } from 'vue';
import { api } from '../api.js';
import { can } from '../auth.js';

const state = reactive({ roles: [], permissions: [], loaded: false });
let pending = null;
export function loadRoles() {
  if (state.loaded || !can('user.read')) return Promise.resolve(state);
  pending ??= api.get('/roles').then((r) => { state.roles = r.items || []; state.permissions = r.permissions || []; state.loaded = true; return state; })
    .catch(() => state).finally(() => { pending = null; });
  return pending;
}
export function rolesState() { return state; }
export function roleName(code) { return state.roles.find((r) => r.code === code)?.name || code; }
export function permLabel(p) { return state.permissions.find((x) => x.name === p)?.label || p; }
