// Encryption at rest of ID numbers and bank accounts (issue 8): SM4-CTR +
// HMAC-SM3 bound to the row and column, blind indexes for the search by the
// whole number and by its last 4/5/6 characters, keys in DATA/vets.keys
// (0400) and `vets rekey`. These tests look at bytes: the database file, its
// WAL, an online backup, the server's log and the audit trail must not hold
// any known number in clear; a sealed value moved to another row must not
// open; a rotation must leave nothing under the old key and lose nothing.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, existsSync, statSync, renameSync, chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createHmac, randomInt } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, launch, auditRows, vets, DB, sql as dbSql, sqlExec, dump } from './lib.mjs';
import { readXlsx } from './xlsx.mjs';

const P = '/api/v1/persons';
const DONGHU = '330482001001';   // 东湖社区, 当湖街道 (danghu's town)
const NANHE = '330482001002';    // 南河社区, 当湖街道
const SEALED = /^v1:[0-9a-f]{16}:[0-9a-f]{32}:[0-9a-f]+:[0-9a-f]{64}$/;
const KEYLINE = /^([0-9a-f]{16}):([0-9a-f]{32}):([0-9a-f]{64}):([0-9a-f]{64})$/;

// ---- helpers ----

// The data folder's database (either backend: lib.mjs), or a SQLite FILE in DIR (backups).
function sql(dir, query, file = 'vets.db') {
  if (file === 'vets.db') return dbSql(dir, query);
  const out = execFileSync('sqlite3', ['-json', join(dir, file), query], { encoding: 'utf8' });
  return out.trim() ? JSON.parse(out) : [];
}
const q1 = (dir, query) => { const r = sql(dir, query); return r.length ? Object.values(r[0])[0] : undefined; };

const W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
function checkChar(body17) {
  let s = 0;
  for (let i = 0; i < 17; i++) s += Number(body17[i]) * W[i];
  return '10X98765432'[s % 11];
}
// Fresh valid numbers under 330481 (never used by the demo generator).
let seq = 0;
function makeId({ birth = '19800101', male = true, endsX = false } = {}) {
  for (;;) {
    seq++;
    const n = String(((seq * 2) % 1000) + (male ? 1 : 0)).padStart(3, '0');
    const body = `330481${birth}${n}`;
    const id = body + checkChar(body);
    if (!endsX || id.endsWith('X')) return id;
  }
}
const maskOf = (id) => `${id.slice(0, 6)}********${id.slice(14)}`;
const bankNo = () => `6217${Array.from({ length: 15 }, () => randomInt(10)).join('')}`;

