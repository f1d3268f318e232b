// Region cascader props: lazy loading of GET /regions?parent=, rooted at the
// user's own region, so it scales from a county to a province.
import { api } from '../api.js';
import { auth } from '../auth.js';

const childCache = new Map();

export async function regionChildren(parent) {
  if (childCache.has(parent)) return childCache.get(parent);
  const p = api.get('/regions', { parent }).then((r) => (r.items || []).filter((x) => x.code !== parent && !x.valid_to))
    .catch(() => []);
  childCache.set(parent, p);
  return p;
}

export function regionRootOptions() {
  const st = auth.user?.station;
  if (!st) return [];
  return [{ value: st.region_code, label: st.region_name, leaf: st.level === 'village' }];
}

