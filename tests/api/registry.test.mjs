// API tests of the registry (人员档案, issue 3): ID rules, duplicates,
// optimistic concurrency and field history, masking and reveal, jurisdiction,
// search, categories and households, import (preview/commit/error sheet, real
// .xlsx and GBK/BOM .csv built here), export and the command-line import.
// Every test checks what was stored (sqlite3 on the data folder) and audited,
// not only the status code. One server per describe block. ID numbers and bank
// accounts are sealed at rest (SM4 + HMAC-SM3, no clear copy in the database):
// their stored values are read back through the API (search by the full
// number goes through the blind index, reveal opens the sealed value) and the
// database is checked for the sealed form and the masked copy.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, launch, auditRows, BIN, sql, dbArgs } from './lib.mjs';
import { makeXlsx, readXlsx, isXlsx } from './xlsx.mjs';

const P = '/api/v1/persons';
const MASKED = /^\d{6}\*{8}[\dX]{4}$/;
const CHINESE = /[\u4e00-\u9fff]/;

// Villages of the demo network (data/regions + demo villages).
const DONGHU = '330482001001';   // 东湖社区, 当湖街道 — the station of `cun`
const NANHE = '330482001002';    // 南河社区, 当湖街道
const HAIBIN = '330482101001';   // 海滨社区, 乍浦镇
const DANGHU_TOWN = ['330482001000', '330482001999'];

// ---- helpers ----

const q1 = (dir, query) => { const r = sql(dir, query); return r.length ? Object.values(r[0])[0] : undefined; };
const lit = (s) => `'${String(s).replace(/'/g, "''")}'`;
const countPersons = (dir) => q1(dir, 'SELECT COUNT(*) FROM persons');

const W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
function checkChar(body17) {
  let s = 0;
  for (let i = 0; i < 17; i++) s += Number(body17[i]) * W[i];
  return '10X98765432'[s % 11];
}
// A valid, fresh ID number. Prefix 330481 (海宁) is never used by the demo
// generator (330482/330422/332122), so no clash with demo persons.
let idSeq = 0;
function makeId({ prefix = '330481', birth = '19800101', male = true } = {}) {
  idSeq++;
  const seq = String(((idSeq * 2) % 1000) + (male ? 1 : 0)).padStart(3, '0');
  const body = `${prefix}${birth}${seq}`;
  return body + checkChar(body);
}
const wrongCheck = (id) => id.slice(0, 17) + (id[17] === '0' ? '1' : '0');
const fullWidth = (s) => s.replace(/[0-9]/g, (d) => String.fromCharCode(0xFF10 + Number(d))).replace(/X/g, 'Ｘ');

