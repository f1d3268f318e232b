// Harness of the API tests: starts a real `vets serve` on a free port with a
// temporary data folder (demo data), and a small HTTP client that keeps the
// session cookie and the CSRF token like the browser does.
//
// The database: SQLite in the data folder, or with VETS_TEST_DB=pg a fresh
// PostgreSQL database per data folder in one throw-away cluster
// (tests/pg/start.sh; its state folder is VETS_PG_STATE — the ctest fixture
// sets it — else one is started here and removed when the process ends).
// `vets init` runs as the owner role (migrations), `vets serve` and the other
// commands as the application role. Tests reach the database directly only
// through sql()/sqlExec()/auditRows(), which speak to either.
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const BIN = process.env.VETS_BIN || new URL('../../build/vets', import.meta.url).pathname;
export const SRC = process.env.VETS_SRC || new URL('../..', import.meta.url).pathname;
export const DB = process.env.VETS_TEST_DB === 'pg' ? 'pg' : 'sqlite';

// ---- PostgreSQL: the cluster, one database per data folder ----

let pgState = null;
function pg() {
  if (pgState) return pgState;
  let dir = process.env.VETS_PG_STATE;
  let mine = false;
  if (!dir || !existsSync(join(dir, 'env'))) {
    dir = dir || mkdtempSync(join(tmpdir(), 'vets-pgstate-'));
    execFileSync(join(SRC, 'tests/pg/start.sh'), [dir], { stdio: ['ignore', 'ignore', 'inherit'] });
    mine = true;
  }
  const env = {};
  for (const line of readFileSync(join(dir, 'env'), 'utf8').split('\n')) {
    const m = /^(\w+)=(.*)$/.exec(line);
    if (m) env[m[1]] = m[2];
  }
  pgState = { dir, env, port: env.PGPORT, host: env.PGHOST, psql: join(env.VETS_PG_BIN, 'psql') };
  if (mine) {
    process.on('exit', () => {
      try { execFileSync(join(SRC, 'tests/pg/stop.sh'), [dir]); } catch { /* gone */ }
      if (!process.env.VETS_PG_STATE) rmSync(dir, { recursive: true, force: true });
    });
  }
  return pgState;
}

export function pgUrl(database, role = 'vets_app') {
  const p = pg();
  return `postgresql://${role}@${p.host}:${p.port}/${database}`;
}

