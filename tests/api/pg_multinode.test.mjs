// Several nodes, one PostgreSQL database (issue 7). Two `vets serve` nodes on
// different ports share one database (each with its own data folder for tmp
// files, and the same key file, as a deployment distributes it):
//  - a session opened on one node works on the other, and a logout on one
//    ends it on both;
//  - login failures counted on both nodes lock the account on both, also when
//    20 of them arrive at once, spread over both nodes: exactly
//    login.max_failures are counted;
//  - the login rate limit counts the hits of both nodes together;
//  - concurrent edits of one record through both nodes never lose an update:
//    every success is based on the version before it, the losers get 409;
//  - the background deadline job runs on one node only, and the other takes
//    over when that node stops;
//  - through nginx with the sample configuration docs/deploy/nginx-vets.conf,
//    requests spread over both nodes and a session follows them; the nodes
//    (started with --trusted-proxy) record the client's address, not nginx's,
//    and ignore the address a client claims in the proxy headers.
// PostgreSQL only (VETS_TEST_DB=pg); under SQLite the file reports itself skipped.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, chmodSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DB, SRC, Client, startServer, launch, sql, pgDatabaseOf, auditRows } from './lib.mjs';

const SKIP = DB !== 'pg' && 'PostgreSQL only (VETS_TEST_DB=pg)';
const R = '/api/v1/requests';
const DONGHU = '330482001001';

// A second node on the database of node A: its own data folder, A's key file.
async function secondNode(a, extraArgs = []) {
  const dir = mkdtempSync(join(tmpdir(), 'vets-node2-'));
  writeFileSync(join(dir, 'test-pg-database'), pgDatabaseOf(a.dir));
  copyFileSync(join(a.dir, 'vets.keys'), join(dir, 'vets.keys'));
  chmodSync(join(dir, 'vets.keys'), 0o400);
  const b = await launch(dir, extraArgs);
  b.accounts = a.accounts;
  return b;
}

// A client of node N carrying the session of client C (the same browser
// reaching another node through the load balancer).
function sameSession(c, n) {
  const x = new Client(n.url);
  x.cookie = c.cookie;
  x.csrf = c.csrf;
  return x;
}

const setting = (dir, key, value) => sql(dir, `UPDATE settings SET value = '${value}' WHERE key = '${key}'`);

async function setClock(n, offset) {
  const r = await n.client().post('/api/v1/test/clock', { offset_seconds: offset });
  assert.equal(r.status, 200);
}

