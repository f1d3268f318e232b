// The client's address behind a reverse proxy, and login failures counted
// exactly when they arrive together (issue 7 follow-ups).
//  - Without --trusted-proxy the X-Forwarded-For and X-Real-IP headers are
//    ignored: the audit trail and the per-address login limit see the peer.
//  - With the peer named as a trusted proxy, the client is the right-most
//    address of X-Forwarded-For that no trusted proxy stands for: addresses a
//    client put in front are ignored, a malformed entry stops the walk, IPv6
//    literals are taken (and written canonically). With --real-ip-header
//    X-Real-IP that header is taken instead.
//  - A peer that is not listed cannot choose its address by sending the
//    headers; a malformed --trusted-proxy refuses to start.
//  - 20 wrong passwords for one user at the same instant: exactly
//    login.max_failures of them are counted (audit failures 1…N), one lockout,
//    every other answer is "locked", the stored count is exact.
// Runs on SQLite and (api_pg_hardening_proxy) on PostgreSQL; the same race
// across two nodes is in pg_multinode.test.mjs.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, launch, sql, vets, auditRows } from './lib.mjs';

const setting = (dir, key, value) => sql(dir, `UPDATE settings SET value = '${value}' WHERE key = '${key}'`);

// A POST of JSON with HEADERS through node:http (an array value is sent as
// several header lines, as fetch would not); resolves to the status.
function post(srv, path, body, headers) {
  return new Promise((ok, fail) => {
    const data = JSON.stringify(body);
    const rq = http.request({ host: '127.0.0.1', port: srv.port, path, method: 'POST', agent: false,
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data), ...headers } }, (res) => {
      res.resume();
      res.on('end', () => ok(res.statusCode));
    });
    rq.on('error', fail);
    rq.end(data);
  });
}

let seq = 0;
// A wrong login under a fresh name, with HEADERS; returns the ip its audit row recorded.
async function ipOf(srv, headers) {
  const name = `proxy-probe-${process.pid}-${++seq}`;
  assert.equal(await post(srv, '/api/v1/auth/login', { username: name, password: 'x' }, headers), 401);
  const rows = sql(srv.dir, `SELECT ip FROM audit WHERE event = 'login.failed' AND object_id = '${name}'`);
  assert.equal(rows.length, 1);
  return rows[0].ip;
}

// Counters of a one-minute window: do not start one in its last seconds.
async function freshMinute() {
  const s = new Date().getUTCSeconds();
  if (s > 52) await sleep((61 - s) * 1000);
}

