// No secret in any log or audit row (issue 8, SECURITY.md "Audit": "No
// password, token, full ID number or bank account in any log or audit row").
// Runs last (zz_): a server with request logging and debug logging on goes
// through the paths where secrets pass — logins right and wrong, a forced
// password change, a new account's initial password, logout, persons created
// (and one refused as a duplicate, one with a bad check digit), searched and
// checked by their full ID number, an ID number changed, a reveal, a CSV
// import — then its whole stdout/stderr and every audit row are searched for
// each password, session token, CSRF token, full ID number and bank account
// used. The test also makes sure those paths did run (audit rows exist), so
// an empty search cannot pass by accident.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { startServer, sql } from './lib.mjs';

const DONGHU = '330482001001';
const W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
function makeId(birth, seq) {
  const body = `330481${birth}${seq}`;
  let s = 0;
  for (let i = 0; i < 17; i++) s += Number(body[i]) * W[i];
  return body + '10X98765432'[s % 11];
}

test('no password, session token, CSRF token, full ID number or bank account in the logs or the audit trail', async () => {
  // Log everything the server can log.
  process.env.VETS_LOG_REQUESTS = '1';
  process.env.VETS_DEBUG = '1';
  const s = await startServer({ persons: 40, requests: 5 });
  const secrets = new Map();   // value → what it is
  const keep = (v, what) => { assert.ok(v && String(v).length >= 8, `${what}: ${v}`); secrets.set(String(v), what); };
  const keepSession = (c, who) => {
    keep(c.cookie.replace(/^vets_session=/, ''), `session token of ${who}`);
    keep(c.csrf, `CSRF token of ${who}`);
  };
  try {
    // Logins, right and wrong.
    for (const name of ['center', 'danghu', 'cun']) keep(s.accounts[name].password, `password of ${name}`);
    const center = await s.login('center'); keepSession(center, 'center');
    const danghu = await s.login('danghu'); keepSession(danghu, 'danghu');
    const wrong = 'Wr0ng#Secret-77';
    keep(wrong, 'a wrong password');
    assert.equal((await s.client().login('danghu', wrong)).status, 401);
    assert.equal((await s.client().login('no-such-user', wrong)).status, 401);
    // A password typed where the user name goes is logged as a user name by
    // any system; that one is not checked here.
    const cun = await s.login('cun'); keepSession(cun, 'cun');
    assert.equal((await cun.post('/api/v1/auth/logout')).status, 200);

    // The system administrator: initial password, forced change, a new account.
    keep(s.accounts.sysadmin.password, 'initial password of sysadmin');
    const sys = await s.login('sysadmin'); keepSession(sys, 'sysadmin (before the change)');
    const newPw = 'Qm4$Secret-Change9';
    keep(newPw, 'new password of sysadmin');
    const ch = await sys.post('/api/v1/auth/password', { old_password: s.accounts.sysadmin.password, new_password: newPw });
    assert.equal(ch.status, 200, JSON.stringify(ch.json));
    const sys2 = await s.login('sysadmin', newPw); keepSession(sys2, 'sysadmin');
    const station = (await sys2.get('/api/v1/stations')).json.items[0].id;
    const nu = await sys2.post('/api/v1/users', { username: 'clerk-secret', name: '测试员', station_id: station });
    assert.equal(nu.status, 201, JSON.stringify(nu.json));
    keep(nu.json.initial_password, 'initial password of a new account');
    const clerk = await s.login('clerk-secret', nu.json.initial_password); keepSession(clerk, 'clerk');

    // Persons with known ID numbers and a bank account.
    const ids = [makeId('19650203', '017'), makeId('19700405', '028'), makeId('19750607', '039'), makeId('19800809', '041')];
    ids.forEach((id, i) => keep(id, `ID number ${i}`));
    const bank = '6222020200112233445';
    keep(bank, 'bank account');
    const pids = [];
    for (const [i, id] of ids.slice(0, 3).entries()) {
      const body = { name: `密测${i}`, id_number: id, region_code: DONGHU };
      if (i === 0) Object.assign(body, { bank_name: '工商银行', bank_account: bank });
      const r = await center.post('/api/v1/persons', body);
      assert.equal(r.status, 201, JSON.stringify(r.json));
      pids.push(r.json.id);
    }
    assert.equal((await danghu.post('/api/v1/persons', { name: '重复', id_number: ids[1], region_code: DONGHU })).status, 409);
    const badCheck = ids[3].slice(0, 17) + (ids[3][17] === '0' ? '1' : '0');
    keep(badCheck, 'an ID number with a wrong check digit');
    assert.equal((await center.post('/api/v1/persons', { name: '错号', id_number: badCheck, region_code: DONGHU })).status, 422);
    // Search and check by the full number; change a number; reveal.
    const found = await danghu.get(`/api/v1/persons?q=${ids[2]}`);
    assert.equal(found.status, 200);
    assert.equal(found.json.total, 1);
    assert.equal((await center.post('/api/v1/persons/validate-id', { id_number: ids[0] })).json.valid, true);
    const p2 = await center.get(`/api/v1/persons/${pids[2]}`);
    const moved = await center.patch(`/api/v1/persons/${pids[2]}`, { version: p2.json.version, id_number: ids[3] });
    assert.equal(moved.status, 200, JSON.stringify(moved.json));
    const rv = await center.post(`/api/v1/persons/${pids[0]}/reveal`, { field: 'id_number', reason: '核对身份' });
    assert.equal(rv.status, 200);
    assert.equal(rv.json.value, ids[0]);
    const rb = await center.post(`/api/v1/persons/${pids[0]}/reveal`, { field: 'bank_account', reason: '核对账户' });
    assert.equal(rb.status, 200);
    assert.equal(rb.json.value, bank);
    // An import: one new row, one row with the number already filed.
    const impId = makeId('19850101', '053');
    keep(impId, 'ID number in an import');
    const csv = Buffer.from(`姓名,身份证号码,所属村社区\n导入甲,${impId},${DONGHU}\n导入乙,${ids[1]},${DONGHU}\n`, 'utf8');
    const pre = await center.upload('/api/v1/persons/import', csv, '名单.csv');
    assert.equal(pre.status, 200, JSON.stringify(pre.json));
    const com = await center.post(`/api/v1/persons/import/${pre.json.import_id}/commit`, { mode: 'valid' });
    assert.equal(com.status, 200, JSON.stringify(com.json));
    // A request about a registered person.
    const rq = await center.post('/api/v1/requests', { channel: '来访', category: '政策咨询', urgency: '普通', content: '咨询', person_id: pids[0] });
    assert.equal(rq.status, 201, JSON.stringify(rq.json));
    assert.equal((await center.post('/api/v1/auth/logout')).status, 200);
  } finally {
    await s.stop('SIGTERM');
    delete process.env.VETS_LOG_REQUESTS;
    delete process.env.VETS_DEBUG;
  }
  try {
    const logs = s.logs.join('');
    const rows = sql(s.dir, 'SELECT * FROM audit ORDER BY id');
    // The paths ran and were recorded.
    const events = new Set(rows.map((r) => r.event));
    for (const e of ['login.ok', 'login.failed', 'logout', 'person.create', 'person.update', 'person.reveal', 'user.create'])
      assert.ok(events.has(e), `audit has ${e} rows (events: ${[...events].join(' ')})`);
    assert.ok(logs.includes('POST /api/v1/persons'), 'request logging was on');
    const found = [];
    for (const [v, what] of secrets) {
      if (logs.includes(v)) found.push(`${what} in the server log`);
      for (const r of rows) if (JSON.stringify(r).includes(v)) { found.push(`${what} in audit row ${r.id} (${r.event})`); break; }
    }
    assert.deepEqual(found, [], `secrets leaked:\n${found.join('\n')}`);
    console.log(`secrets: ${secrets.size} values searched in ${logs.length} bytes of log and ${rows.length} audit rows, none found`);
  } finally {
    await s.cleanup();
  }
});
