// Code tables (GET /api/v1/codes/{table}) loaded once per page load and shared by
// every select and every label: the lists are data on the server, never in the UI.
import { reactive } from 'vue';
import { api } from '../api.js';

const tables = reactive({}); // table -> items[]
const pending = {};
const missing = reactive({}); // table -> true when the server has no such table

export function loadCodes(table) {
  if (tables[table]) return Promise.resolve(tables[table]);
  pending[table] ??= api.get(`/codes/${encodeURIComponent(table)}`)
    .then((r) => { tables[table] = r.items || []; return tables[table]; })
    .catch((e) => { if (e.status === 404) missing[table] = true; tables[table] = []; delete pending[table]; return []; });
  return pending[table];
}

// Items of a table (reactive, empty until loaded).
export function codeItems(table) {
  if (!tables[table]) loadCodes(table);
  return tables[table] || [];
}

export function codeName(table, code) {
  if (code === null || code === undefined || code === '') return '';
  const it = codeItems(table).find((x) => String(x.code) === String(code));
  return it ? it.name : String(code);
}

export function codeMissing(table) { return !!missing[table]; }

export function useCodes(...names) {
  for (const n of names) loadCodes(n);
  return { items: codeItems, name: codeName, missing: codeMissing };
}