// psql as the cluster's superuser; returns stdout.
export function psql(database, query, { role = 'postgres', input } = {}) {
  const p = pg();
  return execFileSync(p.psql, ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-h', p.host, '-p', p.port, '-U', role,
    '-d', database, ...(input === undefined ? ['-c', query] : [])],
  { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

let dbCounter = 0;
export function createPgDatabase() {
  const name = `vt_${process.pid}_${++dbCounter}_${Math.random().toString(36).slice(2, 8)}`;
  psql('postgres', `CREATE DATABASE ${name} OWNER vets_owner TEMPLATE template0 ENCODING 'UTF8'`);
  return name;
}

// The database of a data folder (created on first use, remembered in the folder).
export function pgDatabaseOf(dir) {
  const f = join(dir, 'test-pg-database');
  if (existsSync(f)) return readFileSync(f, 'utf8').trim();
  const name = createPgDatabase();
  writeFileSync(f, name);
  return name;
}

function dropPgDatabase(dir) {
  const f = join(dir, 'test-pg-database');
  if (DB !== 'pg' || !existsSync(f)) return;
  try { psql('postgres', `DROP DATABASE IF EXISTS ${readFileSync(f, 'utf8').trim()} WITH (FORCE)`); } catch { /* best effort */ }
}

// The --db arguments for a vets command on DIR: init migrates, so it runs as
// the owner; everything else as the application role.
export function dbArgs(dir, command) {
  if (DB !== 'pg' || !dir) return [];
  return ['--db', pgUrl(pgDatabaseOf(dir), command === 'init' ? 'vets_owner' : 'vets_app')];
}

function withDb(args) {
  if (DB !== 'pg' || args.includes('--db')) return args;
  const i = args.indexOf('--data');
  if (i < 0 || i + 1 >= args.length) return args;
  return [...args, ...dbArgs(args[i + 1], args[0])];
}

// Rows of a SELECT, as objects, from the database of DIR (either backend);
// other statements are run and give [].
export function sql(dir, query) {
  if (DB === 'pg') {
    if (!/^\s*(SELECT|WITH|VALUES)\b/i.test(query)) { psql(pgDatabaseOf(dir), query); return []; }
    const out = psql(pgDatabaseOf(dir), `SELECT COALESCE(json_agg(q), '[]') FROM (${query}) q`);
    // Booleans as SQLite gives them (and as the server reads them): 1/0.
    return JSON.parse(out.trim() || '[]', (k, v) => (typeof v === 'boolean' ? Number(v) : v));
  }
  const out = execFileSync('sqlite3', ['-json', join(dir, 'vets.db'), query], { encoding: 'utf8' });
  return out.trim() ? JSON.parse(out) : [];
}

// The logical content of the database of DIR as SQL text (sqlite3 .dump, pg_dump).
export function dump(dir) {
  if (DB === 'pg') {
    const p = pg();
    return execFileSync(join(p.env.VETS_PG_BIN, 'pg_dump'), ['-h', p.host, '-p', p.port, '-U', 'postgres', '--no-owner',
      pgDatabaseOf(dir)], { encoding: 'utf8', maxBuffer: 1 << 28 });
  }
  return execFileSync('sqlite3', [join(dir, 'vets.db'), '.dump'], { encoding: 'utf8', maxBuffer: 1 << 28 });
}

// Runs statements on the database of DIR as its superuser (SQLite: the file's
// owner); throws when the database refuses. OPTS.pg gives PostgreSQL's text
// where the dialects differ.
export function sqlExec(dir, statements, opts = {}) {
  if (DB === 'pg') return psql(pgDatabaseOf(dir), opts.pg ?? statements);
  return execFileSync('sqlite3', [join(dir, 'vets.db'), statements], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

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

// OPTS.sqlite: the SQLite database of the folder whatever VETS_TEST_DB says.
export function vets(args, { sqlite = false, ...opts } = {}) {
  return execFileSync(BIN, sqlite ? args : withDb(args), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

// Initialises a data folder (demo unless demo === false) and starts the server.
export async function startServer({ demo = true, persons = 300, requests, dir, extraArgs = [], sqlite = false } = {}) {
  dir = dir || mkdtempSync(join(tmpdir(), 'vets-api-'));
  if (!existsSync(join(dir, DB === 'pg' && !sqlite ? 'test-pg-database' : 'vets.db'))) {
    const args = ['init', '--data', dir];
    if (demo) args.push('--demo', '--persons', String(persons));
    if (demo && requests !== undefined) args.push('--requests', String(requests));
    vets(args, { sqlite });
  }
  return launch(dir, extraArgs, { sqlite });
}

export async function launch(dir, extraArgs = [], { env, sqlite = false } = {}) {
  const portFile = join(dir, `port-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 6)}`);
  const logs = [];
  // PostgreSQL: the application role may not migrate; the owner does it first,
  // as a deployment runs `vets init` before starting its nodes.
  const pgNode = DB === 'pg' && !sqlite && !extraArgs.includes('--db');
  if (pgNode) {
    // Part of starting a node here: reported like the server failing to start.
    try { vets(['init', '--data', dir]); } catch (e) {
      throw new Error(`vets serve exited early: ${JSON.stringify({ code: e.status, sig: e.signal })}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
    }
  }
  const child = spawn(BIN, ['serve', '--data', dir, '--listen', '127.0.0.1:0', '--port-file', portFile,
    '--test-clock', ...extraArgs, ...(pgNode ? dbArgs(dir, 'serve') : [])],
  { stdio: ['ignore', 'pipe', 'pipe'], env: env ? { ...process.env, ...env } : process.env });
  child.stdout.on('data', (d) => logs.push(d.toString()));
  child.stderr.on('data', (d) => logs.push(d.toString()));
  let exited = null;
  child.on('exit', (code, sig) => { exited = { code, sig }; });
  // The server renames the port file into place once written; a number is
  // still awaited, should an older binary write it in place.
  const portOf = () => (existsSync(portFile) ? parseInt(readFileSync(portFile, 'utf8'), 10) : NaN);
  for (let i = 0; i < 300 && Number.isNaN(portOf()); i++) {
    if (exited) throw new Error(`vets serve exited early: ${JSON.stringify(exited)}\n${logs.join('')}`);
    await sleep(50);
  }
  const port = portOf();
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
    async cleanup() { await server.stop(); dropPgDatabase(dir); rmSync(dir, { recursive: true, force: true }); },
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

// The tallies of migration 0005 against a recount of the rows: equal, row for
// row (no zero rows). Used after every kind of change (tallies.test.mjs) and
// after the bulk loads that count once at the end (demo, migrate-db).
const normRows = (rows) => rows.map((r) => Object.values(r).map(String).join('|')).sort();
export function assertTallies(dir) {
  const want = sql(dir, 'SELECT region_code, status, CASE WHEN missing_count = 0 THEN 1 ELSE 0 END AS c, COUNT(*) AS n ' +
    'FROM persons GROUP BY region_code, status, CASE WHEN missing_count = 0 THEN 1 ELSE 0 END');
  const got = sql(dir, 'SELECT region_code, status, complete, n FROM person_tally');
  assert.deepEqual(normRows(got), normRows(want), 'person_tally = recount');
  const wantC = sql(dir, 'SELECT p.region_code, c.category, COUNT(*) AS n FROM person_categories c ' +
    'JOIN persons p ON p.id = c.person_id WHERE c.valid_to IS NULL GROUP BY p.region_code, c.category');
  const gotC = sql(dir, 'SELECT region_code, category, n FROM category_tally');
  assert.deepEqual(normRows(gotC), normRows(wantC), 'category_tally = recount');
}

// Reads the audit trail straight from the database (the auditor's view is
// tested separately through the API).
export function auditRows(dir, where = '1=1') {
  return sql(dir, `SELECT id, username, event, object_type, object_id, result, detail FROM audit WHERE ${where} ORDER BY id`);
}