async function waitFor(what, fn, ms = 15000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

// Counters of a one-minute window: do not start one in its last seconds.
async function freshMinute() {
  const s = new Date().getUTCSeconds();
  if (s > 45) await sleep((61 - s) * 1000);
}

describe('two nodes, one PostgreSQL database', { skip: SKIP }, () => {
  let a, b;
  before(async () => {
    a = await startServer({ persons: 50 });
    setting(a.dir, 'ratelimit.login_per_minute', 1000);
    setting(a.dir, 'requests.job_interval_seconds', 0);
    b = await secondNode(a);
  });
  after(async () => {
    await b?.stop();
    if (b) rmSync(b.dir, { recursive: true, force: true });
    await a?.cleanup();
  });

  it('both nodes answer from the same database', async () => {
    const [ha, hb] = await Promise.all([a.client().get('/api/v1/health'), b.client().get('/api/v1/health')]);
    assert.equal(ha.json.database, 'postgresql');
    assert.equal(hb.json.database, 'postgresql');
    assert.equal(ha.json.schema, hb.json.schema);
    assert.notEqual(a.port, b.port);
  });

  it('a session opened on one node works on the other; a logout on one ends it on both', async () => {
    const ca = await a.login('danghu');
    const cb = sameSession(ca, b);
    const me = await cb.get('/api/v1/auth/me');
    assert.equal(me.status, 200);
    assert.equal(me.json.user.username, 'danghu');
    // A state change with the CSRF token of the session, on the other node.
    const pid = sql(a.dir, "SELECT id FROM persons WHERE region_code BETWEEN '330482001000' AND '330482001999' ORDER BY id LIMIT 1")[0].id;
    const p = await cb.get(`/api/v1/persons/${pid}`);
    assert.equal(p.status, 200);
    const w = await cb.patch(`/api/v1/persons/${pid}`, { version: p.json.version, remarks: '另一节点修改' });
    assert.equal(w.status, 200, JSON.stringify(w.json));
    assert.equal((await ca.get(`/api/v1/persons/${pid}`)).json.remarks, '另一节点修改');
    assert.equal((await cb.post('/api/v1/auth/logout', {})).status, 200);
    assert.equal((await ca.get('/api/v1/auth/me')).status, 401);
  });

  it('login failures counted on both nodes lock the account on both', async () => {
    const max = Number(sql(a.dir, "SELECT value FROM settings WHERE key = 'login.max_failures'")[0].value);
    const nodes = [a, b];
    for (let i = 1; i <= max; i++) {
      const r = await nodes[i % 2].client().login('zhapu', `wrong-${i}`);
      assert.equal(r.status, 401);
      assert.equal(r.json.error.code, i < max ? 'login_failed' : 'account_locked', `failure ${i}`);
    }
    for (const n of nodes) {
      const r = await n.client().login('zhapu', a.accounts.zhapu.password);
      assert.equal(r.status, 401);
      assert.equal(r.json.error.code, 'account_locked');
    }
    const fails = auditRows(a.dir, "event = 'login.failed' AND object_id = 'zhapu'");
    assert.equal(fails.length, max);
    assert.deepEqual(fails.map((f) => JSON.parse(f.detail).failures), Array.from({ length: max }, (_, i) => i + 1));
  });

  it('20 failures at once on both nodes: exactly login.max_failures counted, then locked', async () => {
    const max = Number(sql(a.dir, "SELECT value FROM settings WHERE key = 'login.max_failures'")[0].value);
    const tries = await Promise.all(Array.from({ length: 20 }, (_, i) => [a, b][i % 2].client().login('xincang', `wrong-${i}`)));
    const codes = tries.map((r) => r.json?.error?.code);
    assert.ok(tries.every((r) => r.status === 401), JSON.stringify(codes));
    assert.equal(codes.filter((c) => c === 'login_failed').length, max - 1, JSON.stringify(codes));
    assert.equal(codes.filter((c) => c === 'account_locked').length, 20 - (max - 1), JSON.stringify(codes));
    const fails = auditRows(a.dir, "event = 'login.failed' AND object_id = 'xincang'");
    assert.deepEqual(fails.map((f) => JSON.parse(f.detail).failures), Array.from({ length: max }, (_, i) => i + 1));
    assert.equal(auditRows(a.dir, "event = 'login.lockout' AND object_id = 'xincang'").length, 1);
    assert.equal(sql(a.dir, "SELECT failures FROM login_failures WHERE username = 'xincang'")[0].failures, max);
    for (const n of [a, b]) {
      const r = await n.client().login('xincang', a.accounts.xincang.password);
      assert.equal(r.json.error.code, 'account_locked');
    }
  });

  it('the login rate limit counts the attempts of both nodes together', async () => {
    await freshMinute();
    // This minute's earlier logins (from 127.0.0.1, as all of these) count too.
    const win = Math.floor(Date.now() / 60000);
    const used = sql(a.dir, `SELECT COALESCE(SUM(hits), 0) AS n FROM rate_limits WHERE bucket = 'login' AND win = ${win}`)[0].n;
    setting(a.dir, 'ratelimit.login_per_minute', Number(used) + 6);
    try {
      const codes = [];
      for (let i = 0; i < 8; i++) {
        const r = await [a, b][i % 2].client().login(`nobody${i}`, 'x');
        codes.push(r.status);
      }
      // 6 attempts in the minute, whichever node took them; then 429 on both.
      assert.deepEqual(codes, [401, 401, 401, 401, 401, 401, 429, 429]);
    } finally {
      setting(a.dir, 'ratelimit.login_per_minute', 1000);
    }
  });

  it('concurrent edits through both nodes never lose an update', async () => {
    const pid = sql(a.dir, 'SELECT id FROM persons ORDER BY id LIMIT 1')[0].id;
    const v0 = sql(a.dir, `SELECT version FROM persons WHERE id = ${pid}`)[0].version;
    const hist0 = sql(a.dir, `SELECT COUNT(*) AS n FROM person_history WHERE person_id = ${pid}`)[0].n;
    // One race on the same version: one node wins, the other gets 409.
    const [ca, cb] = await Promise.all([a.login('center'), b.login('center')]);
    const [ra, rb] = await Promise.all([
      ca.patch(`/api/v1/persons/${pid}`, { version: v0, remarks: '甲节点' }),
      cb.patch(`/api/v1/persons/${pid}`, { version: v0, remarks: '乙节点' }),
    ]);
    assert.deepEqual([ra.status, rb.status].sort(), [200, 409], `${ra.status} ${rb.status}`);
    // Then 4 writers (2 per node), each making 5 changes read-modify-write,
    // retrying on 409.
    const writers = await Promise.all([a, a, b, b].map((n) => n.login('center')));
    let conflicts = 0;
    await Promise.all(writers.map(async (c, w) => {
      for (let i = 0; i < 5;) {
        const g = await c.get(`/api/v1/persons/${pid}`);
        assert.equal(g.status, 200);
        const r = await c.patch(`/api/v1/persons/${pid}`, { version: g.json.version, remarks: `写者${w}第${i}次` });
        if (r.status === 409) { conflicts++; continue; }
        assert.equal(r.status, 200, JSON.stringify(r.json));
        assert.equal(r.json.version, g.json.version + 1);
        i++;
      }
    }));
    const v1 = sql(a.dir, `SELECT version FROM persons WHERE id = ${pid}`)[0].version;
    assert.equal(v1, v0 + 1 + 20, 'every accepted change is one version');
    // The field history is one unbroken chain: each change starts from the
    // value the previous one left.
    const h = sql(a.dir, `SELECT before, after FROM person_history WHERE person_id = ${pid} AND field = 'remarks' ORDER BY id`);
    const recent = h.slice(-21);
    for (let i = 1; i < recent.length; i++) assert.equal(recent[i].before, recent[i - 1].after, `history row ${i}`);
    assert.equal(sql(a.dir, `SELECT COUNT(*) AS n FROM person_history WHERE person_id = ${pid}`)[0].n - hist0, 21);
    assert.ok(conflicts >= 0);
  });

  it('the deadline job runs on one node only; the other takes over when it stops', async () => {
    const cun = await b.login('cun');
    const r = await cun.post(R, { channel: '来访', category: '政策咨询', urgency: '普通', content: '多节点期限检查',
      contact_name: '节点测试', contact_phone: '13800138000', region_code: DONGHU });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    const id = r.json.id;
    // A month later on both nodes, the job every second.
    const month = 30 * 86400;
    await Promise.all([setClock(a, month), setClock(b, month)]);
    setting(a.dir, 'requests.job_interval_seconds', 1);
    const mark = [a.logs.length, b.logs.length];
    await waitFor('the escalation of the overdue request',
      () => auditRows(a.dir, `object_id = '${id}' AND event = 'request.escalate'`).length > 0);
    await sleep(2500);   // several more passes: nothing may happen twice
    assert.equal(auditRows(a.dir, `object_id = '${id}' AND event = 'request.overdue'`).length, 1);
    assert.equal(auditRows(a.dir, `object_id = '${id}' AND event = 'request.escalate'`).length, 1);
    const took = [a, b].map((n, i) => n.logs.slice(mark[i]).join('').includes('本节点负责诉求期限检查'));
    assert.deepEqual(took.filter(Boolean).length, 1, `exactly one node runs the job: ${took}`);
    const [runner, other] = took[0] ? [a, b] : [b, a];
    assert.ok(!other.logs.join('').includes('期限检查：'), 'the other node never ran a pass');

    // The runner stops: the other one takes over.
    const otherMark = other.logs.length;
    await runner.stop();
    await waitFor('the other node to take over the job',
      () => other.logs.slice(otherMark).join('').includes('本节点负责诉求期限检查'));
    const c2 = await other.login('cun');
    const r2 = await c2.post(R, { channel: '来访', category: '政策咨询', urgency: '普通', content: '接管后的期限检查',
      contact_name: '接管测试', contact_phone: '13800138000', region_code: DONGHU });
    assert.equal(r2.status, 201);
    await setClock(other, 2 * month);
    await waitFor('the new runner to escalate',
      () => auditRows(a.dir, `object_id = '${r2.json.id}' AND event = 'request.escalate'`).length === 1);
    setting(a.dir, 'requests.job_interval_seconds', 0);
  });
});

// ---- through nginx with the sample configuration ----

async function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => ok(port)); });
  });
}

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));