async function create(c, body) {
  const r = await c.post(P, body);
  assert.equal(r.status, 201, JSON.stringify(r.json));
  return r.json;
}
async function reveal(c, pid, field = 'id_number') {
  const r = await c.post(`${P}/${pid}/reveal`, { field, reason: '加密测试核对' });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json.value;
}
async function found(c, q) {
  const r = await c.get(`${P}?q=${encodeURIComponent(q)}&size=200`);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json.items.map((i) => i.id);
}
// Which of NEEDLES occur in BUF, byte for byte.
const inBytes = (buf, needles) => needles.filter((n) => buf.indexOf(Buffer.from(n, 'utf8')) >= 0);
const keyLines = (dir) => readFileSync(join(dir, 'vets.keys'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
const mode = (p) => statSync(p).mode & 0o777;

// Launching a server that must refuse to start: its exit and its output.
async function launchFails(dir) {
  try {
    const s = await launch(dir);
    await s.stop();
  } catch (e) {
    const m = /exited early: (\{[^}]*\})\n([\s\S]*)$/.exec(e.message);
    assert.ok(m, e.message);
    return { exit: JSON.parse(m[1]), out: m[2] };
  }
  assert.fail('the server started');
}

// TOTP (RFC 6238) codes, to enrol users whose sealed secrets `vets rekey` must carry over.
function unbase32(s) {
  const a = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0, buf = 0; const out = [];
  for (const ch of s) { buf = (buf << 5) | a.indexOf(ch); bits += 5; if (bits >= 8) { out.push((buf >> (bits - 8)) & 255); bits -= 8; } }
  return Buffer.from(out);
}
function totp(secret, step) {
  const msg = Buffer.alloc(8); msg.writeBigUInt64BE(BigInt(step));
  const md = createHmac('sha1', unbase32(secret)).update(msg).digest();
  const off = md[md.length - 1] & 15;
  return String(((md.readUInt32BE(off) & 0x7fffffff) % 1000000)).padStart(6, '0');
}

// ---- 1. nothing in clear ----

describe('nothing in clear: database, WAL, online backup, log and audit trail', () => {
  let s, d, center, work;
  const ids = [], banks = [], names = [];
  before(async () => {
    const prev = process.env.VETS_LOG_REQUESTS;
    process.env.VETS_LOG_REQUESTS = '1';      // every request in the log, not only the errors
    try { s = await startServer({ persons: 20 }); } finally {
      if (prev === undefined) delete process.env.VETS_LOG_REQUESTS; else process.env.VETS_LOG_REQUESTS = prev;
    }
    [d, center] = await Promise.all([s.login('danghu'), s.login('center')]);
    work = mkdtempSync(join(tmpdir(), 'vets-crypto-'));
  });
  after(async () => { await s?.cleanup(); if (work) rmSync(work, { recursive: true, force: true }); });

  it('files persons, household members, an edit and an import with known numbers; all read back', async () => {
    const [id1, id1b, id2, hid1, hid2] = [makeId({ birth: '19610101' }), makeId({ birth: '19610202' }),
      makeId({ birth: '19620303', endsX: true }), makeId({ birth: '19630404', male: false }), makeId({ birth: '20050505' })];
    const [b1, b1b, b2] = [bankNo(), bankNo(), bankNo()];
    const p1 = await create(d, { name: '明文甲', id_number: id1, region_code: DONGHU, bank_name: '农业银行', bank_account: b1,
      household: [{ relation: '配偶', name: '明文配偶', id_number: hid1 }] });
    const p2 = await create(d, { name: '明文乙', id_number: id2.toLowerCase(), region_code: NANHE, bank_account: b2 });
    const hh = await d.post(`${P}/${p2.id}/household`, { relation: '子女', name: '明文子', id_number: hid2 });
    assert.equal(hh.status, 201, JSON.stringify(hh.json));
    // An edit replaces both values of p1: the old ones must be gone as well.
    const e = await d.patch(`${P}/${p1.id}`, { version: p1.version, id_number: id1b, bank_account: b1b });
    assert.equal(e.status, 200, JSON.stringify(e.json));
    // An import (CSV, through preview and commit).
    const imp = [0, 1, 2].map((k) => ({ id: makeId({ birth: `1970010${k + 1}` }), bank: bankNo(), name: ['明文丙', '明文丁', '明文戊'][k] }));
    const csv = `姓名,身份证号码,所属村社区,开户银行,银行账号\n${imp.map((x) => `${x.name},${x.id},东湖社区,工商银行,${x.bank}`).join('\n')}\n`;
    const up = await d.upload(`${P}/import`, Buffer.from(csv, 'utf8'), '明文.csv');
    assert.equal(up.status, 200, JSON.stringify(up.json));
    assert.equal(up.json.new, 3, JSON.stringify(up.json.items));
    const cm = await d.post(`${P}/import/${up.json.import_id}/commit`, { mode: 'all' });
    assert.equal(cm.json.created, 3, JSON.stringify(cm.json));

    ids.push(id1, id1b, id2, hid1, hid2, ...imp.map((x) => x.id));
    banks.push(b1, b1b, b2, ...imp.map((x) => x.bank));
    names.push('明文甲', '明文乙', '明文配偶', '明文子', ...imp.map((x) => x.name));

    // Everything reads back through the ways a number travels: search by the
    // whole number and the last digits, validate-id, reveal, full export.
    const want = [[p1.id, id1b, b1b], [p2.id, id2, b2]];
    for (const x of imp) {
      const [pid] = await found(center, x.id);
      assert.ok(pid, `${x.name} imported`);
      want.push([pid, x.id, x.bank]);
    }
    for (const [pid, id, bank] of want) {
      assert.deepEqual(await found(center, id), [pid]);
      assert.ok((await found(d, id.slice(-4).toLowerCase())).includes(pid));
      assert.equal(await reveal(d, pid), id);
      assert.equal(await reveal(d, pid, 'bank_account'), bank);
      assert.equal((await d.post(`${P}/validate-id`, { id_number: id })).json.existing_id, pid);
    }
    assert.deepEqual(await found(center, id1), [], 'the replaced number is not found any more');
    const x = readXlsx((await center.get(`${P}/export.xlsx?full=1&region=330482001000`)).body);
    const flat = x.rows.flat();
    for (const [, id, bank] of want) assert.ok(flat.includes(id) && flat.includes(bank), 'full export has the values');
  });

  it('the database file and its WAL hold none of them while the server runs', () => {
    if (DB === 'pg') {
      // PostgreSQL's files are the server's: the logical content is checked.
      const d = dump(s.dir);
      assert.deepEqual([...ids, ...banks].filter((v) => d.includes(v)), [], 'in pg_dump');
      assert.ok(d.includes('明文甲'));
      return;
    }
    const db = readFileSync(join(s.dir, 'vets.db'));
    assert.ok(existsSync(join(s.dir, 'vets.db-wal')), 'the WAL exists while the server runs');
    const wal = readFileSync(join(s.dir, 'vets.db-wal'));
    assert.ok(wal.length > 0, 'the WAL holds the recent writes');
    assert.deepEqual(inBytes(db, [...ids, ...banks]), [], 'in vets.db');
    assert.deepEqual(inBytes(wal, [...ids, ...banks]), [], 'in vets.db-wal');
    // The search really sees the files: the names and masked forms are there.
    const both = Buffer.concat([db, wal]);
    assert.deepEqual(inBytes(both, names), names);
    assert.deepEqual(inBytes(both, ids.map(maskOf)), ids.map(maskOf));
    // And the logical content (what any SQLite reader gets) too.
    const text = dump(s.dir);
    assert.deepEqual([...ids, ...banks].filter((v) => text.includes(v)), [], 'in the SQL dump');
    assert.ok(text.includes('明文甲'));
  });

  it('an online backup (vets backup while the server runs) holds none of them', { skip: DB === 'pg' && 'SQLite backups; PostgreSQL is backed up with its own tools' }, () => {
    const out = join(work, 'backup.db');
    vets(['backup', '--data', s.dir, '--out', out]);
    assert.ok(existsSync(out));
    const b = readFileSync(out);
    assert.deepEqual(inBytes(b, [...ids, ...banks]), [], 'in the backup');
    assert.deepEqual(inBytes(b, names), names, 'the backup holds the persons');
    for (const f of [`${out}-wal`, `${out}-journal`]) if (existsSync(f)) assert.deepEqual(inBytes(readFileSync(f), [...ids, ...banks]), []);
    // The sealed values are there, and no key material.
    const rows = sql(work, "SELECT id_enc, bank_enc FROM persons WHERE name LIKE '明文%'", 'backup.db');
    assert.equal(rows.length, 5);
    for (const r of rows) { assert.match(r.id_enc, SEALED); assert.match(r.bank_enc, SEALED); }
    const key = keyLines(s.dir)[0].match(KEYLINE).slice(2);
    for (const buf of [b, readFileSync(join(s.dir, 'vets.db')), readFileSync(join(s.dir, 'vets.db-wal'))]) {
      assert.deepEqual(inBytes(buf, key), [], 'no key (hex) in the database, WAL or backup');
      assert.ok(key.every((k) => buf.indexOf(Buffer.from(k, 'hex')) < 0), 'no key (raw) in the database, WAL or backup');
    }
  });

  it('neither the server log nor the audit trail mention them', async () => {
    const log = s.logs.join('');
    assert.match(log, /\/api\/v1\/persons/, 'requests are logged');
    assert.deepEqual([...ids, ...banks].filter((v) => log.includes(v)), [], 'in the log');
    const rows = auditRows(s.dir);
    const detail = sql(s.dir, 'SELECT detail FROM audit WHERE detail IS NOT NULL').map((r) => r.detail).join('\n');
    assert.ok(rows.some((r) => r.event === 'person.reveal') && rows.some((r) => r.event === 'person.update'));
    assert.ok(detail.includes(maskOf(ids[1])), 'the audit has the masked form');
    assert.deepEqual([...ids, ...banks].filter((v) => detail.includes(v) || JSON.stringify(rows).includes(v)), [], 'in the audit trail');
    // The history of the edit is masked too.
    const hist = sql(s.dir, 'SELECT before, after FROM person_history').map((r) => `${r.before} ${r.after}`).join('\n');
    assert.deepEqual([...ids, ...banks].filter((v) => hist.includes(v)), []);
  });
});

// ---- 2. the key file ----

describe('the key file', () => {
  let s, dir, pid, id;
  before(async () => {
    s = await startServer({ persons: 5 });
    dir = s.dir;
    id = makeId({ birth: '19720707' });
    pid = (await create(await s.login('danghu'), { name: '钥匙', id_number: id, region_code: DONGHU })).id;
  });
  after(async () => { await s?.cleanup(); });

  it('is created with a new data folder, mode 0400, one key whose id seals the values', () => {
    const p = join(dir, 'vets.keys');
    assert.ok(existsSync(p));
    assert.equal(mode(p), 0o400);
    const lines = keyLines(dir);
    assert.equal(lines.length, 1);
    const [, kid] = lines[0].match(KEYLINE);
    const kids = sql(dir, 'SELECT DISTINCT substr(id_enc, 4, 16) AS k FROM persons').map((r) => r.k);
    assert.deepEqual(kids, [kid]);
  });

  it('missing, with persons on file: the server refuses to start and makes no new key', async () => {
    await s.stop();
    renameSync(join(dir, 'vets.keys'), join(dir, 'keys.bak'));
    const { exit, out } = await launchFails(dir);
    assert.notEqual(exit.code, 0);
    assert.match(out, /密钥文件.*不存在/);
    assert.match(out, /恢复/);
    assert.ok(!existsSync(join(dir, 'vets.keys')), 'no fresh key was written');
    // Nor do the other commands that need it.
    for (const args of [['rekey', '--data', dir], ['import', 'persons', '--data', dir, join(dir, 'none.csv')]]) {
      let err = null;
      try { vets(args); } catch (e) { err = e; }
      assert.ok(err, args[0]);
      assert.notEqual(err.status, 0);
      assert.match(err.stderr, /密钥文件.*不存在/);
    }
    assert.ok(!existsSync(join(dir, 'vets.keys')));
  });

  it('too open (0644): refused; back at 0400 everything opens again', async () => {
    renameSync(join(dir, 'keys.bak'), join(dir, 'vets.keys'));
    chmodSync(join(dir, 'vets.keys'), 0o644);
    const { exit, out } = await launchFails(dir);
    assert.notEqual(exit.code, 0);
    assert.match(out, /权限/);
    chmodSync(join(dir, 'vets.keys'), 0o400);
    s = await launch(dir);
    const d = await s.login('danghu');
    assert.equal(await reveal(d, pid), id);
    assert.deepEqual(await found(d, id), [pid]);
  });
});

// ---- 3. a sealed value moved to another row ----

describe('a sealed value copied to another row does not open', () => {
  let s, dir, d, center, A, B, C, D, E, idA, idB, idC, bankA, bankB, bankC, hidA, hidB, mA, mB;
  before(async () => {
    s = await startServer({ persons: 10 });
    dir = s.dir;
    [d, center] = await Promise.all([s.login('danghu'), s.login('center')]);
    [idA, idB, idC, hidA, hidB] = ['19800808', '19810909', '19821010', '19831111', '19841212'].map((birth) => makeId({ birth }));
    [bankA, bankB, bankC] = [bankNo(), bankNo(), bankNo()];
    A = await create(d, { name: '甲本人', id_number: idA, region_code: DONGHU, bank_account: bankA,
      household: [{ relation: '配偶', name: '甲配偶', id_number: hidA }] });
    B = await create(d, { name: '乙本人', id_number: idB, region_code: DONGHU, bank_account: bankB,
      household: [{ relation: '配偶', name: '乙配偶', id_number: hidB }] });
    C = await create(d, { name: '丙本人', id_number: idC, region_code: DONGHU, bank_account: bankC });
    D = await create(d, { name: '丁本人', id_number: makeId({ birth: '19851212' }), region_code: DONGHU, bank_account: bankNo() });
    E = await create(d, { name: '戊本人', id_number: makeId({ birth: '19861212' }), region_code: DONGHU });
    [mA, mB] = [A.household[0].id, B.household[0].id];
    await s.stop();
    // With the server stopped: B gets A's sealed number, C A's sealed bank
    // account, B's spouse A's spouse's sealed number, D garbage and a cut
    // value, E its own value with two characters appended after the MAC.
    sqlExec(dir, `
      UPDATE persons SET id_enc = (SELECT id_enc FROM persons WHERE id = ${A.id}) WHERE id = ${B.id};
      UPDATE persons SET bank_enc = (SELECT bank_enc FROM persons WHERE id = ${A.id}) WHERE id = ${C.id};
      UPDATE household_members SET id_enc = (SELECT id_enc FROM household_members WHERE id = ${mA}) WHERE id = ${mB};
      UPDATE persons SET id_enc = 'not a sealed value', bank_enc = substr(bank_enc, 1, 60) WHERE id = ${D.id};
      UPDATE persons SET id_enc = id_enc || 'ab' WHERE id = ${E.id};`);
  });
  after(async () => { await s?.cleanup(); });

  it('`vets rekey` refuses to rotate over a value that does not open, and changes nothing', () => {
    const before = sql(dir, 'SELECT id, id_enc, bank_enc FROM persons ORDER BY id');
    let err = null;
    try { vets(['rekey', '--data', dir]); } catch (e) { err = e; }
    assert.ok(err, 'rekey must fail');
    assert.notEqual(err.status, 0);
    assert.match(err.stderr, /无法解开/);
    assert.deepEqual(sql(dir, 'SELECT id, id_enc, bank_enc FROM persons ORDER BY id'), before);
    // The new key was added and the old one kept: both open.
    assert.equal(keyLines(dir).length, 2);
  });

  it('the detail shows B\'s own masked number, never A\'s; reveal answers a clear error; the server logs it', async () => {
    s = await launch(dir);
    [d, center] = await Promise.all([s.login('danghu'), s.login('center')]);
    const g = await d.get(`${P}/${B.id}`);
    assert.equal(g.status, 200, JSON.stringify(g.json));
    assert.equal(g.json.id_number, maskOf(idB));
    assert.deepEqual(g.json.integrity_errors, ['id_number']);
    assert.equal(g.json.bank_account, `***************${bankB.slice(-4)}`, 'B\'s own bank account still opens');
    const text = g.body.toString('utf8');
    assert.ok(!text.includes(idA) && !text.includes(maskOf(idA)), 'nothing of A in B\'s detail');
    assert.match(g.json.household[0].id_number, /^\d{6}\*{8}[\dX]{4}$/);
    assert.equal(g.json.household[0].id_number, maskOf(hidB));

    const r = await d.post(`${P}/${B.id}/reveal`, { field: 'id_number', reason: '核对篡改' });
    assert.equal(r.status, 500);
    assert.equal(r.json.error.code, 'integrity');
    assert.match(r.json.error.message, /加密数据校验失败/);
    assert.equal(r.json.value, undefined);
    assert.ok(!r.body.toString('utf8').includes(idA));
    assert.equal(await reveal(d, B.id, 'bank_account'), bankB);
    const a = auditRows(dir, `event = 'person.reveal' AND object_id = '${B.id}' AND result = 'failed'`);
    assert.equal(a.length, 1);
    assert.equal(JSON.parse(a[0].detail).error, 'integrity');
    assert.match(s.logs.join(''), new RegExp(`加密数据校验失败：人员档案 ${B.id} 的 id_number`));
    assert.ok(!s.logs.join('').includes(idA));

    // A is untouched; each number still finds its own file (blind indexes).
    assert.equal(await reveal(d, A.id), idA);
    assert.deepEqual(await found(d, idA), [A.id]);
    assert.deepEqual(await found(d, idB), [B.id]);
    assert.ok((await found(d, idB.slice(-6))).includes(B.id));
    const list = await d.get(`${P}?q=${encodeURIComponent('乙本人')}`);
    assert.equal(list.json.items[0].id_number, maskOf(idB));

    // C: a bank account copied from A does not open either.
    const gc = await d.get(`${P}/${C.id}`);
    assert.equal(gc.json.bank_account, null);
    assert.deepEqual(gc.json.integrity_errors, ['bank_account']);
    assert.ok(!gc.body.toString('utf8').includes(bankA.slice(-4)));
    assert.equal((await d.post(`${P}/${C.id}/reveal`, { field: 'bank_account', reason: '核对篡改' })).status, 500);
    assert.equal(await reveal(d, C.id), idC);
    // D: garbage and a cut value answer the same, the server keeps serving.
    const gd = await d.get(`${P}/${D.id}`);
    assert.equal(gd.status, 200);
    assert.deepEqual(gd.json.integrity_errors, ['id_number', 'bank_account']);
    for (const field of ['id_number', 'bank_account']) {
      assert.equal((await d.post(`${P}/${D.id}/reveal`, { field, reason: '核对篡改' })).status, 500);
    }
    assert.deepEqual((await d.get(`${P}/${E.id}`)).json.integrity_errors, ['id_number'], 'nothing may follow the MAC');
    assert.equal((await d.post(`${P}/${E.id}/reveal`, { field: 'id_number', reason: '核对篡改' })).status, 500);
    // The full export says so in the cell, never blank, never A's value.
    const x = readXlsx((await center.get(`${P}/export.xlsx?full=1&region=${DONGHU}`)).body);
    const ci = x.rows[0].indexOf('身份证号码'), bi = x.rows[0].indexOf('银行账号');
    const row = (pid) => x.rows.find((rr) => Number(rr[0]) === pid);
    assert.equal(row(B.id)[ci], '（加密数据校验失败）');
    assert.equal(row(C.id)[bi], '（加密数据校验失败）');
    assert.equal(row(A.id)[ci], idA);
    assert.equal(s.exited, null);
  });

  it('an edit never writes the broken value back as empty; giving the value anew repairs it', async () => {
    const encB = q1(dir, `SELECT id_enc FROM persons WHERE id = ${B.id}`);
    let r = await d.patch(`${P}/${B.id}`, { version: B.version, phone: '13900000001' });
    assert.equal(r.status, 500);
    assert.equal(r.json.error.code, 'integrity');
    assert.match(r.json.error.message, /加密数据校验失败.*身份证号码/);
    assert.deepEqual(sql(dir, `SELECT version, id_enc, phone FROM persons WHERE id = ${B.id}`)[0], { version: B.version, id_enc: encB, phone: null });
    r = await d.patch(`${P}/${C.id}`, { version: C.version, phone: '13900000002' });
    assert.equal(r.status, 500, 'the bank account would have been erased');
    assert.equal(q1(dir, `SELECT version FROM persons WHERE id = ${C.id}`), C.version);
    // Nor does an import row that leaves the cell blank.
    const up = await d.upload(`${P}/import`, Buffer.from(`姓名,身份证号码,所属村社区,联系电话\n丙本人,${idC},东湖社区,13900000003\n`), 'c.csv');
    assert.equal(up.status, 200, JSON.stringify(up.json));
    assert.deepEqual([up.json.update, up.json.error], [0, 1], JSON.stringify(up.json.items));
    assert.match(up.json.items[0].errors[0].message, /加密数据校验失败.*银行账号/);
    // The repair: the right values given anew.
    r = await d.patch(`${P}/${B.id}`, { version: B.version, id_number: idB });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.integrity_errors, undefined);
    assert.equal(await reveal(d, B.id), idB);
    const nb = bankNo();
    r = await d.patch(`${P}/${C.id}`, { version: C.version, bank_account: nb });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(await reveal(d, C.id, 'bank_account'), nb);
    // The household member: same rules.
    r = await d.patch(`${P}/${B.id}/household/${mB}`, { note: '改备注' });
    assert.equal(r.status, 500);
    assert.equal(r.json.error.field, 'id_number');
    assert.equal(q1(dir, `SELECT id_enc FROM household_members WHERE id = ${mB}`), q1(dir, `SELECT id_enc FROM household_members WHERE id = ${mA}`));
    r = await d.patch(`${P}/${B.id}/household/${mB}`, { id_number: hidB, note: '重新录入' });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    r = await d.patch(`${P}/${B.id}/household/${mB}`, { sex: '2' });
    assert.equal(r.status, 422, 'the number opens again: a contradicting sex is refused');
    assert.equal(s.exited, null);
  });
});

