// Harness of the API tests: starts a real `vets serve` on a free port with a
// temporary data folder (demo data), and a small HTTP client that keeps the
// session cookie and the CSRF token like the browser does.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const BIN = process.env.VETS_BIN || new URL('../../build/vets', import.meta.url).pathname;
export const SRC = process.env.VETS_SRC || new URL('../..', import.meta.url).pathname;

export function readAccounts(dir, file) {
  const p = join(dir, file);
  if (!existsSync(p)) return {};
  const acc = {};
  for (const line of readFileSync(p, 'utf8').split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const [username, password, role] = line.split('\t');
    acc[username] = { username, password, role };
  }
  return acc;
}

export function vets(args, opts = {}) {
  return execFileSync(BIN, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

// Initialises a data folder (demo unless demo === false) and starts the server.
export async function startServer({ demo = true, persons = 300, requests, dir, extraArgs = [] } = {}) {
  dir = dir || mkdtempSync(join(tmpdir(), 'vets-api-'));
  if (!existsSync(join(dir, 'vets.db'))) {
    const args = ['init', '--data', dir];
    if (demo) args.push('--demo', '--persons', String(persons));
    if (demo && requests !== undefined) args.push('--requests', String(requests));
    vets(args);
  }
  return launch(dir, extraArgs);
}

export async function launch(dir, extraArgs = []) {
  const portFile = join(dir, `port-${process.pid}-${Date.now()}`);
  const logs = [];
  const child = spawn(BIN, ['serve', '--data', dir, '--listen', '127.0.0.1:0', '--port-file', portFile,
    '--test-clock', ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', (d) => logs.push(d.toString()));
  child.stderr.on('data', (d) => logs.push(d.toString()));
  let exited = null;
  child.on('exit', (code, sig) => { exited = { code, sig }; });
  for (let i = 0; i < 300 && !existsSync(portFile); i++) {
    if (exited) throw new Error(`vets serve exited early: ${JSON.stringify(exited)}\n${logs.join('')}`);
    await sleep(50);
  }
  const port = parseInt(readFileSync(portFile, 'utf8'), 10);
  const url = `http://127.0.0.1:${port}`;
  const server = {
    dir, url, port, child, logs,
    accounts: { ...readAccounts(dir, 'initial-accounts.txt'), ...readAccounts(dir, 'demo-accounts.txt') },
    get exited() { return exited; },
    client: () => new Client(url),
    async login(username, password) {
      const c = new Client(url);
      const pw = password ?? server.accounts[username]?.password;
      const r = await c.login(username, pw);
      if (r.status !== 200) throw new Error(`login ${username}: ${r.status} ${JSON.stringify(r.json)}`);
      return c;
    },
    async stop(signal = 'SIGTERM') {
      if (exited) return exited;
      child.kill(signal);
      for (let i = 0; i < 400 && !exited; i++) await sleep(25);
      return exited;
    },
    async cleanup() { await server.stop(); rmSync(dir, { recursive: true, force: true }); },
  };
  return server;
}

export class Client {
  constructor(url) { this.url = url; this.cookie = null; this.csrf = null; }

  async req(method, path, body, { headers = {}, raw = false } = {}) {
    const h = { ...headers };
    if (this.cookie) h.Cookie = this.cookie;
    if (this.csrf && method !== 'GET') h['X-CSRF-Token'] = this.csrf;
    let payload;
    if (body instanceof Uint8Array || body instanceof ArrayBuffer || body instanceof FormData) payload = body;
    else if (body !== undefined) { payload = JSON.stringify(body); h['Content-Type'] ??= 'application/json'; }
    const res = await fetch(this.url + path, { method, headers: h, body: payload, redirect: 'manual' });
    const sc = res.headers.get('set-cookie');
    if (sc) {
      const m = /vets_session=([^;]*)/.exec(sc);
      if (m) this.cookie = m[1] ? `vets_session=${m[1]}` : null;
    }
    const buf = Buffer.from(await res.arrayBuffer());
    let json = null;
    if (!raw && (res.headers.get('content-type') || '').includes('json')) {
      try { json = JSON.parse(buf.toString('utf8')); } catch { json = null; }
    }
    return { status: res.status, json, headers: res.headers, body: buf };
  }

  async login(username, password, extra = {}) {
    const r = await this.req('POST', '/api/v1/auth/login', { username, password, ...extra });
    if (r.status === 200) this.csrf = r.json.csrf_token;
    return r;
  }
  get(p, o) { return this.req('GET', p, undefined, o); }
  post(p, b, o) { return this.req('POST', p, b ?? {}, o); }
  patch(p, b, o) { return this.req('PATCH', p, b, o); }
  put(p, b, o) { return this.req('PUT', p, b, o); }
  del(p, o) { return this.req('DELETE', p, undefined, o); }
  async upload(path, bytes, filename, o = {}) {
    const fd = new FormData();
    fd.append('file', new Blob([bytes]), filename);
    return this.req('POST', path, fd, o);
  }
}

// Reads the audit trail straight from the database (the auditor's view is
// tested separately through the API).
export function auditRows(dir, where = '1=1') {
  const out = execFileSync('sqlite3', ['-json', join(dir, 'vets.db'),
    `SELECT id, username, event, object_type, object_id, result, detail FROM audit WHERE ${where} ORDER BY id`],
  { encoding: 'utf8' });
  return out.trim() ? JSON.parse(out) : [];
}