// nginx reaches the nodes from this address (proxy_bind), the only one they
// trust as a proxy; test clients come from other loopback addresses.
const PROXY_ADDR = '127.0.0.2';

// The sample, with the test's nodes and a loopback port instead of TLS, and
// nginx's connections to the nodes from PROXY_ADDR.
function renderSample(nodes, port) {
  const sample = readFileSync(join(SRC, 'docs/deploy/nginx-vets.conf'), 'utf8');
  let done = false;
  const lines = [];
  for (const line of sample.split('\n')) {
    if (/^\s*server\s+[\d.]+:\d+/.test(line)) {
      if (!done) for (const n of nodes) lines.push(`    server 127.0.0.1:${n.port} max_fails=3 fail_timeout=10s;`);
      done = true;
    } else if (/^\s*listen\s+443\s+ssl;/.test(line)) lines.push(`    listen 127.0.0.1:${port};`);
    else if (/^\s*ssl_/.test(line)) continue;
    else if (/^\s*proxy_pass\s/.test(line)) lines.push(line, `        proxy_bind ${PROXY_ADDR};`);
    else lines.push(line);
  }
  assert.ok(done, 'the sample has an upstream with server lines');
  return lines.join('\n');
}

describe('behind nginx with docs/deploy/nginx-vets.conf', { skip: SKIP || (!NGINX && 'nginx is not installed') }, () => {
  let a, b, lb, url, prefix;
  before(async () => {
    a = await startServer({ persons: 20, extraArgs: ['--trusted-proxy', PROXY_ADDR] });
    setting(a.dir, 'ratelimit.login_per_minute', 1000);
    b = await secondNode(a, ['--trusted-proxy', PROXY_ADDR]);
    prefix = mkdtempSync(join(tmpdir(), 'vets-nginx-'));
    mkdirSync(join(prefix, 'logs'));
    const port = await freePort();
    writeFileSync(join(prefix, 'vets.conf'), renderSample([a, b], port));
    writeFileSync(join(prefix, 'nginx.conf'), [
      process.getuid?.() === 0 ? 'user root;' : '',
      'worker_processes 1;', 'error_log logs/error.log warn;', `pid ${join(prefix, 'nginx.pid')};`,
      'events { worker_connections 256; }',
      'http {',
      '  access_log off;',
      `  client_body_temp_path ${join(prefix, 'body')}; proxy_temp_path ${join(prefix, 'proxy')};`,
      `  fastcgi_temp_path ${join(prefix, 'fcgi')}; uwsgi_temp_path ${join(prefix, 'uwsgi')}; scgi_temp_path ${join(prefix, 'scgi')};`,
      '  add_header X-Upstream $upstream_addr always;',   // test only: which node answered
      `  include ${join(prefix, 'vets.conf')};`,
      '}', ''].join('\n'));
    lb = spawn(NGINX, ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] });
    url = `http://127.0.0.1:${port}`;
    await waitFor('nginx', async () => { try { return (await fetch(`${url}/api/v1/health`)).ok; } catch { return false; } });
  });
  after(async () => {
    if (lb && lb.exitCode === null) { lb.kill('SIGTERM'); await new Promise((ok) => lb.once('exit', ok)); }
    await b?.stop();
    if (b) rmSync(b.dir, { recursive: true, force: true });
    await a?.cleanup();
    if (prefix) rmSync(prefix, { recursive: true, force: true });
  });

  it('spreads requests over both nodes, and the session follows them', async () => {
    const c = new Client(url);
    const r = await c.login('danghu', a.accounts.danghu.password);
    assert.equal(r.status, 200);
    const seen = new Set();
    for (let i = 0; i < 10; i++) {
      const m = await c.get('/api/v1/auth/me');
      assert.equal(m.status, 200);
      assert.equal(m.json.user.username, 'danghu');
      seen.add(m.headers.get('x-upstream'));
    }
    assert.deepEqual([...seen].sort(), [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`].sort());
    const pid = sql(a.dir, "SELECT id FROM persons WHERE region_code BETWEEN '330482001000' AND '330482001999' ORDER BY id LIMIT 1")[0].id;
    for (let i = 0; i < 4; i++) {
      const g = await c.get(`/api/v1/persons/${pid}`);
      const w = await c.patch(`/api/v1/persons/${pid}`, { version: g.json.version, remarks: `经负载均衡${i}` });
      assert.equal(w.status, 200, JSON.stringify(w.json));
    }
  });

  it('records the client behind nginx, and ignores what a client claims', async () => {
    // A wrong login from LOCAL to TARGET with HEADERS; the ip its audit row recorded.
    let n = 0;
    const ipOf = (target, local, headers) => new Promise((ok, fail) => {
      const name = `lb-probe-${++n}`;
      const data = JSON.stringify({ username: name, password: 'x' });
      const u = new URL(target);
      const rq = http.request({ host: u.hostname, port: u.port, path: '/api/v1/auth/login', method: 'POST', localAddress: local,
        agent: false, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data), ...headers } }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode !== 401) { fail(new Error(`status ${res.statusCode}`)); return; }
          const rows = sql(a.dir, `SELECT ip FROM audit WHERE event = 'login.failed' AND object_id = '${name}'`);
          ok(rows.map((r) => r.ip).join());
        });
      });
      rq.on('error', fail);
      rq.end(data);
    });
    const spoof = { 'X-Forwarded-For': '6.6.6.6', 'X-Real-IP': '6.6.6.6' };
    assert.equal(await ipOf(url, '127.0.0.3', {}), '127.0.0.3');
    assert.equal(await ipOf(url, '127.0.0.4', spoof), '127.0.0.4');
    // Straight to a node, not through the proxy: the headers count for nothing.
    assert.equal(await ipOf(a.url, '127.0.0.5', spoof), '127.0.0.5');
  });

  it('keeps answering when one node stops', async () => {
    const c = new Client(url);
    assert.equal((await c.login('danghu', a.accounts.danghu.password)).status, 200);
    await b.stop();
    for (let i = 0; i < 6; i++) {
      const m = await c.get('/api/v1/auth/me');
      assert.equal(m.status, 200);
      assert.equal(m.headers.get('x-upstream').split(', ').pop(), `127.0.0.1:${a.port}`);
    }
  });
});
