// The one HTTP client of the UI. Cookies are HttpOnly, so every call goes through
// fetch with credentials 'same-origin'; the CSRF token from login/me is sent on
// every non-GET. Errors come back as ApiError carrying the server's code, Chinese
// message and the field at fault, so forms can put the message next to the field.
import { ElMessage } from 'element-plus';

export class ApiError extends Error {
  constructor(status, err = {}, data = null) {
    super(err.message || `请求失败（HTTP ${status}）`);
    this.status = status;
    this.code = err.code || 'http_' + status;
    this.field = err.field || null;
    this.requestId = err.request_id || null;
    this.data = data;
  }
}

let csrfToken = null;
export function setCsrf(t) { csrfToken = t || null; }
export function getCsrf() { return csrfToken; }

// Called when the server says the session is gone (timeout or logged out elsewhere).
let sessionLost = null;
export function onSessionLost(fn) { sessionLost = fn; }
let passwordRequired = null;
export function onPasswordRequired(fn) { passwordRequired = fn; }

export function buildQuery(query) {
  if (!query) return '';
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) { if (v.length) p.set(k, v.join(',')); continue; }
    p.set(k, String(v));
  }
  const s = p.toString();
  return s ? '?' + s : '';
}

const BASE = '/api/v1';

async function rawFetch(method, path, { body, query, headers = {} } = {}) {
  const h = { Accept: 'application/json', ...headers };
  let payload;
  if (body instanceof FormData || body instanceof Blob || body instanceof ArrayBuffer) payload = body;
  else if (body !== undefined) { payload = JSON.stringify(body); h['Content-Type'] = 'application/json'; }
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) h['X-CSRF-Token'] = csrfToken;
  try {
    return await fetch(BASE + path + buildQuery(query), { method, headers: h, body: payload, credentials: 'same-origin', cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, { code: 'network', message: '无法连接服务器，请检查网络后重试' });
  }
}

async function errorOf(res) {
  let j = null;
  try { j = await res.json(); } catch { /* not JSON */ }
  const err = (j && j.error) || {};
  if (!err.message) {
    err.message = {
      404: '请求的内容不存在或不在本级管辖范围内', 413: '文件过大', 429: '操作过于频繁，请稍后再试',
      502: '服务器暂不可用', 503: '服务器繁忙，请稍后重试',
    }[res.status] || `请求失败（HTTP ${res.status}）`;
  }
  if (res.status === 429 && !err.code) err.code = 'rate_limited';
  return new ApiError(res.status, err, j);
}

let refreshingCsrf = null;
async function refreshCsrf() {
  refreshingCsrf ??= rawFetch('GET', '/auth/me').then(async (r) => {
    if (r.ok) { const j = await r.json(); setCsrf(j.csrf_token); return true; }
    return false;
  }).finally(() => { refreshingCsrf = null; });
  return refreshingCsrf;
}

// opts: body, query, headers, raw (return the Response), auth (false: do not treat 401 as session loss)
export async function request(method, path, opts = {}) {
  let res = await rawFetch(method, path, opts);
  if (res.status === 403 && method !== 'GET') {
    // A stale CSRF token (another tab logged in again): fetch the current one and retry once.
    const clone = res.clone();
    let code = null;
    try { code = (await clone.json())?.error?.code; } catch { /* ignore */ }
    if (code === 'csrf_failed' && await refreshCsrf()) res = await rawFetch(method, path, opts);
  }
  if (!res.ok) {
    const e = await errorOf(res);
    if (res.status === 401 && opts.auth !== false && (e.code === 'session_expired' || e.code === 'unauthenticated')) {
      sessionLost?.(e);
    } else if (res.status === 403 && e.code === 'password_change_required') {
      passwordRequired?.(e);
    }
    throw e;
  }
  if (opts.raw) return res;
  if (res.status === 204) return null;
  const ct = res.headers.get('content-type') || '';
  return ct.includes('json') ? res.json() : res.text();
}

export const api = {
  get: (p, query, o) => request('GET', p, { ...o, query }),
  post: (p, body, o) => request('POST', p, { ...o, body: body ?? {} }),
  patch: (p, body, o) => request('PATCH', p, { ...o, body }),
  put: (p, body, o) => request('PUT', p, { ...o, body }),
  del: (p, o) => request('DELETE', p, o),
};

function filenameOf(res, fallback) {
  const cd = res.headers.get('content-disposition') || '';
  const star = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(cd);
  if (star) { try { return decodeURIComponent(star[1].trim().replace(/^"|"$/g, '')); } catch { /* fall through */ } }
  const plain = /filename\s*=\s*"?([^";]+)"?/.exec(cd);
  return plain ? plain[1] : fallback;
}

// Fetches a file (so cookies and CSRF rules hold) and saves it through <a download>.
export async function download(path, { query, method = 'GET', body, filename = 'download' } = {}) {
  const res = await request(method, path, { query, body, raw: true, headers: { Accept: '*/*' } });
  const blob = await res.blob();
  const name = filenameOf(res, filename);
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url; a.download = name; a.style.display = 'none';
  document.body.appendChild(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(url); a.remove(); }, 1000);
  return name;
}

// Shows an API error unless it was a session loss (the login page explains that).
export function showError(e, prefix = '') {
  if (!e) return;
  if (e instanceof ApiError && e.status === 401 && (e.code === 'session_expired' || e.code === 'unauthenticated')) return;
  if (e instanceof ApiError && e.code === 'password_change_required') return;
  ElMessage({ type: 'error', message: (prefix ? prefix + '：' : '') + (e.message || String(e)), duration: 5000, showClose: true });
}

// True when a route is not implemented by this server yet (404 from the API dispatcher).
export function isMissingRoute(e) {
  return e instanceof ApiError && e.status === 404 && /接口不存在/.test(e.message);
}