describe('client address behind a reverse proxy', () => {
  let dir, srv;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'vets-proxy-'));
    vets(['init', '--data', dir, '--demo', '--persons', '10']);
    setting(dir, 'ratelimit.login_per_minute', 1000);
  });
  after(async () => {
    if (srv) await srv.cleanup();
    else rmSync(dir, { recursive: true, force: true });
  });
  const restart = async (args) => { if (srv) await srv.stop(); srv = await launch(dir, args); };

  it('ignores the headers when no proxy is trusted', async () => {
    await restart([]);
    assert.equal(await ipOf(srv, {}), '127.0.0.1');
    assert.equal(await ipOf(srv, { 'X-Forwarded-For': '203.0.113.9' }), '127.0.0.1');
    assert.equal(await ipOf(srv, { 'X-Real-IP': '203.0.113.9' }), '127.0.0.1');
  });

  it('ignores the headers from a peer that is not a listed proxy', async () => {
    await restart(['--trusted-proxy', '10.9.9.9', '--trusted-proxy', '192.168.0.0/16,fd00::/8']);
    assert.equal(await ipOf(srv, { 'X-Forwarded-For': '203.0.113.9' }), '127.0.0.1');
    assert.equal(await ipOf(srv, { 'X-Forwarded-For': '203.0.113.9, 10.9.9.9' }), '127.0.0.1');
  });

  it('takes the right-most untrusted X-Forwarded-For entry from a trusted proxy', async () => {
    await restart(['--trusted-proxy', '127.0.0.0/8', '--trusted-proxy', '10.1.0.0/16']);
    assert.equal(await ipOf(srv, { 'X-Forwarded-For': '203.0.113.9' }), '203.0.113.9');
    // What the client itself sent stands left of what the proxy appended.
    assert.equal(await ipOf(srv, { 'X-Forwarded-For': '6.6.6.6, 203.0.113.9' }), '203.0.113.9');
    assert.equal(await ipOf(srv, { 'X-Forwarded-For': '6.6.6.6,203.0.113.9' }), '203.0.113.9');
    // A chain of trusted proxies: each hop they stand for is skipped.
    assert.equal(await ipOf(srv, { 'X-Forwarded-For': '6.6.6.6, 198.51.100.4, 10.1.2.3, 127.0.0.5' }), '198.51.100.4');
    // Several headers are one list, in order.
    assert.equal(await ipOf(srv, { 'X-Forwarded-For': ['6.6.6.6', '198.51.100.5'] }), '198.51.100.5');
    // IPv6, written canonically; an IPv4-mapped address is its IPv4 address.
    assert.equal(await ipOf(srv, { 'X-Forwarded-For': '2001:DB8:0:0::7' }), '2001:db8::7');
    assert.equal(await ipOf(srv, { 'X-Forwarded-For': '::ffff:203.0.113.10' }), '203.0.113.10');
    // Malformed entries are never taken: the walk stops at the last address vouched for.
    assert.equal(await ipOf(srv, { 'X-Forwarded-For': 'evil' }), '127.0.0.1');
    assert.equal(await ipOf(srv, { 'X-Forwarded-For': '203.0.113.9:4711' }), '127.0.0.1');
    assert.equal(await ipOf(srv, { 'X-Forwarded-For': "203.0.113.9, 1.2.3.4'; --" }), '127.0.0.1');
    assert.equal(await ipOf(srv, { 'X-Forwarded-For': 'evil, 10.1.2.3' }), '10.1.2.3');
    assert.equal(await ipOf(srv, { 'X-Forwarded-For': '' }), '127.0.0.1');
    // X-Real-IP is not what this node was told to read.
    assert.equal(await ipOf(srv, { 'X-Real-IP': '203.0.113.9' }), '127.0.0.1');
  });

  it('counts the login limit per client, not per proxy', async () => {
    setting(dir, 'ratelimit.login_per_minute', 3);
    try {
      await freshMinute();
      const a = `198.51.100.${100 + (process.pid % 50)}`, b = `198.51.100.${200 + (process.pid % 50)}`;
      const codes = [];
      for (let i = 0; i < 4; i++) {
        codes.push(await post(srv, '/api/v1/auth/login', { username: `rl-${i}`, password: 'x' }, { 'X-Forwarded-For': a }));
      }
      assert.deepEqual(codes, [401, 401, 401, 429]);
      assert.equal(await post(srv, '/api/v1/auth/login', { username: 'rl-b', password: 'x' }, { 'X-Forwarded-For': b }), 401,
        'another client behind the same proxy is not limited');
    } finally {
      setting(dir, 'ratelimit.login_per_minute', 1000);
    }
  });

  it('records the client of a successful login and of later requests', async () => {
    const c = new Client(srv.url);
    const r = await c.req('POST', '/api/v1/auth/login', { username: 'center', password: srv.accounts.center.password },
      { headers: { 'X-Forwarded-For': '203.0.113.77' } });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const ok = sql(dir, "SELECT ip FROM audit WHERE event = 'login.ok' AND username = 'center' ORDER BY id DESC LIMIT 1");
    assert.equal(ok[0].ip, '203.0.113.77');
    c.csrf = r.json.csrf_token;
    assert.equal((await c.req('POST', '/api/v1/auth/logout', {}, { headers: { 'X-Forwarded-For': '203.0.113.78' } })).status, 200);
    const out = sql(dir, "SELECT ip FROM audit WHERE event = 'logout' AND username = 'center' ORDER BY id DESC LIMIT 1");
    assert.equal(out[0].ip, '203.0.113.78');
  });

  it('reads X-Real-IP instead when told to', async () => {
    await restart(['--trusted-proxy', '127.0.0.1', '--real-ip-header', 'X-Real-IP']);
    assert.equal(await ipOf(srv, { 'X-Real-IP': '203.0.113.9' }), '203.0.113.9');
    assert.equal(await ipOf(srv, { 'X-Real-IP': ' 2001:db8::9 ' }), '2001:db8::9');
    assert.equal(await ipOf(srv, { 'X-Real-IP': 'evil' }), '127.0.0.1');
    assert.equal(await ipOf(srv, { 'X-Forwarded-For': '203.0.113.9' }), '127.0.0.1');
  });

  it('refuses to start with a malformed proxy list', () => {
    for (const bad of [['--trusted-proxy', 'nginx'], ['--trusted-proxy', '10.0.0.0/33'], ['--trusted-proxy', '10.0.0.1,'],
      ['--real-ip-header', 'Forwarded']]) {
      assert.throws(() => vets(['serve', '--data', dir, ...bad], { timeout: 10000 }), (e) => e.status === 2 && /--(trusted-proxy|real-ip-header)/.test(e.stderr),
        bad.join(' '));
    }
  });
});