// ---- 4. search by the last digits, and key rotation ----

describe('search by the last 4, 5, 6 characters and `vets rekey`', () => {
  let s, dir, center, danghu, zhapuPw, danghuPw, secret, zSecret, oldKid;
  const people = [];   // { pid, id, bank }
  let member;

  async function checkAll(c) {
    for (const p of people) {
      assert.equal(await reveal(c, p.pid), p.id);
      if (p.bank) assert.equal(await reveal(c, p.pid, 'bank_account'), p.bank);
      assert.deepEqual(await found(c, p.id), [p.pid], `whole number ${p.id}`);
      assert.deepEqual(await found(c, p.id.toLowerCase()), [p.pid]);
      for (const n of [4, 5, 6]) {
        const tail = p.id.slice(-n);
        for (const typed of [tail, tail.toLowerCase()]) {
          const got = await found(c, typed);
          assert.ok(got.includes(p.pid), `last ${n} (${typed}) finds ${p.id}`);
        }
      }
    }
    // Each tail length finds exactly the numbers that share it.
    const [x, y] = [people[0], people[1]];
    assert.ok(!(await found(c, x.id.slice(-4))).includes(y.pid));
  }

  before(async () => {
    s = await startServer({ persons: 20 });
    dir = s.dir;
    [center, danghu] = await Promise.all([s.login('center'), s.login('danghu')]);
    const specs = [{ birth: '19550505', endsX: true, bank: true }, { birth: '19560606' }, { birth: '19570707', male: false, bank: true }];
    for (const [k, sp] of specs.entries()) {
      const id = makeId(sp), bank = sp.bank ? bankNo() : null;
      const p = await create(danghu, { name: `轮换${k}`, id_number: k === 0 ? id.toLowerCase() : id, region_code: DONGHU,
        ...(bank ? { bank_account: bank } : {}) });
      people.push({ pid: p.id, id, bank });
    }
    assert.ok(people[0].id.endsWith('X'));
    // A number sharing the last 4 characters of the X one but not the 5th: the tails must keep them apart.
    const body = people[0].id.slice(0, 17);
    for (let day = 10; day <= 28 && people.length < 4; day++) {
      for (let m = 1; m <= 12 && people.length < 4; m++) {
        const cand = `${body.slice(0, 10)}${String(m).padStart(2, '0')}${day}${body.slice(14)}`;
        const id = cand + checkChar(cand);
        if (id.slice(-4) === people[0].id.slice(-4) && id[13] !== people[0].id[13]) {
          const p = await create(danghu, { name: '轮换近邻', id_number: id, region_code: NANHE });
          people.push({ pid: p.id, id, bank: null });
        }
      }
    }
    assert.equal(people.length, 4, 'a neighbour sharing the last 4');
    const hid = makeId({ birth: '19580808', male: false });
    const h = await danghu.post(`${P}/${people[1].pid}/household`, { relation: '配偶', name: '轮换配偶', id_number: hid });
    assert.equal(h.status, 201);
    member = { id: h.json.household[0].id, pid: people[1].pid, hid };
    // Second factors are sealed with the same keys: danghu enrolled, zhapu half way (pending).
    danghuPw = s.accounts.danghu.password; zhapuPw = s.accounts.zhapu.password;
    const now = (await s.client().post('/api/v1/test/clock', { offset_seconds: 0 })).json.now;
    secret = (await danghu.post('/api/v1/auth/totp/setup', {})).json.secret;
    assert.equal((await danghu.post('/api/v1/auth/totp/confirm', { code: totp(secret, Math.floor(now / 30)) })).status, 200);
    const zhapu = await s.login('zhapu');
    zSecret = (await zhapu.post('/api/v1/auth/totp/setup', {})).json.secret;
    assert.ok(zSecret);
  });
  after(async () => { await s?.cleanup(); });

  it('before the rotation: reveal, whole number, last 4/5/6 (x typed lower-case)', async () => {
    await checkAll(center);
    const x = people[0].id;
    // The neighbour shares the last 4 but not the last 5.
    assert.ok((await found(center, x.slice(-4).toLowerCase())).includes(people[3].pid));
    assert.ok(!(await found(center, x.slice(-5).toLowerCase())).includes(people[3].pid));
    assert.ok(!(await found(center, x.slice(-6))).includes(people[3].pid));
  });

  it('refuses to rotate while the server runs', async () => {
    const keysBefore = keyLines(dir);
    const encBefore = sql(dir, 'SELECT id, id_enc FROM persons ORDER BY id');
    let err = null;
    try { vets(['rekey', '--data', dir]); } catch (e) { err = e; }
    assert.ok(err, 'rekey must refuse');
    assert.match(err.stderr, /停止服务/);
    assert.deepEqual(sql(dir, 'SELECT id, id_enc FROM persons ORDER BY id'), encBefore);
    // The running server's key is still in the file (a new one may have been added, nothing removed).
    for (const l of keysBefore) assert.ok(keyLines(dir).includes(l));
    assert.equal(await reveal(center, people[1].pid), people[1].id);
  });

  it('`vets rekey` on the stopped server re-seals every value under a new key and removes the old one', async () => {
    await s.stop();
    const lines = keyLines(dir);
    oldKid = lines[0].match(KEYLINE)[1];
    const before = sql(dir, 'SELECT id, id_enc, bank_enc, id_hash, id_masked, id_tail4, id_tail5, id_tail6 FROM persons ORDER BY id');
    const hBefore = sql(dir, 'SELECT id, id_enc, id_hash, id_masked FROM household_members WHERE id_enc IS NOT NULL ORDER BY id');
    const out = vets(['rekey', '--data', dir]);
    assert.match(out, /密钥已轮换/);
    // The key file: one key, a new id, still 0400.
    const after = keyLines(dir);
    assert.equal(after.length, 1);
    const newKid = after[0].match(KEYLINE)[1];
    assert.notEqual(newKid, oldKid);
    assert.equal(mode(join(dir, 'vets.keys')), 0o400);
    // Every sealed value starts with the new key id; the blind indexes and masked forms stay.
    const rows = sql(dir, 'SELECT id, id_enc, bank_enc, id_hash, id_masked, id_tail4, id_tail5, id_tail6 FROM persons ORDER BY id');
    assert.equal(rows.length, before.length);
    for (const [i, r] of rows.entries()) {
      assert.ok(r.id_enc.startsWith(`v1:${newKid}:`), r.id_enc);
      assert.match(r.id_enc, SEALED);
      assert.notEqual(r.id_enc, before[i].id_enc);
      if (before[i].bank_enc) assert.ok(r.bank_enc.startsWith(`v1:${newKid}:`));
      else assert.equal(r.bank_enc, null);
      for (const k of ['id_hash', 'id_masked', 'id_tail4', 'id_tail5', 'id_tail6']) assert.equal(r[k], before[i][k]);
    }
    const hRows = sql(dir, 'SELECT id, id_enc, id_hash, id_masked FROM household_members WHERE id_enc IS NOT NULL ORDER BY id');
    assert.equal(hRows.length, hBefore.length);
    for (const r of hRows) assert.ok(r.id_enc.startsWith(`v1:${newKid}:`));
    const totps = sql(dir, "SELECT totp_secret, totp_pending FROM users WHERE username IN ('danghu', 'zhapu') ORDER BY username");
    assert.ok(totps[0].totp_secret.startsWith(`v1:${newKid}:`), 'danghu\'s second factor re-sealed');
    assert.ok(totps[1].totp_pending.startsWith(`v1:${newKid}:`), 'zhapu\'s pending enrolment re-sealed');
    const n = Number(/重新加密 (\d+) 个/.exec(out)[1]);
    assert.equal(n, rows.length + hRows.length + 2);
    // The old key id appears nowhere: not in any value, not in the file's bytes.
    const text = dump(dir);
    assert.ok(!text.includes(oldKid), 'old key id in the database');
    assert.ok(text.includes(newKid));
    for (const f of ['vets.db', 'vets.db-wal']) {
      if (existsSync(join(dir, f))) assert.deepEqual(inBytes(readFileSync(join(dir, f)), [oldKid]), [], f);
    }
    // Audited, and the chain holds.
    const a = auditRows(dir, "event = 'system.rekey'");
    assert.equal(a.length, 1);
    assert.equal(a[0].object_id, newKid);
    assert.equal(JSON.parse(a[0].detail).values, n);
    vets(['audit', 'verify', '--data', dir]);
  });

  it('after the restart: reveal, search by the whole number and the last digits, duplicates, second factors', async () => {
    s = await launch(dir);
    center = await s.login('center');
    await checkAll(center);
    // Duplicates are still found (the index key did not change).
    const dup = await center.post(P, { name: '重复', id_number: people[1].id, region_code: DONGHU });
    assert.equal(dup.status, 409);
    assert.equal(dup.json.error.existing_id, people[1].pid);
    // The household member's number opens under the new key.
    const hm = await center.patch(`${P}/${member.pid}/household/${member.id}`, { sex: '1' });
    assert.equal(hm.status, 422, 'the member\'s number opens: a contradicting sex is refused');
    // A new file is sealed with the new key.
    const kid = keyLines(dir)[0].match(KEYLINE)[1];
    const np = await create(center, { name: '轮换后', id_number: makeId({ birth: '19590909' }), region_code: DONGHU, bank_account: bankNo() });
    assert.ok(q1(dir, `SELECT id_enc FROM persons WHERE id = ${np.id}`).startsWith(`v1:${kid}:`));
    // danghu's second factor still works; zhapu's pending enrolment can be confirmed.
    const now = (await s.client().post('/api/v1/test/clock', { offset_seconds: 120 })).json.now;
    const c = s.client();
    const noCode = await c.login('danghu', danghuPw);
    assert.equal(noCode.status, 401);
    const ok = await c.login('danghu', danghuPw, { totp: totp(secret, Math.floor(now / 30)) });
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    const z = await s.login('zhapu', zhapuPw);
    const zc = await z.post('/api/v1/auth/totp/confirm', { code: totp(zSecret, Math.floor(now / 30)) });
    assert.equal(zc.status, 200, JSON.stringify(zc.json));
    await s.client().post('/api/v1/test/clock', { offset_seconds: 0 });
    vets(['audit', 'verify', '--data', dir]);
  });
});
