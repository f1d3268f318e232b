// Foundation API tests: login, lockout, CSRF, roles and the three-admin
// separation, forced password change, sessions, jurisdiction of stations, the
// audit trail (rows written, tamper detection), migration of an old data
// folder, limits (413/415) and a clean SIGTERM.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, launch, auditRows, vets, BIN, DB, sql, sqlExec, psql, pgDatabaseOf, dbArgs } from './lib.mjs';

const NEWPW = 'Xy7#kLm2pQ9!';

describe('foundation', () => {
  let srv;
  before(async () => { srv = await startServer({ persons: 200 }); });
  after(async () => { await srv.cleanup(); });

  test('health answers without login', async () => {
    const r = await srv.client().get('/api/v1/health');
    assert.equal(r.status, 200);
    assert.equal(r.json.status, 'ok');
    assert.ok(r.json.schema >= 2);
  });

  test('every other API route needs a session', async () => {
    const c = srv.client();
    for (const p of ['/api/v1/auth/me', '/api/v1/stations', '/api/v1/persons', '/api/v1/audit', '/api/v1/users']) {
      const r = await c.get(p);
      assert.equal(r.status, 401, p);
      assert.equal(r.json.error.code, 'unauthenticated');
      assert.ok(r.json.error.request_id);
    }
  });

  test('login ok sets an HttpOnly SameSite cookie and returns the CSRF token', async () => {
    const c = srv.client();
    const r = await c.login('danghu', srv.accounts.danghu.password);
    assert.equal(r.status, 200);
    const sc = r.headers.get('set-cookie');
    assert.match(sc, /HttpOnly/);
    assert.match(sc, /SameSite=Strict/);
    assert.equal(r.json.user.username, 'danghu');
    assert.equal(r.json.user.station.region_name, '当湖街道');
    assert.match(r.json.csrf_token, /^[0-9a-f]{32}$/);
    const rows = auditRows(srv.dir, "event='login.ok' AND username='danghu'");
    assert.ok(rows.length >= 1);
  });

  test('wrong password and unknown user are answered alike', async () => {
    const a = await srv.client().login('danghu', 'Wrong#Pass1');
    const b = await srv.client().login('nobody-here', 'Wrong#Pass1');
    assert.equal(a.status, 401); assert.equal(b.status, 401);
    assert.equal(a.json.error.code, b.json.error.code);
    assert.equal(a.json.error.message, b.json.error.message);
    assert.equal(a.json.error.message, '用户名或密码错误');
    assert.ok(auditRows(srv.dir, "event='login.failed' AND object_id='nobody-here'").length === 1);
  });

  test('five failures lock the account for 30 minutes, known or not', async () => {
    for (const name of ['xincang', 'ghost-user']) {
      let last;
      for (let i = 0; i < 5; i++) last = await srv.client().login(name, 'Bad#Pass' + i);
      assert.equal(last.status, 401);
      assert.equal(last.json.error.code, 'account_locked');
      assert.match(last.json.error.message, /锁定/);
      const again = await srv.client().login(name, name === 'xincang' ? srv.accounts.xincang.password : 'x');
      assert.equal(again.json.error.code, 'account_locked', 'even the right password is refused while locked');
      assert.equal(auditRows(srv.dir, `event='login.lockout' AND object_id='${name}'`).length, 1);
    }
    // After the lock time the right password works again.
    await srv.client().post('/api/v1/test/clock', { offset_seconds: 31 * 60 });
    const ok = await srv.client().login('xincang', srv.accounts.xincang.password);
    assert.equal(ok.status, 200);
    await srv.client().post('/api/v1/test/clock', { offset_seconds: 0 });
  });

  test('state changes without the CSRF header are refused and audited', async () => {
    const c = await srv.login('danghu');
    const csrf = c.csrf; c.csrf = null;
    const r = await c.post('/api/v1/auth/logout', {});
    assert.equal(r.status, 403);
    assert.equal(r.json.error.code, 'csrf_failed');
    c.csrf = 'f'.repeat(32);
    assert.equal((await c.post('/api/v1/auth/logout', {})).status, 403);
    c.csrf = csrf;
    assert.ok(auditRows(srv.dir, "event='access.denied' AND username='danghu' AND detail LIKE '%csrf%'").length >= 2);
    assert.equal((await c.get('/api/v1/auth/me')).status, 200, 'session still alive');
  });

  test('logout kills the session on the server', async () => {
    const c = await srv.login('danghu');
    const cookie = c.cookie;
    assert.equal((await c.post('/api/v1/auth/logout', {})).status, 200);
    c.cookie = cookie;
    assert.equal((await c.get('/api/v1/auth/me')).status, 401);
    assert.ok(auditRows(srv.dir, "event='logout' AND username='danghu'").length >= 1);
  });

  test('idle sessions time out after 30 minutes', async () => {
    const c = await srv.login('zhapu');
    assert.equal((await c.get('/api/v1/auth/me')).status, 200);
    await srv.client().post('/api/v1/test/clock', { offset_seconds: 31 * 60 });
    const r = await c.get('/api/v1/auth/me');
    await srv.client().post('/api/v1/test/clock', { offset_seconds: 0 });
    assert.equal(r.status, 401);
    assert.equal(r.json.error.code, 'session_expired');
    assert.ok(auditRows(srv.dir, "event='session.timeout' AND username='zhapu'").length === 1);
  });

  test('roles are allowed and refused per route, refusals audited', async () => {
    const leader = await srv.login('leader');
    assert.equal((await leader.get('/api/v1/persons')).status, 200);
    const st = await leader.get('/api/v1/stations');
    const one = st.json.items[0];
    const r = await leader.patch(`/api/v1/stations/${one.id}`, { version: one.version, phone: '123' });
    assert.equal(r.status, 403);
    assert.equal(r.json.error.code, 'forbidden');
    assert.equal((await leader.get('/api/v1/audit')).status, 403);
    assert.equal((await leader.get('/api/v1/users')).status, 403);
    const cun = await srv.login('cun');
    assert.equal((await cun.get('/api/v1/persons/export.xlsx')).status, 403);
    assert.ok(auditRows(srv.dir, "event='access.denied' AND username='leader'").length >= 3);
  });

  test('initial admin passwords must be changed first; then the three admins stay apart', async () => {
    const admins = {};
    for (const name of ['sysadmin', 'secadmin', 'auditor']) {
      const c = await srv.login(name);
      const me = await c.get('/api/v1/auth/me');
      assert.equal(me.json.user.must_change_password, true);
      const blocked = await c.get('/api/v1/settings');
      assert.equal(blocked.status, 403);
      assert.equal(blocked.json.error.code, 'password_change_required');
      const weak = await c.post('/api/v1/auth/password', { old_password: srv.accounts[name].password, new_password: 'short' });
      assert.equal(weak.status, 422);
      assert.equal(weak.json.error.field, 'new_password');
      const ok = await c.post('/api/v1/auth/password', { old_password: srv.accounts[name].password, new_password: NEWPW });
      assert.equal(ok.status, 200, JSON.stringify(ok.json));
      admins[name] = c;
    }
    const { sysadmin, secadmin, auditor } = admins;
    // sysadmin: accounts yes, roles no, audit no, persons no.
    const created = await sysadmin.post('/api/v1/users', { username: 'clerk1', name: '测试员', station_id: (await sysadmin.get('/api/v1/stations')).json.items[0].id });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    assert.ok(created.json.initial_password.length >= 12);
    const uid = created.json.user.id;
    assert.equal((await sysadmin.put(`/api/v1/users/${uid}/roles`, { roles: ['town'] })).status, 403);
    assert.equal((await sysadmin.get('/api/v1/audit')).status, 403);
    assert.equal((await sysadmin.get('/api/v1/persons')).status, 403);
    // secadmin: roles yes, audit and persons no; admin roles never combined.
    assert.equal((await secadmin.put(`/api/v1/users/${uid}/roles`, { roles: ['town'] })).status, 200);
    const combo = await secadmin.put(`/api/v1/users/${uid}/roles`, { roles: ['town', 'auditor'] });
    assert.equal(combo.status, 422);
    assert.match(combo.json.error.message, /三员分立/);
    const users = (await secadmin.get('/api/v1/users?q=auditor')).json.items;
    const aud = users.find((u) => u.username === 'auditor');
    assert.equal((await secadmin.put(`/api/v1/users/${aud.id}/roles`, { roles: ['auditor', 'center'] })).status, 422);
    assert.equal((await secadmin.get('/api/v1/audit')).status, 403);
    assert.equal((await secadmin.get('/api/v1/persons')).status, 403);
    // auditor: the audit trail only.
    const trail = await auditor.get('/api/v1/audit?event=user.roles');
    assert.equal(trail.status, 200);
    assert.ok(trail.json.items.some((i) => i.object_id === String(uid) && i.username === 'secadmin'));
    assert.equal((await auditor.get('/api/v1/persons')).status, 403);
    assert.equal((await auditor.get('/api/v1/users')).status, 403);
    const v = await auditor.get('/api/v1/audit/verify');
    assert.equal(v.json.ok, true);
  });

  test('a town user sees only its own stations', async () => {
    const c = await srv.login('danghu');
    const mine = (await c.get('/api/v1/stations')).json.items;
    assert.ok(mine.length > 1);
    assert.ok(mine.every((s) => s.region_code.startsWith('330482001')));
    const all = (await (await srv.login('center')).get('/api/v1/stations')).json.items;
    const zhapu = all.find((s) => s.name.startsWith('乍浦镇'));
    assert.ok(zhapu);
    const r = await c.get(`/api/v1/stations/${zhapu.id}`);
    assert.equal(r.status, 404);
    const p = await c.patch(`/api/v1/stations/${zhapu.id}`, { version: zhapu.version, phone: '1' });
    assert.equal(p.status, 404);
  });

  test('五有 checklist is saved with notes, versioned and audited', async () => {
    const c = await srv.login('danghu');
    const st = (await c.get('/api/v1/stations?level=town')).json.items[0];
    const r = await c.patch(`/api/v1/stations/${st.id}`, { version: st.version, five_haves: { org: { ok: true, note: '2019年设立' } } });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.five_haves.org.ok, true);
    assert.equal(r.json.five_haves.org.note, '2019年设立');
    const stale = await c.patch(`/api/v1/stations/${st.id}`, { version: st.version, phone: '0573-1' });
    assert.equal(stale.status, 409);
    assert.ok(auditRows(srv.dir, `event='station.update' AND object_id='${st.id}'`).length === 1);
    const bad = await c.patch(`/api/v1/stations/${st.id}`, { version: r.json.version, five_haves: { money: { ok: true } } });
    assert.equal(bad.status, 422);
  });

  test('body limits and content types', async () => {
    const c = await srv.login('danghu');
    // The server answers 413 from the headers alone and closes, so a client still
    // writing the body may see EPIPE: check on a raw socket that sends a little.
    const big = await new Promise((resolve, reject) => {
      const sock = net.connect(srv.port, '127.0.0.1');
      let data = '';
      sock.on('data', (d) => { data += d; });
      sock.on('error', () => resolve(data));
      sock.on('close', () => resolve(data));
      sock.on('connect', () => {
        sock.write(`POST /api/v1/persons HTTP/1.1\r\nHost: x\r\nCookie: ${c.cookie}\r\nX-CSRF-Token: ${c.csrf}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${2 << 20}\r\n\r\n{"a":"xxxx`);
      });
      setTimeout(() => { sock.destroy(); reject(new Error('no answer to an oversized body')); }, 5000);
    });
    assert.match(big, /^HTTP\/1\.1 413 /);
    const wrong = await c.req('POST', '/api/v1/persons', new TextEncoder().encode('name=x'), { headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    assert.equal(wrong.status, 415);
    const bad = await c.req('POST', '/api/v1/persons', new TextEncoder().encode('{"name":'), { headers: { 'Content-Type': 'application/json' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.code, 'malformed_json');
  });

  test('security headers on every answer', async () => {
    const r = await srv.client().get('/api/v1/health');
    assert.match(r.headers.get('content-security-policy'), /default-src 'self'/);
    assert.match(r.headers.get('content-security-policy'), /frame-ancestors 'none'/);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(r.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(r.headers.get('cache-control'), 'no-store');
  });

  test('code tables are served read-only', async () => {
    const c = await srv.login('danghu');
    const sex = await c.get('/api/v1/codes/sex');
    assert.deepEqual(sex.json.items.map((i) => i.code), ['0', '1', '2', '9']);
    const eth = await c.get('/api/v1/codes/ethnic');
    assert.equal(eth.json.items.find((i) => i.code === '01').name, '汉族');
    assert.ok(eth.json.items.length >= 58);
    assert.equal((await c.get('/api/v1/codes/nope')).status, 404);
    const wrong = await c.post('/api/v1/codes/sex', {});
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.get('allow'), 'GET, HEAD');
    // HEAD is GET without the body.
    const head = await c.req('HEAD', '/api/v1/codes/sex');
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    assert.match(head.headers.get('content-type'), /json/);
  });
});

describe('audit chain and data folder', () => {
  test('tampering with an audit row is detected and named', async () => {
    const srv = await startServer({ persons: 20 });
    const c = await srv.login('danghu');
    await c.post('/api/v1/auth/logout', {});
    await srv.stop();
    assert.match(vets(['audit', 'verify', '--data', srv.dir]), /审计链完整/);
    const rows = auditRows(srv.dir);
    const victim = rows[Math.floor(rows.length / 2)].id;
    // The database refuses the rewrite itself …
    assert.throws(() => sqlExec(srv.dir, `UPDATE audit SET result='x' WHERE id=${victim}`), /append-only/);
    // … PostgreSQL's application role may not even try: INSERT and SELECT only …
    if (DB === 'pg') {
      for (const stmt of [`UPDATE audit SET result='x' WHERE id=${victim}`, `DELETE FROM audit WHERE id=${victim}`, 'TRUNCATE audit'])
        assert.throws(() => psql(pgDatabaseOf(srv.dir), stmt, { role: 'vets_app' }), /permission denied/);
    }
    // … and if someone goes around the trigger, verify names the row.
    sqlExec(srv.dir, `DROP TRIGGER audit_no_update; UPDATE audit SET result='ok2' WHERE id=${victim}`,
      { pg: `DROP TRIGGER audit_no_update ON audit; UPDATE audit SET result='ok2' WHERE id=${victim}` });
    const v = spawnSync(BIN, ['audit', 'verify', '--data', srv.dir, ...dbArgs(srv.dir, 'audit')], { encoding: 'utf8' });
    assert.equal(v.status, 1);
    assert.match(v.stdout, new RegExp(`第 ${victim} 条`));
    rmSync(srv.dir, { recursive: true, force: true });
  });

  test('an old data folder is migrated forward and keeps its data', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vets-mig-'));
    vets(['init', '--data', dir, '--schema', '1']);
    sqlExec(dir, "INSERT INTO settings(key,value,kind,label,owner) VALUES('test.keep','42','int','t','sys')");
    const srv = await launch(dir);
    const h = await srv.client().get('/api/v1/health');
    assert.ok(h.json.schema >= 2);
    const [kept] = sql(dir, "SELECT (SELECT value FROM settings WHERE key='test.keep') AS v, (SELECT COUNT(*) FROM schema_migrations) AS n");
    assert.equal(kept.v, '42');
    assert.equal(Number(kept.n), h.json.schema);
    const st = await srv.stop();
    assert.equal(st.code, 0, 'SIGTERM exits cleanly');
    rmSync(dir, { recursive: true, force: true });
  });

  test('a fresh folder has no known password: three admins with generated ones', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vets-fresh-'));
    const out = vets(['init', '--data', dir]);
    assert.match(out, /sysadmin/);
    const srv = await launch(dir);
    for (const pw of ['admin', 'Admin@123', '123456']) {
      const r = await srv.client().login('sysadmin', pw);
      assert.equal(r.status, 401);
    }
    assert.equal(Object.keys(srv.accounts).sort().join(','), 'auditor,secadmin,sysadmin');
    await srv.cleanup();
  });
});