function errOf(r) { return r.json?.error ?? {}; }
function assertError(r, status, field, codeRe) {
  assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${JSON.stringify(r.json)}`);
  const e = errOf(r);
  if (field !== undefined) assert.equal(e.field, field, JSON.stringify(e));
  if (codeRe) assert.match(e.code, codeRe);
  assert.match(e.message ?? '', CHINESE, `message should be Chinese: ${e.message}`);
  return e;
}

async function create(c, body, expect = 201) {
  const r = await c.post(P, body);
  assert.equal(r.status, expect, JSON.stringify(r.json));
  return r.json;
}

function lastAudit(dir, where) { const rows = auditRows(dir, where); return rows[rows.length - 1]; }

// ---- sealed ID numbers, read back through the API ----

const SEALED = /^v1:[0-9a-f]{16}:[0-9a-f]{32}:[0-9a-f]+:[0-9a-f]{64}$/;
const maskOf = (id) => `${id.slice(0, 6)}********${id.slice(14)}`;
// Persons whose stored number is ID, as C sees them (search by the whole number).
async function findById(c, id) {
  const r = await c.get(`${P}?q=${encodeURIComponent(id)}&size=200`);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(r.json.total, r.json.items.length);
  return r.json.items;
}
// The one person filed under ID (undefined if none).
async function pidOf(c, id) {
  const items = await findById(c, id);
  assert.ok(items.length <= 1, `${items.length} persons with one ID number`);
  return items[0]?.id;
}
async function reveal(c, pid, field = 'id_number') {
  const r = await c.post(`${P}/${pid}/reveal`, { field, reason: '测试核对存储值' });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json.value;
}
// The stored ID number of person PID: sealed in the database with its masked
// copy beside it, and the full value through reveal (C needs person.reveal).
async function storedId(dir, c, pid) {
  const row = sql(dir, `SELECT id_enc, id_masked FROM persons WHERE id = ${pid}`)[0];
  assert.ok(row, `person ${pid} stored`);
  assert.match(row.id_enc, SEALED);
  const v = await reveal(c, pid);
  assert.equal(row.id_masked, maskOf(v));
  assert.ok(!row.id_enc.includes(v), 'no clear value in the sealed column');
  return v;
}
// Full ID numbers by person id, from the centre's full export (an independent
// path: the export opens every sealed value, the search uses the blind index).
async function fullNumbers(c, query) {
  const r = await c.get(`${P}/export.xlsx?full=1&${query}`);
  assert.equal(r.status, 200);
  const x = readXlsx(r.body);
  const ci = x.rows[0].indexOf('身份证号码');
  return new Map(x.rows.slice(1).map((row) => [Number(row[0]), row[ci]]));
}

// ---- 1. ID rules ----

describe('ID numbers (GB 11643) through create and validate-id', () => {
  let s, d, center;
  before(async () => { s = await startServer({ persons: 300 }); [d, center] = await Promise.all([s.login('danghu'), s.login('center')]); });
  after(async () => { await s?.cleanup(); });

  it('accepts the RULES.md vectors; the region code, not the number, decides jurisdiction', async () => {
    for (const [id, sex, birth] of [['11010519491231002X', '2', '1949-12-31'], ['34052419800101001X', '1', '1980-01-01']]) {
      const v = await d.post(`${P}/validate-id`, { id_number: id });
      assert.equal(v.status, 200);
      assert.equal(v.json.valid, true, JSON.stringify(v.json));
      assert.equal(v.json.normalized, id);
      assert.equal(v.json.sex, sex);
      assert.equal(v.json.birth_date, birth);
    }
    // 110105 (Beijing) and 340524 (Anhui) numbers filed in a Pinghu village.
    const p = await create(d, { name: '北京人', id_number: '11010519491231002X', region_code: DONGHU });
    assert.equal(p.region_code, DONGHU);
    assert.equal(p.town_code, '330482001000');
    assert.equal(p.sex, '2');
    assert.equal(p.birth_date, '1949-12-31');
    const row = sql(s.dir, `SELECT id_masked, sex, birth_date, region_code, id_tail4, id_tail5, id_tail6 FROM persons WHERE id = ${p.id}`)[0];
    assert.deepEqual([row.id_masked, row.sex, row.birth_date, row.region_code], ['110105********002X', '2', '1949-12-31', DONGHU]);
    assert.equal(await storedId(s.dir, d, p.id), '11010519491231002X');
    // The last digits are blind indexes (no clear digits stored), and they find the file.
    for (const k of ['id_tail4', 'id_tail5', 'id_tail6']) assert.match(row[k], /^[0-9a-f]{32}$/, k);
    for (const tail of ['002X', '002x', '1002X', '31002x']) {
      const r = await d.get(`${P}?q=${tail}&size=200`);
      assert.ok(r.json.items.some((i) => i.id === p.id), `found by ${tail}`);
    }
    const g = await d.get(`${P}/${p.id}`);
    assert.equal(g.status, 200);
    assert.equal(g.json.region_name, '东湖社区');
  });

  it('refuses a wrong check digit with 422 on id_number and a Chinese message, storing nothing', async () => {
    const bad = wrongCheck(makeId());
    const v = await d.post(`${P}/validate-id`, { id_number: bad });
    assert.equal(v.status, 200);
    assert.equal(v.json.valid, false);
    assert.match(v.json.message, /校验/);
    const before = countPersons(s.dir);
    const r = await d.post(P, { name: '错号码', id_number: bad, region_code: DONGHU });
    const e = assertError(r, 422, 'id_number', /validation/);
    assert.match(e.message, /校验位/);
    assert.equal(countPersons(s.dir), before);
    assert.equal(q1(s.dir, `SELECT COUNT(*) FROM persons WHERE name = '错号码'`), 0);
  });

  it('stores a lower-case x upper-case', async () => {
    const p = await create(d, { name: '小写叉', id_number: '34052419800101001x', region_code: DONGHU });
    assert.equal(await storedId(s.dir, d, p.id), '34052419800101001X');
    assert.equal(await pidOf(d, '34052419800101001x'), p.id);
    assert.equal(p.id_number, '340524********001X');
    assert.equal(p.sex, '1');
    assert.equal(p.birth_date, '1980-01-01');
  });

  it('normalises full-width digits (and a full-width Ｘ)', async () => {
    let id;
    do id = makeId({ birth: '19750315' }); while (!id.endsWith('X'));
    const v = await d.post(`${P}/validate-id`, { id_number: fullWidth(id) });
    assert.equal(v.json.valid, true, JSON.stringify(v.json));
    assert.equal(v.json.normalized, id);
    const p = await create(d, { name: '全角号', id_number: fullWidth(id), region_code: DONGHU });
    assert.equal(await storedId(s.dir, d, p.id), id);
  });

  it('converts a 15-digit number to 18 digits', async () => {
    const v = await d.post(`${P}/validate-id`, { id_number: '330422800101001' });
    assert.equal(v.json.valid, true);
    assert.equal(v.json.normalized, '33042219800101001X');
    assert.equal(v.json.birth_date, '1980-01-01');
    assert.equal(v.json.sex, '1');
    const p = await create(d, { name: '旧号码', id_number: '330422800101001', region_code: NANHE });
    assert.equal(await storedId(s.dir, d, p.id), '33042219800101001X');
    assert.equal(p.birth_date, '1980-01-01');
    assert.equal(p.sex, '1');
  });

  it('refuses a birth date in the future', async () => {
    const y = new Date().getFullYear() + 1;
    const id = makeId({ birth: `${y}0101` });
    const v = await d.post(`${P}/validate-id`, { id_number: id });
    assert.equal(v.json.valid, false);
    assert.match(v.json.message, CHINESE);
    const before = countPersons(s.dir);
    const r = await d.post(P, { name: '未来人', id_number: id, region_code: DONGHU });
    assertError(r, 422, 'id_number');
    assert.equal(countPersons(s.dir), before);
    assert.deepEqual(await findById(center, id), []);
  });

  it('refuses a sex or birth date that contradicts the number, and derives them when absent', async () => {
    const id = makeId({ birth: '19790612', male: true });
    const before = countPersons(s.dir);
    let r = await d.post(P, { name: '矛盾甲', id_number: id, sex: '2', region_code: DONGHU });
    let e = assertError(r, 422, 'sex');
    assert.match(e.message, /性别/);
    r = await d.post(P, { name: '矛盾乙', id_number: id, birth_date: '1979-06-13', region_code: DONGHU });
    e = assertError(r, 422, 'birth_date');
    assert.match(e.message, /出生日期/);
    assert.equal(countPersons(s.dir), before);
    assert.deepEqual(await findById(center, id), []);
    // Consistent values (also written by name and in another date shape) are accepted.
    const ok = await create(d, { name: '一致', id_number: id, sex: '男', birth_date: '1979/6/12', region_code: DONGHU });
    assert.equal(ok.sex, '1');
    assert.equal(ok.birth_date, '1979-06-12');
    // Absent: derived, for a woman too.
    const fid = makeId({ birth: '19850228', male: false });
    const f = await create(d, { name: '推导', id_number: fid, region_code: DONGHU });
    assert.deepEqual(sql(s.dir, `SELECT sex, birth_date FROM persons WHERE id = ${f.id}`)[0], { sex: '2', birth_date: '1985-02-28' });
    assert.equal(f.sex_name, '女');
  });

  it('a PATCH that contradicts the stored number is refused too', async () => {
    const p = await create(d, { name: '改性别', id_number: makeId({ male: false, birth: '19900101' }), region_code: DONGHU });
    const r = await d.patch(`${P}/${p.id}`, { version: p.version, sex: '1' });
    assertError(r, 422, 'sex');
    assert.equal(q1(s.dir, `SELECT version FROM persons WHERE id = ${p.id}`), 1);
  });
});

// ---- 2. duplicates ----

describe('one person per ID number', () => {
  let s, danghu, zhapu, center;
  before(async () => {
    s = await startServer({ persons: 300 });
    [danghu, zhapu, center] = await Promise.all(['danghu', 'zhapu', 'center'].map((u) => s.login(u)));
  });
  after(async () => { await s?.cleanup(); });

  it('inside the jurisdiction: 409 duplicate pointing at the existing file', async () => {
    const id = makeId({ birth: '19700707' });
    const p = await create(danghu, { name: '原档案', id_number: id, region_code: DONGHU });
    const before = countPersons(s.dir);
    // Also when typed differently (lower-case x is not possible here, so full width).
    for (const typed of [id, fullWidth(id)]) {
      const r = await danghu.post(P, { name: '重复档案', id_number: typed, region_code: NANHE });
      const e = assertError(r, 409, 'id_number', /^duplicate$/);
      assert.equal(e.existing_id, p.id);
    }
    const c = await center.post(P, { name: '重复档案', id_number: id, region_code: HAIBIN });
    assert.equal(errOf(c).existing_id, p.id);
    assert.equal(countPersons(s.dir), before);
    const v = await danghu.post(`${P}/validate-id`, { id_number: id });
    assert.equal(v.json.existing_id, p.id);
  });

  it('outside the jurisdiction: 409 with a neutral message and no pointer', async () => {
    const id = makeId({ birth: '19710808' });
    const p = await create(danghu, { name: '当湖人', id_number: id, region_code: DONGHU });
    const before = countPersons(s.dir);
    const r = await zhapu.post(P, { name: '乍浦人', id_number: id, region_code: HAIBIN });
    const e = assertError(r, 409, 'id_number', /^duplicate$/);
    assert.equal('existing_id' in e, false, JSON.stringify(e));
    assert.doesNotMatch(e.message, new RegExp(`(^|\\D)${p.id}(\\D|$)`), 'no file number in the message');
    const text = r.body.toString('utf8');
    assert.ok(!text.includes('当湖') && !text.includes('东湖') && !text.includes('当湖人'), text);
    assert.equal(countPersons(s.dir), before);
    // validate-id does not tell zhapu either.
    const v = await zhapu.post(`${P}/validate-id`, { id_number: id });
    assert.equal(v.json.valid, true);
    assert.equal(v.json.existing_id, undefined);
  });
});

// ---- 3. PATCH, version, history ----

describe('editing: optimistic version and field history', () => {
  let s, d;
  before(async () => { s = await startServer({ persons: 300 }); d = await s.login('danghu'); });
  after(async () => { await s?.cleanup(); });

  it('a PATCH bumps the version and writes field-level history and an audit row', async () => {
    const p = await create(d, { name: '改前', id_number: makeId({ birth: '19681010' }), region_code: DONGHU, remarks: '旧备注' });
    assert.equal(p.version, 1);
    const r = await d.patch(`${P}/${p.id}`, { version: 1, name: '改后', phone: '13800138000', remarks: null,
      service: { branch: '陆军', enlist_date: '1986-12-01' }, region_code: NANHE });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.version, 2);
    assert.equal(r.json.name, '改后');
    assert.equal(r.json.remarks, null);
    assert.equal(r.json.service.enlist_date, '1986-12-01');
    assert.deepEqual(sql(s.dir, `SELECT version, name, phone, remarks, enlist_date FROM persons WHERE id = ${p.id}`)[0],
      { version: 2, name: '改后', phone: '13800138000', remarks: null, enlist_date: '1986-12-01' });
    const h = await d.get(`${P}/${p.id}/history`);
    assert.equal(h.status, 200);
    const by = Object.fromEntries(h.json.items.map((i) => [i.field, i]));
    assert.deepEqual([by.name.before, by.name.after, by.name.username, by.name.label], ['改前', '改后', 'danghu', '姓名']);
    assert.deepEqual([by.phone.before ?? null, by.phone.after], [null, '13800138000']);
    assert.deepEqual([by.remarks.before, by.remarks.after ?? null], ['旧备注', null]);
    assert.equal(by['service.enlist_date'].after, '1986-12-01');
    assert.equal(by['service.branch'].after, '01');   // the code of 陆军
    // Coded values come with their names, as the file shows them.
    assert.deepEqual([by['service.branch'].before_name, by['service.branch'].after_name], [null, '陆军']);
    assert.deepEqual([by.region_code.before, by.region_code.after], [DONGHU, NANHE]);
    assert.deepEqual([by.region_code.before_name, by.region_code.after_name], ['东湖社区', '南河社区']);
    assert.equal(by.name.after_name, undefined, 'a free-text field has no name beside it');
    assert.ok(by.name.ts, 'history rows carry a timestamp');
    assert.equal(by.id_number, undefined, 'unchanged fields have no history');
    const a = lastAudit(s.dir, `event = 'person.update' AND object_id = '${p.id}'`);
    assert.equal(a.username, 'danghu');
    const det = JSON.parse(a.detail);
    assert.equal(det.before.name, '改前');
    assert.equal(det.after.name, '改后');
    // The new name is searchable, the old one is not.
    const l = await d.get(`${P}?q=${encodeURIComponent('改后')}`);
    assert.ok(l.json.items.some((i) => i.id === p.id));
    const old = await d.get(`${P}?q=${encodeURIComponent('改前')}`);
    assert.ok(!old.json.items.some((i) => i.id === p.id));
  });

  it('a stale version gets 409 and changes nothing', async () => {
    const p = await create(d, { name: '并发', id_number: makeId({ birth: '19690909' }), region_code: DONGHU });
    const ok = await d.patch(`${P}/${p.id}`, { version: 1, phone: '13900139000' });
    assert.equal(ok.status, 200);
    const first = await d.get(`${P}/${p.id}`);
    const hist = (await d.get(`${P}/${p.id}/history`)).json.items.length;
    const audits = auditRows(s.dir, `event LIKE 'person.update%' AND object_id = '${p.id}'`).length;
    const r = await d.patch(`${P}/${p.id}`, { version: 1, phone: '13700137000', name: '覆盖' });
    assertError(r, 409, 'version', /version_conflict/);
    const again = await d.get(`${P}/${p.id}`);
    assert.deepEqual(again.json, first.json);
    assert.equal((await d.get(`${P}/${p.id}/history`)).json.items.length, hist);
    assert.equal(auditRows(s.dir, `event LIKE 'person.update%' AND object_id = '${p.id}'`).length, audits);
    assert.deepEqual(sql(s.dir, `SELECT version, phone, name FROM persons WHERE id = ${p.id}`)[0],
      { version: 2, phone: '13900139000', name: '并发' });
    // A count cleared is stored as 0, and the history says 0, not "empty".
    const v2 = await d.patch(`${P}/${p.id}`, { version: 2, service: { awards: { peace: { first: 2 } } } });
    assert.equal(v2.json.service.awards.peace.first, 2);
    const v3 = await d.patch(`${P}/${p.id}`, { version: 3, service: { awards: { peace: { first: null } } } });
    assert.equal(v3.json.service.awards.peace.first, 0);
    const hc = (await d.get(`${P}/${p.id}/history`)).json.items.filter((i) => i.field === 'service.awards.peace.first');
    assert.deepEqual(hc.map((i) => [i.before, i.after]), [['2', '0'], ['0', '2']]);
    // Missing version: refused.
    assertError(await d.patch(`${P}/${p.id}`, { phone: '13700137000' }), 422, 'version');
    assert.equal(q1(s.dir, `SELECT version FROM persons WHERE id = ${p.id}`), 4);
  });
});

// ---- 4. masking and reveal ----

describe('masking and reveal', () => {
  let s, d, leader, p, id, id2;
  before(async () => {
    s = await startServer({ persons: 300 });
    d = await s.login('danghu');
    leader = await s.login('leader');
    id = makeId({ birth: '19630303' });
    id2 = makeId({ birth: '19640404' });
    p = await create(d, { name: '遮蔽测试', id_number: id, region_code: DONGHU, bank_name: '农业银行', bank_account: '6228480012345678901',
      household: [{ relation: '配偶', name: '遮蔽配偶', id_number: makeId({ birth: '19650505', male: false }) }] });
    const r = await d.patch(`${P}/${p.id}`, { version: 1, id_number: id2 });
    assert.equal(r.status, 200, JSON.stringify(r.json));
  });
  after(async () => { await s?.cleanup(); });

  it('masks ID numbers as 6 + 8 * + 4 in list, detail and history, and bank accounts to the last 4', async () => {
    const l = await d.get(`${P}?q=${encodeURIComponent('遮蔽测试')}`);
    assert.equal(l.json.items.length, 1);
    assert.match(l.json.items[0].id_number, MASKED);
    assert.equal(l.json.items[0].id_number, `${id2.slice(0, 6)}********${id2.slice(14)}`);
    const all = await d.get(`${P}?size=200`);
    for (const it of all.json.items) assert.match(it.id_number, MASKED);
    const g = await d.get(`${P}/${p.id}`);
    assert.equal(g.json.id_number, `${id2.slice(0, 6)}********${id2.slice(14)}`);
    assert.equal(g.json.id_masked, true);
    assert.equal(g.json.bank_account, '***************8901');
    assert.match(g.json.household[0].id_number, MASKED);
    const h = await d.get(`${P}/${p.id}/history`);
    const ih = h.json.items.find((i) => i.field === 'id_number');
    assert.ok(ih, 'history of the ID number change');
    assert.match(ih.before, MASKED);
    assert.match(ih.after, MASKED);
    // The full numbers never appear in any answer, nor in the audit trail.
    for (const body of [l.body, all.body, g.body, h.body]) {
      const t = body.toString('utf8');
      assert.ok(!t.includes(id) && !t.includes(id2) && !t.includes('6228480012345678901'), 'full value leaked');
    }
    const audit = JSON.stringify(auditRows(s.dir, `object_id = '${p.id}'`));
    assert.ok(!audit.includes(id) && !audit.includes(id2) && !audit.includes('6228480012345678901'), 'full value in audit');
  });

  it('reveal with a reason returns the full value, no-store, audited with the reason', async () => {
    const r = await d.post(`${P}/${p.id}/reveal`, { field: 'id_number', reason: '核对优待证申请材料' });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.value, id2);
    assert.match(r.headers.get('cache-control') ?? '', /no-store/);
    const a = lastAudit(s.dir, `event = 'person.reveal' AND object_id = '${p.id}'`);
    assert.ok(a, 'audit row person.reveal');
    assert.equal(a.username, 'danghu');
    assert.equal(a.result, 'ok');
    const det = JSON.parse(a.detail);
    assert.equal(det.reason, '核对优待证申请材料');
    assert.equal(det.field, 'id_number');
    assert.ok(!a.detail.includes(id2), 'the value itself is not audited');
    const b = await d.post(`${P}/${p.id}/reveal`, { field: 'bank_account', reason: '发放抚恤金核对' });
    assert.equal(b.json.value, '6228480012345678901');
  });

  it('a role without person.reveal gets 403 and an access.denied audit row', async () => {
    const n = auditRows(s.dir, `event = 'person.reveal'`).length;
    const r = await leader.post(`${P}/${p.id}/reveal`, { field: 'id_number', reason: '领导查看' });
    assert.equal(r.status, 403);
    assert.equal(r.json.value, undefined);
    assert.ok(!r.body.toString('utf8').includes(id2));
    const a = lastAudit(s.dir, `event = 'access.denied' AND username = 'leader'`);
    assert.ok(a, 'access.denied row');
    assert.match(a.object_id, new RegExp(`/persons/${p.id}/reveal`));
    assert.equal(a.result, 'denied');
    assert.equal(auditRows(s.dir, `event = 'person.reveal'`).length, n);
  });

  it('reveal without a (real) reason is refused with 422 and not audited', async () => {
    const n = auditRows(s.dir, `event = 'person.reveal'`).length;
    for (const body of [{ field: 'id_number' }, { field: 'id_number', reason: '' }, { field: 'id_number', reason: '     ' }]) {
      const r = await d.post(`${P}/${p.id}/reveal`, body);
      assertError(r, 422, 'reason');
      assert.equal(r.json.value, undefined);
    }
    // Two characters are enough, as the message says.
    const ok = await d.post(`${P}/${p.id}/reveal`, { field: 'id_number', reason: '核对' });
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assertError(await d.post(`${P}/${p.id}/reveal`, { field: 'name', reason: '核对身份' }), 422, 'field');
    assert.equal(auditRows(s.dir, `event = 'person.reveal'`).length, n + 1);
  });
});

// ---- 5. jurisdiction ----

describe('jurisdiction', () => {
  let s, center, danghu, cun, zp, zpId, dh;
  before(async () => {
    s = await startServer({ persons: 300 });
    [center, danghu, cun] = await Promise.all(['center', 'danghu', 'cun'].map((u) => s.login(u)));
    zpId = makeId({ birth: '19720202' });
    zp = await create(center, { name: '乍浦独有名', id_number: zpId, region_code: HAIBIN });
    dh = await create(danghu, { name: '南河居民', id_number: makeId({ birth: '19730303' }), region_code: NANHE });
  });
  after(async () => { await s?.cleanup(); });

  it('danghu cannot find or open a zhapu person by name, ID, last digits, id or export', async () => {
    for (const q of ['乍浦独有名', '独有', zpId, zpId.toLowerCase(), zpId.slice(-4), zpId.slice(-6)]) {
      const r = await danghu.get(`${P}?q=${encodeURIComponent(q)}`);
      assert.equal(r.status, 200);
      assert.ok(!r.json.items.some((i) => i.id === zp.id), `found by ${q}`);
      for (const i of r.json.items) assert.ok(i.region_code >= DANGHU_TOWN[0] && i.region_code <= DANGHU_TOWN[1], i.region_code);
    }
    assert.equal((await danghu.get(`${P}?q=${zpId}`)).json.total, 0);
    assertError(await danghu.get(`${P}/${zp.id}`), 404);
    assertError(await danghu.get(`${P}/${zp.id}/history`), 404);
    assertError(await danghu.patch(`${P}/${zp.id}`, { version: 1, phone: '13800000000' }), 404);
    assertError(await danghu.post(`${P}/${zp.id}/reveal`, { field: 'id_number', reason: '越权查看' }), 404);
    assertError(await danghu.post(`${P}/${zp.id}/categories`, { category: '96' }), 404);
    assertError(await danghu.post(`${P}/${zp.id}/household`, { relation: '子女', name: '越权' }), 404);
    assert.equal(q1(s.dir, `SELECT version FROM persons WHERE id = ${zp.id}`), 1);
    assert.equal(auditRows(s.dir, `event = 'person.reveal' AND object_id = '${zp.id}'`).length, 0);
    // A region filter pointing outside is simply empty.
    const rf = await danghu.get(`${P}?region=${HAIBIN}`);
    assert.equal(rf.json.total, 0);
    // Export: filtered by name, and everything.
    const e1 = await danghu.get(`${P}/export.xlsx?q=${encodeURIComponent('乍浦独有名')}`);
    assert.equal(e1.status, 200);
    assert.equal(e1.headers.get('x-export-rows'), '0');
    assert.equal(readXlsx(e1.body).rows.length, 1, 'header only');
    const e2 = await danghu.get(`${P}/export.xlsx`);
    const rows = readXlsx(e2.body).rows.slice(1);
    const total = q1(s.dir, `SELECT COUNT(*) FROM persons WHERE region_code BETWEEN '${DANGHU_TOWN[0]}' AND '${DANGHU_TOWN[1]}'`);
    assert.equal(rows.length, total);
    assert.ok(!rows.some((r) => r[0] === String(zp.id) || r[1] === '乍浦独有名'));
  });

  it('list totals follow the station: town, village, centre', async () => {
    const inTown = q1(s.dir, `SELECT COUNT(*) FROM persons WHERE region_code BETWEEN '${DANGHU_TOWN[0]}' AND '${DANGHU_TOWN[1]}'`);
    assert.equal((await danghu.get(P)).json.total, inTown);
    const inVillage = q1(s.dir, `SELECT COUNT(*) FROM persons WHERE region_code = '${DONGHU}'`);
    const cl = await cun.get(`${P}?size=200`);
    assert.equal(cl.json.total, inVillage);
    assert.ok(inVillage > 0);
    for (const i of cl.json.items) assert.equal(i.region_code, DONGHU);
    // cun cannot open a person of the neighbouring village of the same town.
    assertError(await cun.get(`${P}/${dh.id}`), 404);
    assert.ok(!(await cun.get(`${P}?q=${encodeURIComponent('南河居民')}`)).json.items.some((i) => i.id === dh.id));
    assertError(await cun.post(P, { name: '越界建档', id_number: makeId(), region_code: NANHE }), 422, 'region_code');
    // Nor can a town move its person out of its jurisdiction.
    assertError(await danghu.patch(`${P}/${dh.id}`, { version: 1, region_code: HAIBIN }), 422, 'region_code');
    assert.equal(q1(s.dir, `SELECT region_code FROM persons WHERE id = ${dh.id}`), NANHE);
    // The centre sees everything.
    assert.equal((await center.get(P)).json.total, countPersons(s.dir));
    assert.equal((await center.get(`${P}/${zp.id}`)).status, 200);
    assert.equal((await center.get(`${P}/${dh.id}`)).status, 200);
  });
});

// ---- 6. search ----

describe('search, filters, paging and sort', () => {
  let s, d, center, zwq, zwqId, other;
  before(async () => {
    s = await startServer({ persons: 300 });
    [d, center] = await Promise.all([s.login('danghu'), s.login('center')]);
    zwqId = makeId({ birth: '19660606' });
    zwq = await create(d, { name: '张伟强', id_number: zwqId, region_code: DONGHU });
    other = await create(d, { name: '欧阳明珠', id_number: makeId({ birth: '19670707', male: false }), region_code: NANHE });
  });
  after(async () => { await s?.cleanup(); });

  const ids = (r) => r.json.items.map((i) => i.id);
  const scopeSql = `region_code BETWEEN '${DANGHU_TOWN[0]}' AND '${DANGHU_TOWN[1]}'`;

  it('exact ID number (also lower-case x and 15 digits)', async () => {
    const r = await d.get(`${P}?q=${zwqId}`);
    assert.equal(r.json.total, 1);
    assert.deepEqual(ids(r), [zwq.id]);
    const p15 = await create(d, { name: '十五位', id_number: '330422700101003', region_code: DONGHU });
    const r15 = await d.get(`${P}?q=330422700101003`);
    assert.deepEqual(ids(r15), [p15.id]);
    const low = await d.get(`${P}?q=${'33042219700101003'}${checkChar('33042219700101003').toLowerCase()}`);
    assert.deepEqual(ids(low), [p15.id]);
    // Typed with a Chinese IME: full-width digits, for the whole number and the last digits.
    assert.deepEqual(ids(await d.get(`${P}?q=${encodeURIComponent(fullWidth(zwqId))}`)), [zwq.id]);
    assert.ok(ids(await d.get(`${P}?q=${encodeURIComponent(fullWidth(zwqId.slice(-4)))}&size=200`)).includes(zwq.id));
    // A well-formed number that is not valid finds nothing (rather than a name search).
    assert.equal((await d.get(`${P}?q=${wrongCheck(zwqId)}`)).json.total, 0);
  });

  // A valid number sharing exactly the last N characters of BASE (same
  // sequence and check character, the date differing just before them).
  function sharingTail(base, n) {
    const body = base.slice(0, 17);
    for (let y = 1950; y < 1999; y++) {
      for (let m = 1; m <= 12; m++) {
        for (let day = 1; day <= 28; day++) {
          const cand = `${body.slice(0, 6)}${y}${String(m).padStart(2, '0')}${String(day).padStart(2, '0')}${body.slice(14)}`;
          const id = cand + checkChar(cand);
          if (id.slice(-n) === base.slice(-n) && id[17 - n] !== base[17 - n]) return id;
        }
      }
    }
    throw new Error(`no number sharing ${n} characters with ${base}`);
  }

  it('last 4, 5 and 6 digits match exactly the stored numbers', async () => {
    // Neighbours sharing exactly the last 4, 5 and 6 characters: each tail
    // length must find those that share it, and only those.
    const near = {};
    for (const n of [4, 5, 6]) {
      near[n] = await create(d, { name: `尾号${n}`, id_number: sharingTail(zwqId, n), region_code: n === 5 ? NANHE : DONGHU });
    }
    // What is stored, by id, through the full export (it opens the sealed values).
    const stored = await fullNumbers(center, `region=${DANGHU_TOWN[0]}`);
    assert.equal(stored.get(zwq.id), zwqId);
    for (const n of [4, 5, 6]) {
      const tail = zwqId.slice(-n);
      const r = await d.get(`${P}?q=${tail}&size=200`);
      const want = [...stored].filter(([, num]) => num.endsWith(tail)).map(([id]) => id).sort((a, b) => b - a);
      assert.ok(want.includes(zwq.id));
      for (const k of [4, 5, 6]) assert.equal(want.includes(near[k].id), k >= n, `neighbour ${k} for tail ${n}`);
      assert.deepEqual(ids(r), want, `tail ${n}`);
      assert.equal(r.json.total, want.length);
      // Lower-case x and full width type the same tail.
      assert.deepEqual(ids(await d.get(`${P}?q=${encodeURIComponent(fullWidth(tail).toLowerCase())}&size=200`)), want);
    }
    // A tail that no stored number has finds nothing.
    const unused = ['0000', '9999', '1234', '4321'].find((t) => ![...stored.values()].some((num) => num.endsWith(t)));
    assert.equal((await d.get(`${P}?q=${unused}`)).json.total, 0);
  });

  it('a two-character name fragment, anywhere in the name', async () => {
    for (const [frag, who] of [['伟强', zwq], ['明珠', other], ['欧阳', other], ['阳明珠', other]]) {
      const r = await d.get(`${P}?q=${encodeURIComponent(frag)}&size=200`);
      assert.ok(ids(r).includes(who.id), `${frag} finds ${who.name}`);
      for (const i of r.json.items) assert.ok(i.name.includes(frag), `${i.name} does not contain ${frag}`);
      const want = q1(s.dir, `SELECT COUNT(*) FROM persons WHERE ${scopeSql} AND name LIKE ${lit(`%${frag}%`)}`);
      assert.equal(r.json.total, want, frag);
    }
  });

  it('pinyin initials derived by the server', async () => {
    assert.equal(q1(s.dir, `SELECT name_initials FROM persons WHERE id = ${zwq.id}`), 'zwq');
    for (const q of ['zwq', 'ZWQ', 'zw']) {
      const r = await d.get(`${P}?q=${q}&size=200`);
      assert.ok(ids(r).includes(zwq.id), q);
      const want = q1(s.dir, `SELECT COUNT(*) FROM persons WHERE ${scopeSql} AND (name_initials LIKE '${q.toLowerCase()}%' OR name_pinyin LIKE '${q.toLowerCase()}%')`);
      assert.equal(r.json.total, want, q);
    }
    assert.ok(ids(await d.get(`${P}?q=oymz`)).includes(other.id));
  });

  it('filters: region (subtree), category, status, completeness', async () => {
    const byRegion = await d.get(`${P}?region=${NANHE}&size=200`);
    assert.equal(byRegion.json.total, q1(s.dir, `SELECT COUNT(*) FROM persons WHERE region_code = '${NANHE}'`));
    for (const i of byRegion.json.items) assert.equal(i.region_code, NANHE);
    const town = await d.get(`${P}?region=330482001000`);
    assert.equal(town.json.total, q1(s.dir, `SELECT COUNT(*) FROM persons WHERE ${scopeSql}`));

    const cat = await d.get(`${P}?category=96&size=200`);
    const wantCat = q1(s.dir, `SELECT COUNT(*) FROM persons p WHERE ${scopeSql} AND EXISTS (SELECT 1 FROM person_categories c WHERE c.person_id = p.id AND c.category = '96' AND c.valid_to IS NULL)`);
    assert.ok(wantCat > 0);
    assert.equal(cat.json.total, wantCat);
    for (const i of cat.json.items) assert.ok(i.categories.includes('退役军人'), JSON.stringify(i));

    const st = await d.get(`${P}?status=1&size=200`);
    assert.equal(st.json.total, q1(s.dir, `SELECT COUNT(*) FROM persons WHERE ${scopeSql} AND status = '1'`));
    for (const i of st.json.items) assert.equal(i.status, '1');

    const all = (await d.get(P)).json.total;
    const c1 = await d.get(`${P}?complete=1&size=200`), c0 = await d.get(`${P}?complete=0&size=200`);
    assert.equal(c1.json.total + c0.json.total, all);
    for (const i of c1.json.items) assert.equal(i.missing_count, 0);
    for (const i of c0.json.items) assert.ok(i.missing_count > 0);
    assert.ok(c0.json.items.some((i) => i.id === zwq.id), 'a bare new file is incomplete');
    // Filters combine with q.
    const combo = await d.get(`${P}?q=${encodeURIComponent('伟强')}&region=${NANHE}`);
    assert.ok(!ids(combo).includes(zwq.id));
  });

  it('建档立卡 completeness per station, with the missing items, inside the jurisdiction', async () => {
    const rows = sql(s.dir, `SELECT region_code, missing_fields FROM persons WHERE ${scopeSql}`);
    const tally = (pred) => {
      const t = { persons: 0, complete: 0, missing: {} };
      for (const r of rows.filter((x) => pred(x.region_code))) {
        t.persons++;
        if (!r.missing_fields) t.complete++;
        else for (const k of r.missing_fields.split(',')) t.missing[k] = (t.missing[k] ?? 0) + 1;
      }
      return t;
    };
    const r = await d.get(`${P}/completeness`);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.ok(r.json.items.length > 1);
    for (const it of r.json.items) {
      assert.ok(it.region_code >= DANGHU_TOWN[0] && it.region_code <= DANGHU_TOWN[1], it.region_code);
      const t = tally((c) => c === it.region_code);
      assert.deepEqual([it.persons, it.complete, it.missing], [t.persons, t.complete, t.missing], it.station_name);
      assert.equal(it.rate, t.persons ? t.complete / t.persons : 0);
      assert.match(it.station_name, CHINESE);
    }
    const dh = r.json.items.find((i) => i.region_code === DONGHU);
    assert.ok(dh.missing.categories >= 1, 'the bare files created above lack a category');
    assert.deepEqual(r.json.towns.map((t) => t.region_code), ['330482001000']);
    const whole = tally(() => true);
    assert.deepEqual([r.json.towns[0].persons, r.json.towns[0].complete, r.json.towns[0].missing], [whole.persons, whole.complete, whole.missing]);
    // ?region= narrows it; outside the jurisdiction it is empty.
    const one = await d.get(`${P}/completeness?region=${DONGHU}`);
    assert.deepEqual(one.json.items.map((i) => i.region_code), [DONGHU]);
    assert.deepEqual(one.json.towns, []);
    const out = await d.get(`${P}/completeness?region=${HAIBIN}`);
    assert.deepEqual([out.json.items, out.json.towns], [[], []]);
    assertError(await d.get(`${P}/completeness?region=33`), 422, 'region');
    const cun = await (await s.login('cun')).get(`${P}/completeness`);
    assert.deepEqual(cun.json.items.map((i) => i.region_code), [DONGHU]);
  });

  it('paging: total, page, size, disjoint pages', async () => {
    const p1 = await d.get(`${P}?size=5&page=1&sort=id`), p2 = await d.get(`${P}?size=5&page=2&sort=id`);
    const ten = await d.get(`${P}?size=10&page=1&sort=id`);
    assert.equal(p1.json.size, 5);
    assert.equal(p2.json.page, 2);
    assert.equal(p1.json.items.length, 5);
    assert.equal(p2.json.total, p1.json.total);
    assert.deepEqual([...ids(p1), ...ids(p2)], ids(ten));
    const last = Math.ceil(p1.json.total / 5);
    const pl = await d.get(`${P}?size=5&page=${last}`);
    assert.equal(pl.json.items.length, p1.json.total - (last - 1) * 5);
    assert.equal((await d.get(`${P}?size=5&page=${last + 1}`)).json.items.length, 0);
  });

  it('sort by name and by -birth_date; an unknown sort is refused', async () => {
    // By pinyin (as staff expect: 艾 before 王, though 王 comes first in Unicode), then by the characters.
    const items = (await d.get(`${P}?sort=name&size=200`)).json.items;
    const py = new Map(sql(s.dir, `SELECT id, name_pinyin FROM persons WHERE id IN (${items.map((i) => i.id).join(',')})`)
      .map((r) => [Number(r.id), r.name_pinyin]));
    const key = (i) => [py.get(i.id), i.name];
    const cmp = (a, b) => Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])) || Buffer.compare(Buffer.from(a[1]), Buffer.from(b[1]));
    for (let i = 1; i < items.length; i++) assert.ok(cmp(key(items[i - 1]), key(items[i])) <= 0, `${items[i - 1].name} before ${items[i].name}`);
    assert.ok(new Set(items.map((i) => py.get(i.id)[0])).size > 3, 'names of several initials');
    const desc = (await d.get(`${P}?sort=-name&size=200`)).json.items;
    for (const r of sql(s.dir, `SELECT id, name_pinyin FROM persons WHERE id IN (${desc.map((i) => i.id).join(',')})`)) py.set(Number(r.id), r.name_pinyin);
    for (let i = 1; i < desc.length; i++) assert.ok(cmp(key(desc[i - 1]), key(desc[i])) >= 0, `${desc[i - 1].name} before ${desc[i].name} (descending)`);
    const births = (await d.get(`${P}?sort=-birth_date&size=200`)).json.items.map((i) => i.birth_date);
    for (let i = 1; i < births.length; i++) assert.ok(births[i - 1] >= births[i], `${births[i - 1]} < ${births[i]}`);
    assertError(await d.get(`${P}?sort=password`), 422, 'sort');
    assertError(await d.get(`${P}?sort=-id_number;DROP`), 422, 'sort');
    assertError(await d.get(`${P}?region=abc`), 422, 'region');
  });
});

// ---- 7. categories and household ----

describe('categories and household', () => {
  let s, d, p;
  before(async () => {
    s = await startServer({ persons: 300 });
    d = await s.login('danghu');
    p = await create(d, { name: '类别测试', id_number: makeId({ birth: '19600101' }), region_code: DONGHU, ethnic: '汉族',
      phone: '13812345678', hukou_address: '平湖市当湖街道东湖路1号', hukou_type: '城镇', current_address: '平湖市当湖街道东湖路1号',
      service: { branch: '陆军', enlist_date: '1978-12-01', discharge_date: '1983-01-01', discharge_type: '复员' } });
  });
  after(async () => { await s?.cleanup(); });

  it('a file without category lists 优抚类别 as missing', async () => {
    assert.equal(p.completeness.complete, false);
    assert.deepEqual(p.completeness.missing, [{ field: 'categories', label: '优抚类别' }]);
  });

  it('因病 only goes with grades 1–6', async () => {
    const r = await d.post(`${P}/${p.id}/categories`, { category: '1', disability_cause: '因病', disability_grade: 8 });
    const e = assertError(r, 422, 'disability_grade');
    assert.match(e.message, /因病/);
    assert.equal(q1(s.dir, `SELECT COUNT(*) FROM person_categories WHERE person_id = ${p.id}`), 0);
    assertError(await d.post(`${P}/${p.id}/categories`, { category: '1', disability_cause: '因战', disability_grade: 11 }), 422, 'disability_grade');
    assertError(await d.post(`${P}/${p.id}/categories`, { category: '1', disability_grade: 3 }), 422, 'disability_cause');
    assertError(await d.post(`${P}/${p.id}/categories`, { category: '96', disability_cause: '因战', disability_grade: 3 }), 422);
    assertError(await d.post(`${P}/${p.id}/categories`, { category: '21' }), 422, 'relation');
    assertError(await d.post(`${P}/${p.id}/categories`, { category: '不存在' }), 422, 'category');
    assert.equal(q1(s.dir, `SELECT COUNT(*) FROM person_categories WHERE person_id = ${p.id}`), 0);
  });

  it('a valid pair is stored, completes the file, and ending it keeps it inactive', async () => {
    const r = await d.post(`${P}/${p.id}/categories`, { category: '1', disability_cause: '因病', disability_grade: 6,
      certificate_no: '浙残军字000123', valid_from: '2001-05-01' });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    const c = r.json.categories.find((x) => x.category === '1');
    assert.deepEqual([c.category_name, c.disability_cause, c.disability_cause_name, c.disability_grade, c.active, c.valid_from],
      ['伤残人员', '3', '因病', 6, true, '2001-05-01']);
    const g = await d.get(`${P}/${p.id}`);
    assert.ok(!g.json.completeness.missing.some((m) => m.field === 'categories'), JSON.stringify(g.json.completeness));
    assert.equal(g.json.completeness.complete, true);
    assert.deepEqual(sql(s.dir, `SELECT missing_count, missing_fields FROM persons WHERE id = ${p.id}`)[0], { missing_count: 0, missing_fields: '' });
    assert.ok((await d.get(`${P}?category=1&size=200`)).json.items.some((i) => i.id === p.id));
    assert.ok(lastAudit(s.dir, `event = 'person.category.add' AND object_id = '${p.id}'`));
    // The same active category twice: refused.
    assertError(await d.post(`${P}/${p.id}/categories`, { category: '1', disability_cause: '因战', disability_grade: 2 }), 409);
    // A second category at the same time.
    const r2 = await d.post(`${P}/${p.id}/categories`, { category: '在乡复员军人' });
    assert.equal(r2.status, 201, JSON.stringify(r2.json));

    // End the disability category: still in the detail, inactive.
    const end = await d.patch(`${P}/${p.id}/categories/${c.id}`, { version: c.version, valid_to: '2024-06-30' });
    assert.equal(end.status, 200, JSON.stringify(end.json));
    const ended = end.json.categories.find((x) => x.id === c.id);
    assert.equal(ended.active, false);
    assert.equal(ended.valid_to, '2024-06-30');
    assert.equal(ended.disability_grade, 6);
    assert.equal(q1(s.dir, `SELECT valid_to FROM person_categories WHERE id = ${c.id}`), '2024-06-30');
    const g2 = await d.get(`${P}/${p.id}`);
    assert.equal(g2.json.categories.length, 2);
    assert.equal(g2.json.categories.find((x) => x.id === c.id).active, false);
    assert.ok(!(await d.get(`${P}?category=1&size=200`)).json.items.some((i) => i.id === p.id));
    // Category history is kept and audited.
    const h = (await d.get(`${P}/${p.id}/history`)).json.items;
    assert.ok(h.some((i) => i.field === `categories.${c.id}` && i.after === '2024-06-30'), JSON.stringify(h));
    assert.ok(h.some((i) => i.field === 'categories' && /伤残人员/.test(i.after)));
    assert.ok(lastAudit(s.dir, `event = 'person.category.update' AND object_id = '${p.id}'`));
    // Stale version of the category: 409, nothing changed.
    assertError(await d.patch(`${P}/${p.id}/categories/${c.id}`, { version: c.version, note: '覆盖' }), 409);
    assert.equal(q1(s.dir, `SELECT note FROM person_categories WHERE id = ${c.id}`), null);
    // A new disability entry; the ended one cannot then be reopened beside it.
    const again = await d.post(`${P}/${p.id}/categories`, { category: '1', disability_cause: '因战', disability_grade: 2 });
    assert.equal(again.status, 201, JSON.stringify(again.json));
    const reopen = await d.patch(`${P}/${p.id}/categories/${c.id}`, { version: ended.version, valid_to: null });
    assertError(reopen, 409, 'valid_to');
    assert.equal(q1(s.dir, `SELECT COUNT(*) FROM person_categories WHERE person_id = ${p.id} AND category = '1' AND valid_to IS NULL`), 1);
    assert.equal(q1(s.dir, `SELECT valid_to FROM person_categories WHERE id = ${c.id}`), '2024-06-30');
  });

  it('household members with and without an ID number', async () => {
    const child = await d.post(`${P}/${p.id}/household`, { relation: '子女', name: '类别子', birth_date: '2010/9/1' });
    assert.equal(child.status, 201, JSON.stringify(child.json));
    const ch = child.json.household.find((h) => h.name === '类别子');
    assert.equal(ch.id_number ?? null, null);
    assert.equal(ch.birth_date, '2010-09-01');
    assert.equal(ch.relation_name, '子女');
    const sid = makeId({ birth: '19620202', male: false });
    const sp = await d.post(`${P}/${p.id}/household`, { relation: '配偶', name: '类别妻', id_number: sid.toLowerCase() });
    assert.equal(sp.status, 201, JSON.stringify(sp.json));
    const m = sp.json.household.find((h) => h.name === '类别妻');
    assert.match(m.id_number, MASKED);
    assert.equal(m.sex, '2');
    assert.equal(m.birth_date, '1962-02-02');
    // Stored sealed, with the masked copy and the blind index of the number:
    // the same index as a person file with that number.
    const mrow = sql(s.dir, `SELECT id_enc, id_hash, id_masked FROM household_members WHERE id = ${m.id}`)[0];
    assert.match(mrow.id_enc, SEALED);
    assert.equal(mrow.id_masked, maskOf(sid));
    assert.equal(m.id_number, maskOf(sid));
    const own = await create(d, { name: '类别妻', id_number: sid, region_code: DONGHU });
    assert.equal(mrow.id_hash, q1(s.dir, `SELECT id_hash FROM persons WHERE id = ${own.id}`));
    // The sealed number opens: a sex contradicting it is refused, and an edit
    // of another field keeps it (re-sealed, same index and masked form).
    assertError(await d.patch(`${P}/${p.id}/household/${m.id}`, { sex: '1' }), 422, 'sex');
    const keep = await d.patch(`${P}/${p.id}/household/${m.id}`, { note: '改备注' });
    assert.equal(keep.status, 200, JSON.stringify(keep.json));
    assert.equal(keep.json.household.find((h) => h.id === m.id).id_number, maskOf(sid));
    const mrow2 = sql(s.dir, `SELECT id_enc, id_hash, id_masked FROM household_members WHERE id = ${m.id}`)[0];
    assert.deepEqual([mrow2.id_hash, mrow2.id_masked], [mrow.id_hash, mrow.id_masked]);
    assert.match(mrow2.id_enc, SEALED);
    assert.notEqual(mrow2.id_enc, mrow.id_enc, 'a fresh IV on every seal');
    // A member linked to a person file.
    const linked = await create(d, { name: '类别父', id_number: makeId({ birth: '19350101' }), region_code: DONGHU });
    const lk = await d.post(`${P}/${p.id}/household`, { relation: '父母', person_id: linked.id });
    assert.equal(lk.status, 201, JSON.stringify(lk.json));
    assert.equal(lk.json.household.find((h) => h.person_id === linked.id)?.name, '类别父');
    // Refusals.
    assertError(await d.post(`${P}/${p.id}/household`, { relation: '子女', name: '错号', id_number: wrongCheck(makeId()) }), 422, 'id_number');
    assertError(await d.post(`${P}/${p.id}/household`, { relation: '配偶', name: '矛盾', id_number: makeId({ male: true }), sex: '2' }), 422, 'sex');
    assertError(await d.post(`${P}/${p.id}/household`, { name: '无关系' }), 422, 'relation');
    assertError(await d.post(`${P}/${p.id}/household`, { relation: '子女', name: '多字段', age: 3 }), 400, 'age');
    assert.equal(q1(s.dir, `SELECT COUNT(*) FROM household_members WHERE person_id = ${p.id}`), 3);
    // Edit and delete are kept in the history.
    const e = await d.patch(`${P}/${p.id}/household/${ch.id}`, { name: '类别儿' });
    assert.equal(e.status, 200, JSON.stringify(e.json));
    const del = await d.del(`${P}/${p.id}/household/${ch.id}`);
    assert.equal(del.status, 200);
    assert.equal(q1(s.dir, `SELECT COUNT(*) FROM household_members WHERE id = ${ch.id}`), 0);
    const h = (await d.get(`${P}/${p.id}/history`)).json.items.filter((i) => i.field === 'household');
    assert.ok(h.some((i) => /删除/.test(i.before ?? '')), JSON.stringify(h));
    assert.ok(h.some((i) => /类别儿/.test(i.after ?? '')));
    for (const i of h) for (const v of [i.before, i.after]) assert.ok(!(v ?? '').includes(sid), 'household history masked');
    assert.equal(auditRows(s.dir, `event LIKE 'person.household.%' AND object_id = '${p.id}'`).length, 6);
  });

  it('create with categories and household in one request', async () => {
    const r = await d.post(P, { name: '一次建档', id_number: makeId({ birth: '19580808' }), region_code: DONGHU,
      categories: [{ category: '96' }], household: [{ relation: '子女', name: '一次子' }] });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    assert.equal(r.json.categories[0].category_name, '退役军人');
    assert.equal(r.json.household[0].name, '一次子');
    assert.ok(!r.json.completeness.missing.some((m) => m.field === 'categories'));
    // A bad category rolls the whole creation back.
    const id = makeId({ birth: '19590909' });
    const before = countPersons(s.dir);
    const bad = await d.post(P, { name: '回滚', id_number: id, region_code: DONGHU, categories: [{ category: '1', disability_cause: '因病', disability_grade: 9 }] });
    assertError(bad, 422, 'disability_grade');
    assert.equal(countPersons(s.dir), before);
    assert.deepEqual(await findById(d, id), []);
  });
});

// ---- 8. import ----

const HEAD = ['姓名', '身份证号码', '所属村社区', '联系电话', '入伍日期', '优抚类别'];

describe('import: preview, commit, error sheet, re-import, CSV encodings, dates', () => {
  let s, d, zhapu, center, ids, bad, xlsx;
  before(async () => {
    s = await startServer({ persons: 300 });
    d = await s.login('danghu');
    zhapu = await s.login('zhapu');
    center = await s.login('center');
    ids = [makeId({ birth: '19800501' }), makeId({ birth: '19810601', male: false }), makeId({ birth: '19820701' })];
    bad = wrongCheck(makeId({ birth: '19830801' }));
    xlsx = makeXlsx([
      HEAD,
      ['导入甲', ids[0], '东湖社区', '13811110001', '1998-12-01', '退役军人'],
      ['导入乙', ids[1].toLowerCase(), NANHE, '', 44260, ''],            // Excel serial: 2021-03-05
      ['导入丙', ids[2], '东湖社区', '', '2001年12月1日', '退役军人、在乡复员军人'],
      ['导入丁', bad, '东湖社区', '13811110004', '', ''],
    ]);
  });
  after(async () => { await s?.cleanup(); });

  it('the template is a real .xlsx with the Chinese headers', async () => {
    const r = await d.get(`${P}/import/template.xlsx`);
    assert.equal(r.status, 200);
    assert.equal(r.body.subarray(0, 2).toString('latin1'), 'PK');
    assert.ok(isXlsx(r.body));
    assert.match(r.headers.get('content-type'), /spreadsheetml/);
    const head = readXlsx(r.body).rows[0];
    for (const h of ['姓名*', '身份证号码*', '所属村社区*', '入伍日期', '优抚类别']) assert.ok(head.includes(h), h);
    assert.equal((await (await s.login('leader')).get(`${P}/import/template.xlsx`)).status, 403);
  });

  let job;
  it('preview: new / update / error per row with row, column and a Chinese message; nothing written', async () => {
    const before = countPersons(s.dir);
    const r = await d.upload(`${P}/import?mode=preview`, xlsx, '人员.xlsx');
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual([r.json.rows, r.json.new, r.json.update, r.json.error], [4, 3, 0, 1]);
    job = r.json.import_id;
    assert.ok(job);
    const items = r.json.items;
    assert.deepEqual(items.map((i) => [i.row, i.action]), [[2, 'new'], [3, 'new'], [4, 'new'], [5, 'error']]);
    const e = items[3].errors;
    assert.equal(e.length, 1);
    assert.equal(e[0].column, 2);
    assert.equal(e[0].column_name, '身份证号码');
    assert.equal(e[0].field, 'id_number');
    assert.match(e[0].message, /校验位/);
    assert.match(items[0].id_number, MASKED);
    assert.equal(items[1].id_number, `${ids[1].slice(0, 6)}********${ids[1].slice(14)}`);
    assert.equal(countPersons(s.dir), before);
    assert.ok(lastAudit(s.dir, `event = 'person.import.preview' AND object_id = '${job}'`));
    // Someone else's job is not reachable.
    assertError(await zhapu.post(`${P}/import/${job}/commit`, { mode: 'valid' }), 404);
  });

  it('commit "all" with an error row writes nothing', async () => {
    const before = countPersons(s.dir);
    const auditsBefore = auditRows(s.dir, `event LIKE 'person.%import%'`).length;
    const r = await d.post(`${P}/import/${job}/commit`, { mode: 'all' });
    assertError(r, 422);
    assert.equal(r.json.error.error_rows, 1);
    assert.equal(countPersons(s.dir), before);
    for (const id of ids) assert.deepEqual(await findById(center, id), [], 'nothing filed under an imported number');
    assert.equal(auditRows(s.dir, `event LIKE 'person.%import%'`).length, auditsBefore);
    assertError(await d.post(`${P}/import/${job}/commit`, { mode: 'some' }), 422, 'mode');
  });

  it('the error rows come back as an .xlsx with the cell marked and the message', async () => {
    const r = await d.get(`${P}/import/${job}/errors.xlsx`);
    assert.equal(r.status, 200);
    assert.ok(isXlsx(r.body));
    const x = readXlsx(r.body);
    assert.equal(x.rows.length, 2, JSON.stringify(x.rows));
    assert.deepEqual(x.rows[0].slice(0, HEAD.length), HEAD);
    assert.equal(x.rows[0][HEAD.length], '错误说明');
    assert.equal(x.rows[1][0], '导入丁');
    assert.equal(x.rows[1][1], bad, 'the faulty value comes back as typed, to be fixed');
    assert.match(x.rows[1][HEAD.length], /校验位/);
    assert.notEqual(x.styles[1][1], x.styles[1][0], 'the faulty cell has its own (red) style');
    const comments = [...x.files.keys()].filter((k) => /comments\d*\.xml$/.test(k));
    assert.ok(comments.length && x.files.get(comments[0]).toString('utf8').includes('校验位'), 'message as a cell comment');
  });

  it('commit "valid" creates the three good rows, audited', async () => {
    const before = countPersons(s.dir);
    const r = await d.post(`${P}/import/${job}/commit`, { mode: 'valid' });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.created, 3);
    assert.equal(r.json.updated, 0);
    assert.equal(r.json.skipped, 1);
    assert.equal(countPersons(s.dir), before + 3);
    // Each number is filed once (blind index) and stored sealed with its masked copy.
    const rows = [];
    for (const id of ids) {
      const pid = await pidOf(center, id);
      assert.ok(pid, `${id} filed`);
      rows.push({ ...sql(s.dir, `SELECT id, name, id_masked, region_code, phone, enlist_date, created_by FROM persons WHERE id = ${pid}`)[0], id_number: id });
    }
    const byId = Object.fromEntries(rows.map((x) => [x.id_number, x]));
    for (const id of ids) assert.equal(byId[id].id_masked, maskOf(id));
    assert.equal(await storedId(s.dir, d, byId[ids[1]].id), ids[1], 'the lower-case x was stored upper-case');
    assert.deepEqual([byId[ids[0]].name, byId[ids[0]].region_code, byId[ids[0]].phone, byId[ids[0]].enlist_date, byId[ids[0]].created_by],
      ['导入甲', DONGHU, '13811110001', '1998-12-01', 'danghu']);
    assert.deepEqual([byId[ids[1]].name, byId[ids[1]].region_code, byId[ids[1]].enlist_date], ['导入乙', NANHE, '2021-03-05']);
    assert.equal(byId[ids[2]].enlist_date, '2001-12-01');
    const cats = sql(s.dir, `SELECT category FROM person_categories WHERE person_id = ${byId[ids[2]].id} AND valid_to IS NULL ORDER BY category`).map((x) => x.category);
    assert.deepEqual(cats, ['41', '96']);
    assert.equal(q1(s.dir, `SELECT COUNT(*) FROM persons WHERE name = '导入丁'`), 0);
    // Audit: one row for the import, one per created person.
    const imp = lastAudit(s.dir, `event = 'person.import' AND object_id = '${job}'`);
    assert.ok(imp, 'person.import');
    assert.equal(imp.username, 'danghu');
    const det = JSON.parse(imp.detail);
    assert.deepEqual([det.created, det.updated, det.skipped, det.mode], [3, 0, 1, 'valid']);
    const created = auditRows(s.dir, `event = 'person.create.import'`).map((a) => Number(a.object_id)).sort();
    assert.deepEqual(created, rows.map((x) => x.id).sort());
    // Completeness reflects the imported categories.
    const g = await d.get(`${P}/${byId[ids[2]].id}`);
    assert.ok(!g.json.completeness.missing.some((m) => m.field === 'categories'));
    // A job is committed once.
    assertError(await d.post(`${P}/import/${job}/commit`, { mode: 'valid' }), 409);
  });

  it('re-importing the same file updates instead of duplicating', async () => {
    const before = countPersons(s.dir);
    const pid = await pidOf(d, ids[0]);
    assert.ok(pid);
    // A value entered by hand since: an empty cell must not erase it, a filled one updates.
    const v = q1(s.dir, `SELECT version FROM persons WHERE id = ${pid}`);
    assert.equal((await d.patch(`${P}/${pid}`, { version: v, remarks: '手工备注', phone: '13999999999' })).status, 200);
    const r = await d.upload(`${P}/import`, xlsx, '人员.xlsx');
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual([r.json.new, r.json.update, r.json.error], [0, 3, 1]);
    assert.deepEqual(r.json.items.slice(0, 3).map((i) => i.action), ['update', 'update', 'update']);
    const c = await d.post(`${P}/import/${r.json.import_id}/commit`, { mode: 'valid' });
    assert.equal(c.status, 200, JSON.stringify(c.json));
    assert.deepEqual([c.json.created, c.json.updated], [0, 3]);
    assert.equal(countPersons(s.dir), before);
    for (const id of ids) assert.equal((await findById(center, id)).length, 1, 'not duplicated');
    assert.equal(await storedId(s.dir, d, pid), ids[0]);
    assert.deepEqual(sql(s.dir, `SELECT remarks, phone FROM persons WHERE id = ${pid}`)[0], { remarks: '手工备注', phone: '13811110001' });
    const h = (await d.get(`${P}/${pid}/history`)).json.items;
    assert.ok(h.some((i) => i.field === 'phone' && i.after === '13811110001' && i.before === '13999999999'));
    assert.equal(q1(s.dir, `SELECT COUNT(*) FROM person_categories WHERE person_id = ${pid}`), 1, 'categories not duplicated');
    assert.ok(auditRows(s.dir, `event = 'person.update.import' AND object_id = '${pid}'`).length >= 1);
  });

  it('a row whose number is filed outside the jurisdiction is an error with a neutral message', async () => {
    const zid = makeId({ birth: '19770707' });
    await create(zhapu, { name: '乍浦已建档', id_number: zid, region_code: HAIBIN });
    const r = await d.upload(`${P}/import`, makeXlsx([HEAD, ['抢建档', zid, '东湖社区']]), 'x.xlsx');
    assert.equal(r.status, 200);
    assert.deepEqual([r.json.new, r.json.update, r.json.error], [0, 0, 1]);
    const t = JSON.stringify(r.json);
    assert.ok(!t.includes('乍浦已建档') && !t.includes('海滨'), t);
    assert.equal(r.json.items[0].errors[0].field, 'id_number');
    // A region outside the jurisdiction, and a number twice in one file.
    const id = makeId({ birth: '19780808' });
    const r2 = await d.upload(`${P}/import`, makeXlsx([HEAD, ['越界', makeId(), HAIBIN], ['两次', id, '东湖社区'], ['两次', id, '东湖社区']]), 'y.xlsx');
    assert.deepEqual(r2.json.items.map((i) => i.action), ['error', 'new', 'error']);
    assert.equal(r2.json.items[0].errors[0].field, 'region_code');
    assert.equal(r2.json.items[0].errors[0].column, 3);
    assert.match(r2.json.items[2].errors[0].message, /重复/);
  });

  it('a GBK CSV and a UTF-8 BOM CSV import with correct names; dates in every shape are stored as ISO', async () => {
    const gIds = [makeId({ birth: '19900101' }), makeId({ birth: '19910202', male: false })];
    const gbkText = `姓名,身份证号码,所属村社区,入伍日期,户籍地址\r\n陆建华,${gIds[0]},东湖社区,2021年3月5日,平湖市当湖街道叶园路\r\n沈佳怡,${gIds[1]},南河社区,2021/3/5,"平湖市当湖街道南河头,12号"\r\n`;
    const gbk = execFileSync('iconv', ['-f', 'UTF-8', '-t', 'GBK'], { input: Buffer.from(gbkText, 'utf8') });
    assert.notDeepEqual(gbk, Buffer.from(gbkText, 'utf8'));
    let r = await d.upload(`${P}/import`, gbk, '名单.csv');
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual([r.json.new, r.json.error], [2, 0], JSON.stringify(r.json.items));
    assert.deepEqual(r.json.items.map((i) => i.name), ['陆建华', '沈佳怡']);
    let c = await d.post(`${P}/import/${r.json.import_id}/commit`, { mode: 'all' });
    assert.equal(c.json.created, 2, JSON.stringify(c.json));
    const gPids = await Promise.all(gIds.map((id) => pidOf(d, id)));
    assert.ok(gPids.every(Boolean), JSON.stringify(gPids));
    assert.deepEqual(sql(s.dir, `SELECT name, enlist_date, hukou_address FROM persons WHERE id IN (${gPids.join(',')}) ORDER BY birth_date`),
      [{ name: '陆建华', enlist_date: '2021-03-05', hukou_address: '平湖市当湖街道叶园路' },
        { name: '沈佳怡', enlist_date: '2021-03-05', hukou_address: '平湖市当湖街道南河头,12号' }]);

    const bIds = [0, 1, 2, 3].map((k) => makeId({ birth: `1995030${k + 1}` }));
    const dates = ['2021-03-05', '2021/3/5', '20210305', '2021年3月5日'];
    const names = ['褚振华', '鲍丽娟', '钱塘生', '於小燕'];
    const bom = Buffer.concat([Buffer.from([0xEF, 0xBB, 0xBF]), Buffer.from(
      `姓名,身份证号码,所属村社区,入伍日期\n${bIds.map((id, k) => `${names[k]},${id},${DONGHU},${dates[k]}`).join('\n')}\n`, 'utf8')]);
    r = await d.upload(`${P}/import`, bom, 'bom.csv');
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual([r.json.new, r.json.error], [4, 0], JSON.stringify(r.json.items));
    c = await d.post(`${P}/import/${r.json.import_id}/commit`, { mode: 'all' });
    assert.equal(c.json.created, 4);
    const bPids = await Promise.all(bIds.map((id) => pidOf(d, id)));
    assert.ok(bPids.every(Boolean), JSON.stringify(bPids));
    const got = sql(s.dir, `SELECT name, enlist_date FROM persons WHERE id IN (${bPids.join(',')}) ORDER BY birth_date`);
    assert.deepEqual(got, names.map((name) => ({ name, enlist_date: '2021-03-05' })));
    // Raw body with X-Filename works too (same rules).
    const raw = await d.req('POST', `${P}/import`, Buffer.from(`姓名,身份证号码,所属村社区\n原始体,${makeId()},${DONGHU}\n`),
      { headers: { 'X-Filename': 'raw.csv', 'Content-Type': 'text/csv' } });
    assert.equal(raw.status, 200, JSON.stringify(raw.json));
    assert.equal(raw.json.new, 1);
  });

  it('category columns follow the same rules as the API (cause × grade, 三属), kept in history and audited', async () => {
    const head = ['姓名', '身份证号码', '所属村社区', '优抚类别', '伤残性质', '伤残等级', '烈士（牺牲、病故军人）姓名', '与烈士（军人）关系'];
    const cid = [0, 1, 2, 3, 4, 5, 6, 7].map((k) => makeId({ birth: `1950010${k + 1}` }));
    const x = makeXlsx([head,
      ['伤残甲', cid[0], DONGHU, '伤残人员', '因战', '八级', '', ''],
      ['伤残乙', cid[1], DONGHU, '伤残人员', '因病', 8, '', ''],
      ['伤残丙', cid[2], DONGHU, '伤残人员', '', '', '', ''],
      ['遗属丁', cid[3], DONGHU, '烈士遗属', '', '', '张烈', ''],
      ['遗属戊', cid[4], DONGHU, '烈士遗属、退役军人', '', '', '张烈', '子女'],
      ['退役己', cid[5], DONGHU, '退役军人', '因战', '', '', ''],
      ['伤残庚', cid[6], DONGHU, '伤残人员', '因公', '重度', '', ''],
      ['遗属辛', cid[7], DONGHU, '', '', '', '', '女婿'],
    ]);
    const r = await d.upload(`${P}/import`, x, 'cat.xlsx');
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const it = r.json.items;
    assert.deepEqual(it.map((i) => i.action), ['new', 'error', 'error', 'error', 'new', 'error', 'error', 'error'], JSON.stringify(it));
    const e = (k) => it[k].errors[0];
    assert.deepEqual([e(1).field, e(1).column, e(1).column_name], ['disability_grade', 6, '伤残等级']);
    assert.match(e(1).message, /因病/);
    assert.deepEqual([e(2).field, e(2).column], ['disability_cause', 5]);
    assert.deepEqual([e(3).field, e(3).column], ['relation', 8]);
    assert.deepEqual([e(5).field, e(5).column], ['disability_cause', 5]);
    assert.deepEqual([e(6).field, e(6).column], ['disability_grade', 6]);
    assert.deepEqual([e(7).field, e(7).column], ['relation', 8]);
    for (const i of it) for (const er of i.errors) assert.match(er.message, CHINESE);
    const c = await d.post(`${P}/import/${r.json.import_id}/commit`, { mode: 'valid' });
    assert.deepEqual([c.json.created, c.json.skipped], [2, 6]);
    const cPids = (await Promise.all(cid.map((id) => pidOf(d, id))));
    assert.deepEqual(cPids.map(Boolean), [true, false, false, false, true, false, false, false], 'only the two good rows are filed');
    const cats = sql(s.dir, `SELECT p.name, c.category, c.disability_cause, c.disability_grade, c.deceased_name, c.relation
      FROM person_categories c JOIN persons p ON p.id = c.person_id WHERE p.id IN (${cPids.filter(Boolean).join(',')}) ORDER BY p.name, c.category`);
    assert.deepEqual(cats, [
      { name: '伤残甲', category: '1', disability_cause: '1', disability_grade: 8, deceased_name: null, relation: null },
      { name: '遗属戊', category: '21', disability_cause: null, disability_grade: null, deceased_name: '张烈', relation: '2' },
      { name: '遗属戊', category: '96', disability_cause: null, disability_grade: null, deceased_name: null, relation: null }]);
    const pid = cPids[0];
    const h = (await d.get(`${P}/${pid}/history`)).json.items;
    assert.ok(h.some((i) => i.field === 'categories' && /伤残人员（因战8级）/.test(i.after)), JSON.stringify(h));
    assert.equal(auditRows(s.dir, `event = 'person.category.add.import' AND object_id = '${pid}'`).length, 1);
    // Re-importing the same rows: held categories are not checked or added again.
    const r2 = await d.upload(`${P}/import`, makeXlsx([['姓名', '身份证号码', '所属村社区', '优抚类别'], ['伤残甲', cid[0], DONGHU, '伤残人员']]), 'again.xlsx');
    assert.deepEqual([r2.json.update, r2.json.error], [1, 0], JSON.stringify(r2.json.items));
  });

  it('the downloaded template, filled in, imports', async () => {
    const head = readXlsx((await d.get(`${P}/import/template.xlsx`)).body).rows[0];
    const id = makeId({ birth: '19870303' });
    const row = head.map(() => '');
    const put = (h, v) => { const k = head.indexOf(h); assert.ok(k >= 0, h); row[k] = v; };
    put('姓名*', '模板填写'); put('身份证号码*', id); put('所属村社区*', '东湖社区'); put('性别', '男');
    put('民族', '汉族'); put('户籍类型', '农村'); put('军种', '海军'); put('入伍日期', '2005/12/1'); put('退役日期', '2010年12月1日');
    put('退役时军衔', '上士'); put('退役安置方式', '自主就业'); put('嘉奖次数（平时）', 2); put('优抚类别', '退役军人、伤残人员');
    put('伤残性质', '因公'); put('伤残等级', '10级');
    const r = await d.upload(`${P}/import`, makeXlsx([head, row]), '模板.xlsx');
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual([r.json.new, r.json.error], [1, 0], JSON.stringify(r.json.items));
    const c = await d.post(`${P}/import/${r.json.import_id}/commit`, { mode: 'all' });
    assert.equal(c.json.created, 1);
    const tpid = await pidOf(d, id);
    assert.ok(tpid);
    assert.deepEqual(sql(s.dir, `SELECT sex, ethnic, hukou_type, enlist_date, discharge_date, rank_text, rank_code IS NOT NULL AS has_rank, award_peace_commendation FROM persons WHERE id = ${tpid}`)[0],
      { sex: '1', ethnic: '01', hukou_type: '2', enlist_date: '2005-12-01', discharge_date: '2010-12-01', rank_text: '上士', has_rank: 1, award_peace_commendation: 2 });
  });

  it('a file without the required headers is refused with a Chinese message', async () => {
    const r = await d.upload(`${P}/import`, Buffer.from('名字,号码\n甲,1\n', 'utf8'), 'x.csv');
    assertError(r, 422, 'file');
    const r2 = await d.upload(`${P}/import`, Buffer.from('this is not a spreadsheet'), 'x.xlsx');
    assert.equal(r2.status, 422);
  });
});

// ---- 9. export ----

describe('export', () => {
  let s, d, center;
  before(async () => {
    s = await startServer({ persons: 300 });
    [d, center] = await Promise.all([s.login('danghu'), s.login('center')]);
  });
  after(async () => { await s?.cleanup(); });

  it('with a filter: an xlsx whose row count equals the list total, masked, audited', async () => {
    const filter = `category=96&region=330482001000&sort=name`;
    const list = await d.get(`${P}?${filter}&size=1`);
    const r = await d.get(`${P}/export.xlsx?${filter}`);
    assert.equal(r.status, 200);
    assert.ok(isXlsx(r.body));
    assert.match(r.headers.get('content-disposition') ?? '', /attachment/);
    assert.equal(r.headers.get('x-export-rows'), String(list.json.total));
    assert.ok(list.json.total > 0);
    const x = readXlsx(r.body);
    assert.equal(x.rows.length - 1, list.json.total);
    const head = x.rows[0];
    const ci = head.indexOf('身份证号码'), ni = head.indexOf('姓名'), ri = head.indexOf('所属村社区');
    assert.ok(ci >= 0 && ni >= 0 && ri >= 0, JSON.stringify(head));
    for (const row of x.rows.slice(1)) {
      assert.match(row[ci], MASKED);
      assert.ok(row[head.indexOf('优抚类别')].includes('退役军人'));
    }
    const exportedIds = x.rows.slice(1).map((row) => Number(row[0])).sort((a, b) => a - b);
    const want = sql(s.dir, `SELECT p.id FROM persons p WHERE p.region_code BETWEEN '${DANGHU_TOWN[0]}' AND '${DANGHU_TOWN[1]}' AND EXISTS (SELECT 1 FROM person_categories c WHERE c.person_id = p.id AND c.category = '96' AND c.valid_to IS NULL) ORDER BY p.id`).map((y) => y.id);
    assert.deepEqual(exportedIds, want);
    const a = lastAudit(s.dir, `event = 'person.export' AND username = 'danghu'`);
    assert.ok(a);
    const det = JSON.parse(a.detail);
    assert.equal(det.rows, list.json.total);
    assert.equal(det.full, false);
    // Same with a name query.
    const zq = await d.get(`${P}?q=${encodeURIComponent('王')}`);
    const ze = await d.get(`${P}/export.xlsx?q=${encodeURIComponent('王')}`);
    assert.equal(ze.headers.get('x-export-rows'), String(zq.json.total));
  });

  it('full=1 needs person.export_full: refused for a town, allowed for the centre', async () => {
    const n = auditRows(s.dir, `event = 'person.export'`).length;
    const r = await d.get(`${P}/export.xlsx?full=1`);
    assert.equal(r.status, 403);
    assert.ok(!isXlsx(r.body));
    assert.ok(lastAudit(s.dir, `event = 'access.denied' AND username = 'danghu'`));
    assert.equal(auditRows(s.dir, `event = 'person.export'`).length, n);
    const c = await center.get(`${P}/export.xlsx?full=1&region=${HAIBIN}`);
    assert.equal(c.status, 200);
    const x = readXlsx(c.body);
    const ci = x.rows[0].indexOf('身份证号码');
    const want = sql(s.dir, `SELECT id, id_masked FROM persons WHERE region_code = '${HAIBIN}' ORDER BY id`);
    assert.equal(x.rows.length - 1, want.length);
    assert.equal(c.headers.get('x-export-rows'), String(want.length));
    const got = Object.fromEntries(x.rows.slice(1).map((row) => [Number(row[0]), row[ci]]));
    // Each exported number is the person's own: its masked copy, the blind
    // index (search by it finds this one file) and reveal all agree.
    assert.ok(want.length > 0);
    for (const w of want) {
      assert.match(got[w.id] ?? '', /^\d{17}[\dX]$/, `full number of ${w.id}`);
      assert.equal(maskOf(got[w.id]), w.id_masked);
      assert.deepEqual((await findById(center, got[w.id])).map((i) => i.id), [w.id]);
    }
    assert.equal(await reveal(center, want[0].id), got[want[0].id]);
    const a = lastAudit(s.dir, `event = 'person.export' AND username = 'center'`);
    assert.deepEqual([JSON.parse(a.detail).rows, JSON.parse(a.detail).full], [want.length, true]);
    // Without full=1 the centre's export is masked too.
    const m = readXlsx((await center.get(`${P}/export.xlsx?region=${HAIBIN}`)).body);
    assert.equal(m.rows.length - 1, want.length);
    for (const row of m.rows.slice(1)) assert.match(row[ci], MASKED);
    // leader has no person.export at all.
    assert.equal((await (await s.login('leader')).get(`${P}/export.xlsx`)).status, 403);
  });
});

describe('export: the categories column of every row (fetched a chunk of 500 persons at a time)', () => {
  let s, center;
  before(async () => { s = await startServer({ persons: 1100 }); center = await s.login('center'); });
  after(async () => { await s?.cleanup(); });

  it('each row carries its own active categories, in name order of the persons, across chunks', async () => {
    const r = await center.get(`${P}/export.xlsx?sort=name`);
    assert.equal(r.status, 200);
    const x = readXlsx(r.body);
    const rows = x.rows.slice(1);
    assert.ok(rows.length > 1000, `${rows.length} rows: three chunks, the last one short`);
    const cat = x.rows[0].indexOf('优抚类别');
    const want = new Map();
    for (const c of sql(s.dir, "SELECT c.person_id, k.name FROM person_categories c LEFT JOIN codes k ON k.tbl = 'person_category' " +
      'AND k.code = c.category WHERE c.valid_to IS NULL ORDER BY c.person_id, c.id')) {
      const id = Number(c.person_id);
      want.set(id, want.has(id) ? `${want.get(id)}、${c.name}` : c.name);
    }
    assert.ok([...want.values()].some((v) => v.includes('、')), 'some persons have two categories');
    for (const row of rows) assert.equal(row[cat], want.get(Number(row[0])) ?? '', `person ${row[0]}`);
    // The order is the list's (by name), not the ids' the categories are fetched by.
    const ids = rows.map((row) => Number(row[0]));
    assert.notDeepEqual(ids, [...ids].sort((a, b) => a - b));
  });
});

// ---- 10. CLI import ----

describe('command-line import', () => {
  let s, dir, work;
  before(async () => {
    s = await startServer({ persons: 20 });
    dir = s.dir;
    await s.stop();
    work = mkdtempSync(join(tmpdir(), 'vets-cli-'));
  });
  after(async () => { await s?.cleanup(); rmSync(work, { recursive: true, force: true }); });

  it('imports a CSV into a stopped server\'s data folder, all-or-nothing by default, audited', async () => {
    const ids = [makeId({ birth: '19760101' }), makeId({ birth: '19760202', male: false })];
    const good = join(work, 'good.csv');
    writeFileSync(good, `姓名,身份证号码,所属村社区,退役日期,入伍日期\n命令甲,${ids[0]},${HAIBIN},1998年12月1日,1994-12-01\n命令乙,${ids[1]},东湖社区,,\n`);
    const badFile = join(work, 'bad.csv');
    writeFileSync(badFile, `姓名,身份证号码,所属村社区\n命令丙,${makeId()},${DONGHU}\n命令丁,${wrongCheck(makeId())},${DONGHU}\n`);
    const before = countPersons(dir);
    // All-or-nothing: a bad row fails the whole file.
    let failed = null;
    try { execFileSync(BIN, ['import', 'persons', '--data', dir, ...dbArgs(dir, 'import'), '--user', 'center', badFile], { encoding: 'utf8', stdio: 'pipe' }); }
    catch (e) { failed = e; }
    assert.ok(failed, 'a file with an error row must fail');
    assert.equal(failed.status, 1);
    assert.match(failed.stderr, /未导入任何数据/);
    assert.equal(countPersons(dir), before);
    // A town user cannot import into another town.
    let denied = null;
    try { execFileSync(BIN, ['import', 'persons', '--data', dir, ...dbArgs(dir, 'import'), '--user', 'danghu', good], { encoding: 'utf8', stdio: 'pipe' }); }
    catch (e) { denied = e; }
    assert.ok(denied, 'danghu importing a zhapu row must fail');
    assert.equal(countPersons(dir), before);

    const out = execFileSync(BIN, ['import', 'persons', '--data', dir, ...dbArgs(dir, 'import'), '--user', 'center', good], { encoding: 'utf8' });
    assert.match(out, /新建 2 人/);
    assert.equal(countPersons(dir), before + 2);
    // The server is stopped (no key here): found by the masked copy; the full
    // numbers are checked through the API after the restart below.
    const rows = sql(dir, `SELECT name, region_code, enlist_date, discharge_date, created_by FROM persons WHERE id_masked IN (${ids.map(maskOf).map(lit).join(',')}) AND substr(id_enc, 1, 3) = 'v1:' ORDER BY name`);
    assert.deepEqual(rows, [
      { name: '命令乙', region_code: DONGHU, enlist_date: null, discharge_date: null, created_by: 'center' },
      { name: '命令甲', region_code: HAIBIN, enlist_date: '1994-12-01', discharge_date: '1998-12-01', created_by: 'center' }]);
    const imp = auditRows(dir, `event = 'person.import'`);
    assert.equal(imp.length, 1);
    assert.equal(imp[0].username, 'center');
    assert.equal(JSON.parse(imp[0].detail).created, 2);
    assert.equal(auditRows(dir, `event = 'person.create.import' AND username = 'center'`).length, 2);
    // Again: updates, no duplicates.
    const out2 = execFileSync(BIN, ['import', 'persons', '--data', dir, ...dbArgs(dir, 'import'), '--user', 'center', good], { encoding: 'utf8' });
    assert.match(out2, /更新 2 人/);
    assert.equal(countPersons(dir), before + 2);
    // The audit chain is intact after the CLI's writes and rollbacks.
    execFileSync(BIN, ['audit', 'verify', '--data', dir, ...dbArgs(dir, 'audit')], { encoding: 'utf8' });

    // Restarted, the server serves the imported persons (search index included).
    s = await launch(dir);
    const c = await s.login('center');
    const r = await c.get(`${P}?q=${encodeURIComponent('命令甲')}`);
    assert.equal(r.json.total, 1);
    assert.equal(r.json.items[0].region_code, HAIBIN);
    assert.equal((await c.get(`${P}?q=${ids[1]}`)).json.items[0]?.name, '命令乙');
    const pids = [];
    for (const id of ids) {
      const pid = await pidOf(c, id);
      assert.ok(pid, `${id} found by the blind index`);
      assert.equal(await storedId(dir, c, pid), id);
      pids.push(pid);
    }
    assert.deepEqual(sql(dir, `SELECT name FROM persons WHERE id IN (${pids.join(',')}) ORDER BY name`).map((x) => x.name), ['命令乙', '命令甲']);
    assert.equal((await (await s.login('danghu')).get(`${P}?q=${encodeURIComponent('命令甲')}`)).json.total, 0);
  });
});

// ---- 11. request hygiene ----

describe('request bodies: unknown fields, content type, malformed JSON', () => {
  let s, d, p;
  before(async () => {
    s = await startServer({ persons: 300 });
    d = await s.login('danghu');
    p = await create(d, { name: '格式测试', id_number: makeId({ birth: '19610101' }), region_code: DONGHU });
  });
  after(async () => { await s?.cleanup(); });

  it('an unknown field on POST or PATCH is a 400 naming it', async () => {
    const before = countPersons(s.dir);
    const id = makeId();
    let e = assertError(await d.post(P, { name: '多余', id_number: id, region_code: DONGHU, is_admin: true }), 400, 'is_admin');
    assert.match(e.message, /is_admin/);
    e = assertError(await d.post(P, { name: '多余', id_number: id, region_code: DONGHU, service: { branch: '陆军', salary: 1 } }), 400, 'service.salary');
    assert.match(e.message, /service\.salary/);
    assertError(await d.post(P, { name: '多余', id_number: id, region_code: DONGHU, service: { rank_code: '01' } }), 400, 'service.rank_code');
    assertError(await d.post(P, { name: '多余', id_number: id, region_code: DONGHU, id: 5 }), 400, 'id');
    assert.equal(countPersons(s.dir), before);
    e = assertError(await d.patch(`${P}/${p.id}`, { version: 1, nickname: '老张' }), 400, 'nickname');
    assert.match(e.message, /nickname/);
    assertError(await d.patch(`${P}/${p.id}`, { version: 1, categories: [] }), 400, 'categories');
    assert.equal(q1(s.dir, `SELECT version FROM persons WHERE id = ${p.id}`), 1);
  });

  it('wrong content type is 415, malformed JSON is 400, wrong value types are 422', async () => {
    const body = Buffer.from(JSON.stringify({ name: '类型', id_number: makeId(), region_code: DONGHU }));
    let r = await d.req('POST', P, body, { headers: { 'Content-Type': 'text/plain' } });
    assertError(r, 415);
    r = await d.req('POST', P, body, { headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    assert.equal(r.status, 415);
    r = await d.req('PATCH', `${P}/${p.id}`, Buffer.from('{"version":1,"name":"x"}'), { headers: { 'Content-Type': 'text/plain' } });
    assert.equal(r.status, 415);
    r = await d.req('POST', P, Buffer.from('{"name": "坏", "id_number": '), { headers: { 'Content-Type': 'application/json' } });
    assertError(r, 400, undefined, /malformed/);
    r = await d.req('PATCH', `${P}/${p.id}`, Buffer.from('{"version":1,,}'), { headers: { 'Content-Type': 'application/json' } });
    assert.equal(r.status, 400);
    r = await d.req('POST', P, Buffer.from('[1,2]'), { headers: { 'Content-Type': 'application/json' } });
    assert.equal(r.status, 400);
    assertError(await d.post(P, { name: ['数组'], id_number: makeId(), region_code: DONGHU }), 422, 'name');
    assertError(await d.post(P, { name: '缺号码', region_code: DONGHU }), 422, 'id_number');
    assertError(await d.post(P, { name: '无区划', id_number: makeId() }), 422, 'region_code');
    assertError(await d.post(P, { id_number: makeId(), region_code: DONGHU }), 422, 'name');
    assert.equal(q1(s.dir, `SELECT version FROM persons WHERE id = ${p.id}`), 1);
    assert.equal(q1(s.dir, `SELECT COUNT(*) FROM persons WHERE name IN ('类型','坏','缺号码','无区划')`), 0);
  });
});