describe('login failures arriving together are counted exactly', () => {
  let dir, srv, max;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vets-lockrace-'));
    vets(['init', '--data', dir, '--demo', '--persons', '10']);
    setting(dir, 'ratelimit.login_per_minute', 1000);
    max = Number(sql(dir, "SELECT value FROM settings WHERE key = 'login.max_failures'")[0].value);
    srv = await launch(dir, ['--threads', '8']);
  });
  after(async () => { await srv?.cleanup(); });

  for (const who of ['zhapu', 'no-such-user']) {
    it(`20 wrong passwords at once for ${who}: login.max_failures counted, then locked`, async () => {
      const tries = await Promise.all(Array.from({ length: 20 }, (_, i) =>
        new Client(srv.url).login(who, `wrong-${i}`)));
      const codes = tries.map((r) => r.json?.error?.code);
      assert.ok(tries.every((r) => r.status === 401), JSON.stringify(codes));
      assert.equal(codes.filter((c) => c === 'login_failed').length, max - 1, JSON.stringify(codes));
      assert.equal(codes.filter((c) => c === 'account_locked').length, 20 - (max - 1), JSON.stringify(codes));
      const fails = auditRows(dir, `event = 'login.failed' AND object_id = '${who}'`);
      assert.deepEqual(fails.map((f) => JSON.parse(f.detail).failures), Array.from({ length: max }, (_, i) => i + 1));
      assert.equal(auditRows(dir, `event = 'login.lockout' AND object_id = '${who}'`).length, 1);
      assert.equal(auditRows(dir, `event = 'login.locked' AND object_id = '${who}'`).length, 20 - max);
      const row = sql(dir, `SELECT failures, locked_until FROM login_failures WHERE username = '${who}'`)[0];
      assert.equal(row.failures, max);
      assert.ok(row.locked_until > Date.now() / 1000, 'locked');
      if (who === 'zhapu') {
        const r = await new Client(srv.url).login(who, srv.accounts.zhapu.password);
        assert.equal(r.json.error.code, 'account_locked', 'the right password is refused while locked');
      }
    });
  }

  it('a served lock starts a new count', async () => {
    const lockMin = Number(sql(dir, "SELECT value FROM settings WHERE key = 'login.lock_minutes'")[0].value);
    const r0 = await new Client(srv.url).post('/api/v1/test/clock', { offset_seconds: lockMin * 60 + 5 });
    assert.equal(r0.status, 200);
    try {
      const r = await new Client(srv.url).login('no-such-user', 'wrong-again');
      assert.equal(r.json.error.code, 'login_failed');
      const last = auditRows(dir, "event = 'login.failed' AND object_id = 'no-such-user'").pop();
      assert.equal(JSON.parse(last.detail).failures, 1);
      assert.deepEqual(sql(dir, "SELECT failures, locked_until FROM login_failures WHERE username = 'no-such-user'"),
        [{ failures: 1, locked_until: 0 }]);
      const ok = await new Client(srv.url).login('zhapu', srv.accounts.zhapu.password);
      assert.notEqual(ok.json?.error?.code, 'account_locked');
    } finally {
      await new Client(srv.url).post('/api/v1/test/clock', { offset_seconds: 0 });
    }
  });
});
