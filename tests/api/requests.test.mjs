// API tests of requests and proxy services (诉求受理与代办, issue 4): intake
// with a registry person and with a new contact, accept/refuse, assign,
// transfer down, escalate up, 协办, pause/resume, extension approved by the
// level above, reply before close, return visit 不满意 reopening one level up,
// the deadline job escalating an overdue request (injectable clock), 代办
// steps and materials, jurisdiction, attachments, notices, the rule data
// administration, and the figures on a known data set. Every test checks what
// was stored and audited, not only the status code.
//
// Deadlines are checked against a calendar computed here from the same
// data/calendar files, and the clock tests pin the server's clock to dates
// around 中秋/国庆 2026 (9/20 and 10/10 are 调休 working days), so they are
// deterministic whatever the real date.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, launch, auditRows, vets, SRC, sql, sqlExec } from './lib.mjs';

const R = '/api/v1/requests';
const CHINESE = /[\u4e00-\u9fff]/;
// The demo network: 东湖社区 is the station of `cun`; 南河社区 is its sister
// village under 当湖街道; 海滨社区 is under 乍浦镇.
const DONGHU = '330482001001';
const NANHE = '330482001002';
const HAIBIN = '330482101001';
const DANGHU_TOWN = '330482001000';

// ---- helpers ----

const q1 = (dir, query) => { const r = sql(dir, query); return r.length ? Object.values(r[0])[0] : undefined; };

// The working-day calendar, independently of the server.
const special = new Map();
for (const f of readdirSync(join(SRC, 'data/calendar')).filter((n) => /^\d{4}\.csv$/.test(n))) {
  for (const line of readFileSync(join(SRC, 'data/calendar', f), 'utf8').split('\n').slice(1)) {
    const [d, k] = line.split(',');
    if (d && k) special.set(d.trim(), k.trim());
  }
}
const isoDay = (ms) => new Date(ms).toISOString().slice(0, 10);
function isWork(d) {
  const k = special.get(d);
  if (k) return k === '班';
  const w = new Date(`${d}T00:00:00Z`).getUTCDay();
  return w >= 1 && w <= 5;
}
function addWorkdays(start, n) {
  let t = Date.parse(`${start}T00:00:00Z`);
  while (n > 0) { t += 86400000; if (isWork(isoDay(t))) n--; }
  return isoDay(t);
}
const cnDay = (isoUtc) => isoDay(Date.parse(isoUtc) + 8 * 3600 * 1000);

const W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
let idSeq = 500;
function makeId() {
  idSeq++;
  const body = `33048119800101${String(idSeq % 1000).padStart(3, '0')}`;
  let s = 0;
  for (let i = 0; i < 17; i++) s += Number(body[i]) * W[i];
  return body + '10X98765432'[s % 11];
}

const contact = (region, name = '测试联系人') => ({ contact_name: name, contact_phone: '13800138000', region_code: region });

async function create(c, body) {
  const r = await c.post(R, { channel: '来访', category: '政策咨询', urgency: '普通', content: '咨询优待证申领条件', ...body });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  return r.json;
}

// Runs an action with the current version; checks the status.
async function act(c, id, action, body = {}, expect = 200) {
  const g = await c.get(`${R}/${id}`);
  assert.equal(g.status, 200, `GET before ${action}: ${JSON.stringify(g.json)}`);
  const r = await c.post(`${R}/${id}/actions`, { action, version: g.json.version, ...body });
  assert.equal(r.status, expect, `${action}: ${JSON.stringify(r.json)}`);
  if (expect >= 400) assert.match(r.json.error.message, CHINESE);
  return r.json;
}

async function me(c) { return (await c.get('/api/v1/auth/me')).json.user; }
async function notices(c) { return (await c.get('/api/v1/notices?size=200')).json.items; }
const events = (dir, id) => auditRows(dir, `object_type = 'request' AND object_id = '${id}'`).map((a) => a.event);

// A data folder without demo requests, the automatic job off (tests run it
// themselves), demo accounts present.
async function freshServer({ persons = 20 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'vets-rq-'));
  vets(['init', '--data', dir, '--demo', '--persons', String(persons), '--requests', '0']);
  sql(dir, "UPDATE settings SET value = '0' WHERE key = 'requests.job_interval_seconds'");
  return startServer({ dir });
}

// Pins the server clock to an instant (UTC ISO); sessions must be opened again.
async function setClock(s, instant) {
  const off = Math.round((Date.parse(instant) - Date.now()) / 1000);
  const r = await s.client().post('/api/v1/test/clock', { offset_seconds: off });
  assert.equal(r.status, 200);
}
async function logins(s, ...names) { return Promise.all(names.map((n) => s.login(n))); }

// ---- numbering of a bulk load ----

describe('requests: the demo numbers its requests in blocks and gives back what it did not use', () => {
  let s;
  before(async () => { s = await startServer({ persons: 40, requests: 600 }); });
  after(async () => { await s?.cleanup(); });

  it('every year has the numbers 1..n without a gap, the counter says n, the next intake takes n + 1', async () => {
    const rows = sql(s.dir, 'SELECT no FROM requests');
    assert.ok(rows.length > 512, `${rows.length} demo requests: more than two blocks of 256`);
    const byYear = new Map();
    for (const { no } of rows) {
      const [, y, n] = /^SQ(\d{4})-(\d{6})$/.exec(no);
      byYear.set(Number(y), [...(byYear.get(Number(y)) || []), Number(n)]);
    }
    for (const [year, nums] of byYear) {
      nums.sort((a, b) => a - b);
      assert.deepEqual(nums, nums.map((_, i) => i + 1), `numbers of ${year}`);
      assert.equal(Number(sql(s.dir, `SELECT last FROM request_seq WHERE year = ${year}`)[0].last), nums.length, `counter of ${year}`);
    }
    const danghu = await s.login('danghu');
    const r = await create(danghu, { channel: '电话', ...contact(DONGHU, '编号'), content: '批量之后的第一件' });
    const [, y, n] = /^SQ(\d{4})-(\d{6})$/.exec(r.no);
    assert.equal(Number(n), (byYear.get(Number(y)) || []).length + 1);
  });
});

// ---- intake, handling, proxy, jurisdiction (one demo server) ----

describe('requests: intake and handling', () => {
  let s, center, danghu, zhapu, cun, leader;
  before(async () => {
    s = await startServer({ persons: 300 });
    [center, danghu, zhapu, cun, leader] = await logins(s, 'center', 'danghu', 'zhapu', 'cun', 'leader');
  });
  after(async () => { await s?.cleanup(); });

  it('takes in a request from a new contact: number, owner station, response time, timeline, audit', async () => {
    const r = await create(danghu, { channel: '电话', ...contact(DONGHU, '王建国'), content: '咨询退役士兵一次性经济补助' });
    assert.match(r.no, /^SQ\d{4}-\d{6}$/);
    assert.equal(r.status, 'received');
    assert.equal(r.status_name, '待受理');
    assert.equal(r.channel, '2');
    assert.equal(r.channel_name, '电话');
    assert.equal(r.category_name, '政策咨询');
    assert.equal(r.person_id, null);
    assert.equal(r.person_name, '王建国');
    assert.equal(r.region_code, DONGHU);
    // Lands in the queue of the station owning the region: the village.
    assert.equal(r.station_name, '东湖社区退役军人服务站');
    assert.equal(r.station_level, 'village');
    assert.equal(r.intake_station_name, '当湖街道退役军人服务站');
    assert.equal(Date.parse(r.response_due) - Date.parse(r.created_at), 24 * 3600 * 1000);
    assert.equal(r.due_date, null);
    assert.deepEqual(r.timeline.map((e) => e.action), ['create']);
    assert.equal(r.timeline[0].username, 'danghu');
    assert.ok(r.actions.includes('accept'));
    const row = sql(s.dir, `SELECT no, status, contact_phone, region_code, version FROM requests WHERE id = ${r.id}`)[0];
    assert.deepEqual(row, { no: r.no, status: 'received', contact_phone: '13800138000', region_code: DONGHU, version: 1 });
    const a = auditRows(s.dir, `event = 'request.create' AND object_id = '${r.id}'`);
    assert.equal(a.length, 1);
    assert.equal(a[0].username, 'danghu');
    // The village station is told.
    assert.ok((await notices(cun)).some((n) => n.request_id === r.id && n.kind === 'new'));
    // A second request gets the next number.
    const r2 = await create(danghu, contact(DONGHU));
    assert.equal(Number(r2.no.slice(-6)), Number(r.no.slice(-6)) + 1);
  });

  it('refuses bad intake with the field named, in Chinese', async () => {
    const bad = async (body, status, field) => {
      const r = await danghu.post(R, { channel: '1', category: '1', urgency: '1', content: '内容', ...contact(DONGHU), ...body });
      assert.equal(r.status, status, JSON.stringify(r.json));
      assert.equal(r.json.error.field, field);
      assert.match(r.json.error.message, CHINESE);
    };
    await bad({ bogus: 1 }, 400, 'bogus');
    await bad({ content: '' }, 422, 'content');
    await bad({ channel: '飞鸽传书' }, 422, 'channel');
    await bad({ urgency: '9' }, 422, 'urgency');
    await bad({ contact_phone: '12ab' }, 422, 'contact_phone');
    await bad({ contact_phone: null }, 422, 'contact_phone');
    await bad({ contact_name: null }, 422, 'contact_name');
    await bad({ region_code: '330482999999' }, 422, 'region_code');
    await bad({ proxy_type: '评残' }, 422, 'proxy_type');          // not a 代办 category
    await bad({ person_id: 99999999 }, 422, 'person_id');
    assert.equal(q1(s.dir, "SELECT COUNT(*) FROM requests WHERE content = '内容'"), 0);
  });

  it('takes in a request for a registry person (POST /api/v1/persons); outside the jurisdiction the person is unknown', async () => {
    const p = await danghu.post('/api/v1/persons', { name: '诉求人甲', id_number: makeId(), region_code: NANHE });
    assert.equal(p.status, 201, `the registry route must exist: ${JSON.stringify(p.json)}`);
    const r = await create(danghu, { person_id: p.json.id, category: '优抚待遇', content: '反映抚恤金未到账' });
    assert.equal(r.person_id, p.json.id);
    assert.equal(r.person_name, '诉求人甲');
    assert.equal(r.contact_name, '诉求人甲');
    assert.equal(r.region_code, NANHE);
    assert.equal(r.station_name, '南河社区退役军人服务站');
    const list = await danghu.get(`${R}?person_id=${p.json.id}`);
    assert.deepEqual(list.json.items.map((i) => i.id), [r.id]);
    const z = await zhapu.post(R, { channel: '1', category: '1', urgency: '1', content: '内容', person_id: p.json.id });
    assert.equal(z.status, 422);
    assert.equal(z.json.error.field, 'person_id');
  });

  it('accepts with a deadline on the working-day calendar; refuses only with a reason; stale versions change nothing', async () => {
    const r = await create(cun, contact(DONGHU));
    const a = await act(cun, r.id, 'accept');
    assert.equal(a.status, 'accepted');
    assert.equal(a.assignee_name, '村社区工作人员');     // the one who accepted handles it
    assert.equal(a.sla.conclude_workdays, 5);
    assert.equal(a.due_date, addWorkdays(cnDay(a.accepted_at), 5));
    assert.equal(a.workdays_left, 5);
    assert.equal(a.timeline.at(-1).action, 'accept');
    assert.match(a.timeline.at(-1).note, new RegExp(a.due_date));
    assert.equal(q1(s.dir, `SELECT due_date FROM requests WHERE id = ${r.id}`), a.due_date);
    // Stale version: 409 and nothing written.
    const stale = await cun.post(`${R}/${r.id}/actions`, { action: 'note', version: 1, note: '过期版本' });
    assert.equal(stale.status, 409);
    assert.equal(stale.json.error.code, 'version_conflict');
    assert.equal(q1(s.dir, `SELECT COUNT(*) FROM request_events WHERE note = '过期版本'`), 0);
    // Accepting twice is a state error.
    const again = await act(cun, r.id, 'accept', {}, 409);
    assert.equal(again.error.code, 'invalid_state');
    // Unknown action and unknown field.
    const u1 = await cun.post(`${R}/${r.id}/actions`, { action: 'teleport', version: a.version });
    assert.equal(u1.status, 422);
    const u2 = await cun.post(`${R}/${r.id}/actions`, { action: 'note', version: a.version, note: 'x', extra: 1 });
    assert.equal(u2.status, 400);
    assert.equal(u2.json.error.field, 'extra');

    const f = await create(cun, contact(DONGHU));
    const noReason = await act(cun, f.id, 'refuse', {}, 422);
    assert.equal(noReason.error.field, 'reason');
    const ref = await act(cun, f.id, 'refuse', { reason: '不属于退役军人事务部门职责' });
    assert.equal(ref.status, 'refused');
    assert.equal(ref.refuse_reason, '不属于退役军人事务部门职责');
    // The refusal is what the requester is told: it is on record as the reply.
    assert.match(ref.reply.content, /不属于退役军人事务部门职责/);
    await act(cun, f.id, 'accept', {}, 409);
    assert.deepEqual(events(s.dir, f.id), ['request.create', 'request.refuse']);
  });

  it('assigns to a station and a staff member, with a notice to the assignee', async () => {
    const r = await create(danghu, contact(DONGHU));
    const dm = await me(danghu), cm = await me(cun);
    // Pull it to the town and give it to danghu.
    const a = await act(danghu, r.id, 'assign', { station_id: dm.station.id, assignee_id: dm.id, note: '镇街直接办理' });
    assert.equal(a.station_id, dm.station.id);
    assert.equal(a.assignee_id, dm.id);
    assert.equal(a.timeline.at(-1).from_station, '东湖社区退役军人服务站');
    assert.equal(a.timeline.at(-1).to_station, '当湖街道退役军人服务站');
    assert.ok((await notices(danghu)).some((n) => n.request_id === r.id && n.kind === 'assigned'));
    const mine = await danghu.get(`${R}?queue=mine&size=200`);
    assert.ok(mine.json.items.some((i) => i.id === r.id));
    // A user of another station cannot be the assignee.
    const bad = await act(danghu, r.id, 'assign', { assignee_id: cm.id }, 422);
    assert.equal(bad.error.field, 'assignee_id');
    // Outside the scope: no.
    const zm = await me(zhapu);
    const out = await act(danghu, r.id, 'assign', { station_id: zm.station.id }, 422);
    assert.equal(out.error.field, 'station_id');
    assert.deepEqual(auditRows(s.dir, `event = 'request.assign' AND object_id = '${r.id}'`).length, 1);
  });

  it('transfers down with a reason; escalates up level by level; the center is the top', async () => {
    const cm = await me(cun), dm = await me(danghu), centerMe = await me(center);
    const r = await create(center, contact(DONGHU));
    assert.equal(r.station_id, cm.station.id);                      // the village owning the region
    await act(center, r.id, 'assign', { station_id: centerMe.station.id, note: '中心先行研判' });
    await act(center, r.id, 'transfer', { station_id: cm.station.id }, 422);  // reason required
    const t = await act(center, r.id, 'transfer', { station_id: cm.station.id, reason: '请村社区上门核实' });
    assert.equal(t.station_id, cm.station.id);
    assert.equal(t.assignee_id, null);
    assert.deepEqual([t.timeline.at(-1).action, t.timeline.at(-1).from_station, t.timeline.at(-1).to_station],
      ['transfer', '平湖市退役军人服务中心', '东湖社区退役军人服务站']);
    assert.ok((await notices(cun)).some((n) => n.request_id === r.id && n.kind === 'transferred'));
    // "Transfer" never goes up: that is escalation.
    const up = await act(danghu, r.id, 'transfer', { station_id: dm.station.id, reason: '收回' }, 422);
    assert.equal(up.error.field, 'station_id');

    await act(cun, r.id, 'escalate', {}, 422);
    const e1 = await act(cun, r.id, 'escalate', { reason: '涉及镇级政策，村级无法答复' });
    assert.equal(e1.station_id, dm.station.id);
    assert.ok((await notices(danghu)).some((n) => n.request_id === r.id && n.kind === 'escalated'));
    // The village still sees its resident's request but no longer handles it.
    const seen = await cun.get(`${R}/${r.id}`);
    assert.equal(seen.status, 200);
    assert.deepEqual(seen.json.actions, ['note']);
    const no = await act(cun, r.id, 'accept', {}, 403);
    assert.equal(no.error.code, 'forbidden');
    await act(cun, r.id, 'note', { note: '村里可以协助联系本人' });
    const e2 = await act(danghu, r.id, 'escalate', { reason: '需市级协调' });
    assert.equal(e2.station_id, centerMe.station.id);
    assert.equal(e2.station_level, 'center');
    assert.ok(!e2.actions.includes('escalate'));
    const top = await act(center, r.id, 'escalate', { reason: '再上报' }, 422);
    assert.match(top.error.message, /最高一级/);
    assert.deepEqual(events(s.dir, r.id),
      ['request.create', 'request.assign', 'request.transfer', 'request.escalate', 'request.note', 'request.escalate']);
  });

  it('asks another station for help (协办): it sees the request and adds notes, but does not handle it', async () => {
    const zm = await me(zhapu);
    const r = await create(danghu, contact(DANGHU_TOWN));
    await act(danghu, r.id, 'accept');
    assert.equal((await zhapu.get(`${R}/${r.id}`)).status, 404);
    const h = await act(danghu, r.id, 'help', { station_id: zm.station.id, note: '请核实申请人在乍浦的就业情况' });
    assert.deepEqual(h.helpers.map((x) => x.station_name), ['乍浦镇退役军人服务站']);
    assert.ok((await notices(zhapu)).some((n) => n.request_id === r.id && n.kind === 'help'));
    const g = await zhapu.get(`${R}/${r.id}`);
    assert.equal(g.status, 200);
    assert.deepEqual(g.json.actions, ['note']);
    const helpQ = await zhapu.get(`${R}?queue=help`);
    assert.deepEqual(helpQ.json.items.map((i) => i.id), [r.id]);
    await act(zhapu, r.id, 'note', { note: '已核实：在乍浦某企业就业' });
    await act(zhapu, r.id, 'reply', { content: '答复', channel: '电话' }, 403);
    await act(danghu, r.id, 'help', { station_id: zm.station.id, note: '再次' }, 422);   // already helping
    const n = auditRows(s.dir, `event = 'request.note' AND object_id = '${r.id}'`);
    assert.equal(n[0].username, 'zhapu');
  });

  it('an extension needs a reason and the approval of the level above; it moves the deadline', async () => {
    const r = await create(cun, contact(DONGHU));
    const a = await act(cun, r.id, 'accept');
    const start = cnDay(a.accepted_at);
    await act(cun, r.id, 'extend', { workdays: 3 }, 422);                         // reason
    await act(cun, r.id, 'extend', { reason: '需调取档案', workdays: 6 }, 422);     // over the SLA's 5
    const e = await act(cun, r.id, 'extend', { reason: '需调取档案', workdays: 3 });
    assert.equal(e.extension_pending.workdays, 3);
    assert.equal(e.due_date, a.due_date);                                          // not before approval
    await act(cun, r.id, 'extend', { reason: '再延', workdays: 1 }, 422);           // one pending at a time
    assert.ok((await notices(danghu)).some((n) => n.request_id === r.id && n.kind === 'extension_request'));
    // The village cannot approve its own; the town (level above) can.
    assert.ok(!e.actions.includes('approve_extension'));
    const selfApprove = await cun.post(`${R}/${r.id}/actions`, { action: 'approve_extension', version: e.version });
    assert.equal(selfApprove.status, 403);
    const dv = await danghu.get(`${R}/${r.id}`);
    assert.ok(dv.json.actions.includes('approve_extension'));
    const ok = await act(danghu, r.id, 'approve_extension', { note: '同意' });
    assert.equal(ok.extensions_used, 1);
    assert.equal(ok.extension_pending, null);
    assert.equal(ok.due_date, addWorkdays(start, 5 + 3));
    assert.ok((await notices(cun)).some((n) => n.request_id === r.id && n.kind === 'extension_decided'));
    // 政策咨询/普通 allows one extension.
    const more = await act(cun, r.id, 'extend', { reason: '还要延', workdays: 2 }, 422);
    assert.match(more.error.message, /次数已用完/);

    // A town's own request: the town cannot approve it, the center can; a rejection keeps the deadline.
    const t = await create(danghu, contact(DANGHU_TOWN));
    const ta = await act(danghu, t.id, 'accept');
    await act(danghu, t.id, 'extend', { reason: '等待上级答复', workdays: 2 });
    await act(danghu, t.id, 'approve_extension', {}, 403);
    await act(center, t.id, 'reject_extension', {}, 422);                          // reason
    const rj = await act(center, t.id, 'reject_extension', { reason: '可在期限内办结' });
    assert.equal(rj.extensions_used, 0);
    assert.equal(rj.due_date, ta.due_date);
    assert.deepEqual(events(s.dir, r.id), ['request.create', 'request.accept', 'request.extend', 'request.approve_extension']);
  });

  it('a request cannot be closed without a reply — not through the API, not in the database', async () => {
    const r = await create(cun, contact(DONGHU));
    await act(cun, r.id, 'accept');
    const c = await act(cun, r.id, 'close', {}, 409);
    assert.equal(c.error.code, 'invalid_state');
    assert.equal(q1(s.dir, `SELECT status FROM requests WHERE id = ${r.id}`), 'accepted');
    // Even a direct write is refused by the database.
    assert.throws(() => sqlExec(s.dir,
      `UPDATE requests SET status = 'closed', closed_at = '2026-01-01T00:00:00Z' WHERE id = ${r.id}`));
    assert.equal(q1(s.dir, `SELECT status FROM requests WHERE id = ${r.id}`), 'accepted');
    assert.throws(() => sqlExec(s.dir, `DELETE FROM requests WHERE id = ${r.id}`));
    await act(cun, r.id, 'reply', { content: '已电话答复' }, 422);                 // channel
    const rp = await act(cun, r.id, 'reply', { content: '已电话答复政策规定', channel: '电话' });
    assert.equal(rp.status, 'replied');
    assert.equal(rp.reply.content, '已电话答复政策规定');
    assert.equal(rp.reply.channel_name, '电话');
    assert.equal(rp.replied_on_time, true);
    const cl = await act(cun, r.id, 'close', { note: '办结' });
    assert.equal(cl.status, 'closed');
    assert.ok(cl.closed_at);
    const v = await act(cun, r.id, 'visit', { satisfaction: '满意', note: '回访满意' });
    assert.equal(v.status, 'closed');
    assert.equal(v.satisfaction_name, '满意');
    await act(cun, r.id, 'visit', { satisfaction: '满意' }, 409);                   // one visit per closing
    assert.deepEqual(events(s.dir, r.id),
      ['request.create', 'request.accept', 'request.reply', 'request.close', 'request.visit']);
  });

  it('a return visit 不满意 reopens the request one level above, with a new deadline and no reply', async () => {
    const dm = await me(danghu);
    const r = await create(cun, contact(DONGHU));
    await act(cun, r.id, 'accept');
    await act(cun, r.id, 'reply', { content: '已答复', channel: '来访' });
    await act(cun, r.id, 'close');
    const v = await act(cun, r.id, 'visit', { satisfaction: '不满意', note: '问题未解决' });
    assert.equal(v.status, 'accepted');
    assert.equal(v.station_id, dm.station.id);
    assert.equal(v.reopen_count, 1);
    assert.equal(v.reply, null);
    assert.equal(v.closed_at, null);
    assert.equal(v.satisfaction_name, '不满意');
    assert.deepEqual(v.timeline.slice(-2).map((e) => e.action), ['visit', 'reopen']);
    assert.equal(v.timeline.at(-1).to_station, '当湖街道退役军人服务站');
    assert.equal(v.due_date, addWorkdays(cnDay(v.accepted_at), 5));
    assert.ok((await notices(danghu)).some((n) => n.request_id === r.id && n.kind === 'reopened'));
    // The town handles it now; closing needs a new reply.
    await act(danghu, r.id, 'close', {}, 409);
    await act(danghu, r.id, 'reply', { content: '镇街重新核实后答复', channel: '来访' });
    await act(danghu, r.id, 'close');
    const row = sql(s.dir, `SELECT status, reopen_count, first_reply_at IS NOT NULL AS ever FROM requests WHERE id = ${r.id}`)[0];
    assert.deepEqual(row, { status: 'closed', reopen_count: 1, ever: 1 });
    const a = auditRows(s.dir, `event = 'request.visit' AND object_id = '${r.id}'`);
    assert.equal(JSON.parse(a[0].detail).reopened, true);
  });

  it('代办 (评残): materials and the written authorisation first, then steps handed between the levels', async () => {
    const dm = await me(danghu), centerMe = await me(center);
    const r = await create(cun, { ...contact(DONGHU, '李卫东'), category: '代办事项', proxy_type: '评残', content: '申请评残' });
    assert.equal(r.proxy.type_name, '评残');
    assert.equal(r.proxy.step, 1);
    assert.equal(r.proxy.steps.length, 6);
    assert.deepEqual(r.proxy.steps.map((x) => x.level), ['village', 'town', 'center', 'center', 'center', 'town']);
    assert.ok(r.proxy.materials.some((m) => m.authorization));
    await act(cun, r.id, 'accept');
    // Not without the materials.
    const early = await act(cun, r.id, 'proxy_step', { note: '申请受理' }, 422);
    assert.equal(early.error.field, 'materials');
    assert.match(early.error.message, /书面授权委托书/);
    const today = cnDay(new Date().toISOString());
    await act(cun, r.id, 'material', { name: '书面授权委托书', received_at: '2999-01-01' }, 422);   // future
    await act(cun, r.id, 'material', { name: '书面授权委托书', received_at: today, returned_at: '2000-01-01' }, 422);
    for (const m of r.proxy.materials.filter((x) => x.required || x.authorization))
      await act(cun, r.id, 'material', { name: m.name, received_at: today });
    const extra = await act(cun, r.id, 'material', { name: '残疾军人证复印件', received_at: today, note: '补充' });
    assert.equal(extra.proxy.authorized_at, today);
    assert.ok(extra.proxy.materials.some((m) => m.name === '残疾军人证复印件' && !m.required));
    // Step 1 done at the village: handed to the town.
    const s1 = await act(cun, r.id, 'proxy_step', { note: '材料齐全，报镇街' });
    assert.equal(s1.proxy.step, 2);
    assert.equal(s1.proxy.step_name, '镇街初审');
    assert.equal(s1.station_id, dm.station.id);
    assert.equal(s1.timeline.at(-1).to_station, '当湖街道退役军人服务站');
    assert.ok((await notices(danghu)).some((n) => n.request_id === r.id && n.kind === 'handoff'));
    await act(cun, r.id, 'proxy_step', {}, 403);
    await act(danghu, r.id, 'reply', { content: '结果', channel: '电话' }, 422);     // not before the result
    // Town review done: to the center, whose review does not count against the SLA.
    const s2 = await act(danghu, r.id, 'proxy_step', { note: '初审同意' });
    assert.equal(s2.station_id, centerMe.station.id);
    assert.equal(s2.paused, true);
    assert.match(s2.pause_reason, /不计入办理时限/);
    assert.equal(s2.status, 'accepted');
    for (const note of ['审核通过', '鉴定为七级', '公示无异议']) await act(center, r.id, 'proxy_step', { note });
    const back = await center.get(`${R}/${r.id}`);
    assert.equal(back.json.proxy.step_name, '结果送达');
    assert.equal(back.json.station_id, dm.station.id);
    assert.equal(back.json.paused, false);
    const done = await act(danghu, r.id, 'proxy_step', { note: '评残结果已送达本人' });
    assert.equal(done.proxy.done, true);
    assert.ok(done.proxy.steps.every((x) => x.done_at));
    await act(danghu, r.id, 'proxy_step', {}, 409);
    await act(danghu, r.id, 'reply', { content: '评定为七级残疾，证件已送达', channel: '来访' });
    await act(danghu, r.id, 'close');
    assert.equal(q1(s.dir, `SELECT COUNT(*) FROM request_pauses WHERE request_id = ${r.id} AND kind = 'authority' AND to_day IS NOT NULL`), 1);
    const ev = events(s.dir, r.id);
    assert.equal(ev.filter((e) => e === 'request.proxy_step').length, 6);
    assert.equal(ev.filter((e) => e === 'request.material').length, 7);
    // A plain request has no materials checklist.
    const plain = await create(cun, contact(DONGHU));
    await act(cun, plain.id, 'material', { name: 'x', received_at: today }, 422);
  });

  it('jurisdiction: 乍浦 does not see 当湖 requests — 404 by id, absent from lists, queues and figures', async () => {
    const r = await create(danghu, contact(NANHE));
    assert.equal((await zhapu.get(`${R}/${r.id}`)).status, 404);
    const post = await zhapu.post(`${R}/${r.id}/actions`, { action: 'note', version: 1, note: '越权' });
    assert.equal(post.status, 404);
    assert.equal((await zhapu.get(`${R}?q=${r.no}`)).json.total, 0);
    assert.equal((await danghu.get(`${R}?q=${r.no}`)).json.total, 1);
    // The village next door neither.
    assert.equal((await cun.get(`${R}/${r.id}`)).status, 404);
    // Every request zhapu lists is 乍浦's, or one it was asked to help with (协办).
    const all = await zhapu.get(`${R}?size=200`);
    const zDb = q1(s.dir, `SELECT COUNT(*) FROM requests r JOIN stations st ON st.id = r.station_id
      WHERE r.region_code LIKE '330482101%' OR st.region_code LIKE '330482101%' OR EXISTS (SELECT 1 FROM request_helpers h
      JOIN stations hs ON hs.id = h.station_id WHERE h.request_id = r.id AND hs.region_code LIKE '330482101%')`);
    const helped = sql(s.dir, `SELECT h.request_id AS id FROM request_helpers h JOIN stations hs ON hs.id = h.station_id
      WHERE hs.region_code LIKE '330482101%'`).map((x) => x.id);
    assert.equal(all.json.total, zDb);
    assert.ok(all.json.items.every((i) => i.region_code.startsWith('330482101') || helped.includes(i.id)));
    assert.ok(!all.json.items.some((i) => i.id === r.id));
    const st = await zhapu.get(`${R}/stats?from=2000-01-01`);
    assert.equal(st.status, 200);
    assert.ok(st.json.by_station.every((x) => x.region_code.startsWith('330482101')));
    assert.equal(st.json.totals.received, q1(s.dir, `SELECT COUNT(*) FROM requests r JOIN stations st ON st.id = r.station_id
      WHERE st.region_code LIKE '330482101%'`));
    assert.ok(st.json.unreplied.every((x) => x.id !== r.id));
    const queues = await zhapu.get(`${R}/queues`);
    assert.equal(queues.status, 200);
    // Leaders read but do not act.
    assert.equal((await leader.get(`${R}/${r.id}`)).status, 200);
    assert.equal((await leader.post(`${R}/${r.id}/actions`, { action: 'note', version: 1, note: 'x' })).status, 403);
  });

  it('lists queues, sorts by urgency and days waiting, and bulk-reassigns', async () => {
    const dm = await me(danghu);
    const a = await create(danghu, { ...contact(DONGHU), urgency: '特急' });
    const b = await create(danghu, { ...contact(NANHE), urgency: '普通' });
    const st = await danghu.get(`${R}?status=received&sort=-urgency,waiting&size=200`);
    assert.equal(st.status, 200);
    const ids = st.json.items.map((i) => i.id);
    assert.ok(ids.indexOf(a.id) < ids.indexOf(b.id));
    assert.equal((await danghu.get(`${R}?queue=nonsense`)).status, 422);
    assert.equal((await danghu.get(`${R}?sort=password`)).status, 422);
    assert.equal((await danghu.get(`${R}?sort=no,-status,urgency`)).status, 422);   // a fixed set of orders only
    assert.equal((await danghu.get(`${R}?sort=-due_date&queue=open`)).status, 200);
    const z = await create(zhapu, contact(HAIBIN));
    const bulk = await danghu.post(`${R}/bulk-assign`, { ids: [a.id, b.id, z.id], station_id: dm.station.id, assignee_id: dm.id });
    assert.equal(bulk.status, 200, JSON.stringify(bulk.json));
    assert.deepEqual(bulk.json.assigned, [a.id, b.id]);
    assert.deepEqual(bulk.json.failed.map((f) => f.id), [z.id]);
    assert.match(bulk.json.failed[0].message, CHINESE);
    assert.equal(q1(s.dir, `SELECT station_id FROM requests WHERE id = ${z.id}`), z.station_id);
    const mine = await danghu.get(`${R}?queue=mine&size=200`);
    assert.ok([a.id, b.id].every((id) => mine.json.items.some((i) => i.id === id)));
    assert.equal(auditRows(s.dir, `event = 'request.assign' AND object_id IN ('${a.id}','${b.id}')`).length, 2);
    assert.equal((await cun.post(`${R}/bulk-assign`, { ids: [a.id], station_id: dm.station.id })).status, 403);
    const q = await danghu.get(`${R}/queues`);
    assert.ok(q.json.mine >= 2);
  });

  it('keeps attachments in the timeline; reading one is audited', async () => {
    const r = await create(cun, contact(DONGHU));
    const bytes = Buffer.from('%PDF-1.4 申请材料扫描件');
    const up = await cun.upload(`${R}/${r.id}/attachments`, bytes, '户口簿.pdf');
    assert.equal(up.status, 201, JSON.stringify(up.json));
    assert.equal(up.json.filename, '户口簿.pdf');
    const g = await cun.get(`${R}/${r.id}`);
    assert.deepEqual(g.json.attachments.map((x) => x.filename), ['户口簿.pdf']);
    assert.equal(g.json.timeline.at(-1).action, 'attach');
    const dl = await danghu.get(`${R}/${r.id}/attachments/${up.json.id}`, { raw: true });
    assert.equal(dl.status, 200);
    assert.deepEqual(Buffer.from(dl.body), bytes);
    assert.equal((await zhapu.get(`${R}/${r.id}/attachments/${up.json.id}`)).status, 404);
    assert.deepEqual(events(s.dir, r.id), ['request.create', 'request.attach', 'request.attachment_view']);
  });

  it('notices are per user: read one, read all', async () => {
    const list = await notices(danghu);
    assert.ok(list.length > 0);
    const n = list.find((x) => !x.read);
    const rd = await danghu.post(`/api/v1/notices/${n.id}/read`);
    assert.equal(rd.status, 200);
    const after1 = await danghu.get('/api/v1/notices?unread=1&size=200');
    assert.ok(!after1.json.items.some((x) => x.id === n.id));
    // Someone else's notice is not found.
    assert.equal((await zhapu.post(`/api/v1/notices/${n.id}/read`)).status, 404);
    await danghu.post('/api/v1/notices/read-all');
    assert.equal((await danghu.get('/api/v1/notices')).json.unread, 0);
  });
});

// ---- the rule data: calendar, SLA, categories (administrator) ----

describe('requests: calendar, SLA and categories are data, edited with audit', () => {
  let s, admin, danghu;
  before(async () => {
    s = await freshServer();
    admin = s.client();
    const pw = s.accounts.sysadmin.password;
    assert.equal((await admin.login('sysadmin', pw)).status, 200);
    const ch = await admin.post('/api/v1/auth/password', { old_password: pw, new_password: 'Adm1n#Calendar2026' });
    assert.ok(ch.status < 300, JSON.stringify(ch.json));
    danghu = await s.login('danghu');
  });
  after(async () => { await s?.cleanup(); });

  it('serves the shipped calendar and lets an administrator add a year', async () => {
    const y = await danghu.get('/api/v1/calendar?year=2026');
    assert.equal(y.status, 200);
    assert.ok(y.json.items.some((d) => d.date === '2026-10-10' && d.kind === '班'));
    assert.deepEqual(y.json.years.map((x) => x.year).slice(0, 3), [2024, 2025, 2026]);
    assert.equal((await danghu.post('/api/v1/calendar', { year: 2027, rows: [] })).status, 403);
    const bad = await admin.post('/api/v1/calendar', { year: 2027, rows: [{ date: '2027-01-01', kind: '休', name: '元旦' },
      { date: '2027-02-03', kind: '班', name: '周三不是调休日' }] });
    assert.equal(bad.status, 422);
    assert.equal(bad.json.error.field, 'rows[1]');
    assert.match(bad.json.error.message, /周六或周日/);
    const ok = await admin.post('/api/v1/calendar', { year: 2027, rows: [{ date: '2027-01-01', kind: '休', name: '元旦' },
      { date: '2027-02-06', kind: '班', name: '春节调休上班' }] });
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    const y7 = await danghu.get('/api/v1/calendar?year=2027');
    assert.deepEqual(y7.json.items.map((d) => [d.date, d.kind, d.source]), [['2027-01-01', '休', 'admin'], ['2027-02-06', '班', 'admin']]);
    const a = auditRows(s.dir, "event = 'calendar.update'");
    assert.equal(a.length, 1);
    assert.equal(a[0].username, 'sysadmin');
  });

  it('adds a category, which needs an SLA row before intake; renamed codes survive a restart', async () => {
    const put = await admin.put('/api/v1/codes/request_category/9', { name: '法律援助' });
    assert.equal(put.status, 201, JSON.stringify(put.json));
    assert.equal(put.json.has_sla, false);
    const noSla = await danghu.post(R, { channel: '1', category: '法律援助', urgency: '1', content: '申请法律援助', ...contact(DONGHU) });
    assert.equal(noSla.status, 422);
    assert.equal(noSla.json.error.field, 'category');
    const sla = await admin.post('/api/v1/sla', { category: '9', urgency: '普通', response_hours: 24, conclude_workdays: 10,
      extensions: 1, extension_workdays: 5, effective_from: '2024-01-01', note: '新增类别' });
    assert.equal(sla.status, 201, JSON.stringify(sla.json));
    assert.equal((await admin.post('/api/v1/sla', { category: '9', urgency: '普通', response_hours: 24, conclude_workdays: 10,
      extensions: 1, extension_workdays: 5, effective_from: '2024-01-01' })).status, 409);
    const r = await create(danghu, { category: '法律援助', ...contact(DONGHU) });
    assert.equal(r.category, '9');
    // A later rule applies to requests accepted from its date only.
    const later = await admin.post('/api/v1/sla', { category: '9', urgency: '普通', response_hours: 24, conclude_workdays: 3,
      extensions: 0, extension_workdays: 0, effective_from: '2999-01-01' });
    assert.equal(later.status, 201);
    const list = await danghu.get('/api/v1/sla');
    assert.ok(list.json.items.some((x) => x.category === '9' && x.effective_from === '2024-01-01' && x.current));
    assert.ok(list.json.items.some((x) => x.category === '9' && x.effective_from === '2999-01-01' && !x.current));
    const cun = await s.login('cun');
    const acc = await act(cun, r.id, 'accept');
    assert.equal(acc.sla.conclude_workdays, 10);
    // Rename a shipped category; data/codes is reloaded at start, the edit must stay.
    assert.equal((await admin.put('/api/v1/codes/request_category/8', { name: '政策咨询' })).status, 409);   // duplicate name
    assert.equal((await admin.put('/api/v1/codes/request_category/8', { name: '其他事项' })).status, 200);
    assert.equal((await danghu.put('/api/v1/codes/request_category/8', { name: 'x' })).status, 403);
    assert.deepEqual(auditRows(s.dir, "event = 'code.update'").map((a) => a.object_id),
      ['request_category/9', 'request_category/8']);
    await s.stop();
    const s2 = await launch(s.dir);
    try {
      const d2 = await s2.login('danghu');
      const codes = await d2.get('/api/v1/codes/request_category');
      assert.ok(codes.json.items.some((c) => c.code === '8' && c.name === '其他事项'));
      assert.ok(codes.json.items.some((c) => c.code === '9' && c.name === '法律援助'));
      const cal = await d2.get('/api/v1/calendar?year=2027');
      assert.equal(cal.json.items.length, 2);       // the administrator's year is not overwritten
    } finally { await s2.stop(); }
  });
});

// ---- deadlines on the real calendar, pause/resume, and the job (pinned clock) ----

describe('requests: deadlines across 中秋/国庆 2026 and the deadline job', () => {
  let s, danghu, cun, center;
  // Thursday 2026-09-24, 10:00 in Shanghai. 9/25–27 中秋 off, 10/1–7 国庆 off, 10/10 (Saturday) is worked.
  const T0 = '2026-09-24T02:00:00Z';
  const at = async (instant) => { await setClock(s, instant); [danghu, cun, center] = await logins(s, 'danghu', 'cun', 'center'); };
  const ids = {};
  before(async () => {
    s = await freshServer();
    await at(T0);
    for (const k of ['plain', 'paused', 'extended', 'late', 'soon']) {
      const r = await create(cun, contact(DONGHU, `期限${k}`));
      await act(cun, r.id, 'accept');
      ids[k] = r.id;
    }
    ids.unaccepted = (await create(cun, { ...contact(DONGHU, '未受理'), urgency: '特急' })).id;
  });
  after(async () => { await s?.cleanup(); });

  it('counts 5 working days from 9/24 across 中秋 and 国庆: due 10/9', async () => {
    const g = await cun.get(`${R}/${ids.plain}`);
    assert.equal(cnDay(g.json.accepted_at), '2026-09-24');
    assert.equal(g.json.due_date, '2026-10-09');     // 9/28, 9/29, 9/30, 10/8, 10/9
    assert.equal(g.json.due_date, addWorkdays('2026-09-24', 5));
    assert.equal(g.json.workdays_left, 5);
    // 特急 has one hour to respond.
    const u = await cun.get(`${R}/${ids.unaccepted}`);
    assert.equal(Date.parse(u.json.response_due) - Date.parse(u.json.created_at), 3600 * 1000);
  });

  it('pauses while waiting for materials and resumes: the deadline moves by the working days waited', async () => {
    const p = await act(cun, ids.paused, 'pause', { reason: '等待申请人补充户口簿复印件' });
    assert.equal(p.status, 'waiting');
    assert.equal(p.paused, true);
    assert.equal(p.pause_reason, '等待申请人补充户口簿复印件');
    assert.ok(p.actions.includes('resume') && !p.actions.includes('reply'));
    await act(cun, ids.paused, 'pause', { reason: '再暂停' }, 409);
    await act(cun, ids.paused, 'reply', { content: 'x', channel: '电话' }, 409);
    const w = await cun.get(`${R}?queue=waiting`);
    assert.deepEqual(w.json.items.map((i) => i.id), [ids.paused]);
    // Materials arrive Tuesday 9/29: 9/28 did not count, 9/29 does.
    await at('2026-09-29T02:00:00Z');
    const waiting = await cun.get(`${R}/${ids.paused}`);
    assert.equal(waiting.json.overdue, false);
    const r = await act(cun, ids.paused, 'resume', { note: '材料已补齐' });
    assert.equal(r.status, 'accepted');
    assert.equal(r.paused, false);
    assert.equal(r.due_date, '2026-10-10');     // 9/29, 9/30, 10/8, 10/9 and the 调休 Saturday 10/10
    assert.match(r.timeline.at(-1).note, /2026-10-10/);
    assert.deepEqual(sql(s.dir, `SELECT from_day, to_day, kind FROM request_pauses WHERE request_id = ${ids.paused}`),
      [{ from_day: '2026-09-24', to_day: '2026-09-29', kind: 'materials' }]);
    assert.deepEqual(events(s.dir, ids.paused), ['request.create', 'request.accept', 'request.pause', 'request.resume']);
  });

  it('an approved extension of 3 working days moves 10/9 to 10/13', async () => {
    await act(cun, ids.extended, 'extend', { reason: '需调取服役档案', workdays: 3 });
    const ok = await act(danghu, ids.extended, 'approve_extension', {});
    assert.equal(ok.due_date, '2026-10-13');    // 10/10 (班), 10/12, 10/13
  });

  it('marks due soon, then the job escalates the overdue request one level up, with timeline, audit and notice', async () => {
    // Thursday 10/8: 10/9 is the next working day — due soon.
    await at('2026-10-08T02:00:00Z');
    const soon = await cun.get(`${R}/${ids.soon}`);
    assert.equal(soon.json.due_soon, true);
    assert.equal(soon.json.workdays_left, 1);
    const dsq = await cun.get(`${R}?queue=due_soon`);
    assert.ok(dsq.json.items.some((i) => i.id === ids.soon));
    const j1 = await danghu.post(`${R}/run-deadline-job`);
    assert.equal(j1.status, 200);
    const soonAfter = await cun.get(`${R}/${ids.soon}`);
    assert.equal(soonAfter.json.timeline.at(-1).action, 'due_soon');
    assert.equal(soonAfter.json.timeline.at(-1).system, true);
    assert.ok((await notices(cun)).some((n) => n.request_id === ids.soon && n.kind === 'due_soon'));
    // The unanswered 特急 one was past its one hour long ago: already escalated to the town.
    const un = await cun.get(`${R}/${ids.unaccepted}`);
    assert.equal(un.json.station_name, '当湖街道退役军人服务站');
    assert.deepEqual(un.json.timeline.slice(-2).map((e) => e.action), ['overdue', 'auto_escalate']);
    // Running again changes nothing (marked once).
    await danghu.post(`${R}/run-deadline-job`);
    assert.equal(q1(s.dir, `SELECT COUNT(*) FROM request_events WHERE request_id = ${ids.soon} AND action = 'due_soon'`), 1);

    // Monday 10/12: 10/9 has passed.
    await at('2026-10-12T02:00:00Z');
    const before = await cun.get(`${R}/${ids.late}`);
    assert.equal(before.json.overdue, true);
    assert.equal(before.json.workdays_left, -2);     // 10/10 (班) and 10/12
    const oq = await danghu.get(`${R}?queue=overdue&size=200`);
    assert.ok(oq.json.items.some((i) => i.id === ids.late));
    // Escalated by hand while overdue: the town gets its grace, the job does not push it on at once.
    await act(cun, ids.plain, 'escalate', { reason: '村级无法办结' });
    const j2 = await danghu.post(`${R}/run-deadline-job`);
    assert.equal(j2.status, 200);
    const dm = await me(danghu);
    assert.equal(q1(s.dir, `SELECT station_id FROM requests WHERE id = ${ids.plain}`), dm.station.id);
    assert.equal(q1(s.dir, `SELECT COUNT(*) FROM request_events WHERE request_id = ${ids.plain} AND action = 'auto_escalate'`), 0);
    const esc = await danghu.get(`${R}/${ids.late}`);
    assert.equal(esc.json.station_id, dm.station.id);
    assert.equal(esc.json.assignee_id, null);
    const last2 = esc.json.timeline.slice(-2);
    assert.deepEqual(last2.map((e) => [e.action, e.username, e.system]), [['overdue', '系统', true], ['auto_escalate', '系统', true]]);
    assert.equal(last2[1].from_station, '东湖社区退役军人服务站');
    assert.equal(last2[1].to_station, '当湖街道退役军人服务站');
    const au = auditRows(s.dir, `object_id = '${ids.late}' AND event IN ('request.overdue', 'request.escalate')`);
    assert.deepEqual(au.map((a) => [a.event, a.username]), [['request.overdue', null], ['request.escalate', null]]);
    assert.equal(JSON.parse(au[1].detail).auto, true);
    assert.ok((await notices(danghu)).some((n) => n.request_id === ids.late && n.kind === 'escalated'));
    // The town gets its grace (2 working days: to 10/14) before the next step.
    await danghu.post(`${R}/run-deadline-job`);
    assert.equal((await danghu.get(`${R}/${ids.late}`)).json.station_id, dm.station.id);
    await at('2026-10-15T02:00:00Z');
    await danghu.post(`${R}/run-deadline-job`);
    const top = await center.get(`${R}/${ids.late}`);
    assert.equal(top.json.station_level, 'center');
    await center.post(`${R}/run-deadline-job`);
    assert.equal(q1(s.dir, `SELECT COUNT(*) FROM request_events WHERE request_id = ${ids.late} AND action = 'auto_escalate'`), 2);
    // The paused-then-resumed one was due 10/10 and the extended one 10/13: both overdue and escalated too.
    assert.equal(q1(s.dir, `SELECT COUNT(*) FROM request_events WHERE request_id = ${ids.extended} AND action = 'auto_escalate'`), 1);
  });

  it('the job thread runs by itself on the injectable clock', async () => {
    const r = await create(cun, contact(DONGHU, '线程'));
    await act(cun, r.id, 'accept');
    const due = (await cun.get(`${R}/${r.id}`)).json.due_date;
    sql(s.dir, "UPDATE settings SET value = '1' WHERE key = 'requests.job_interval_seconds'");
    await at(`${addWorkdays(due, 1)}T02:00:00Z`);
    let owner;
    for (let i = 0; i < 40; i++) {
      owner = q1(s.dir, `SELECT s.level FROM requests r JOIN stations s ON s.id = r.station_id WHERE r.id = ${r.id}`);
      if (owner === 'town') break;
      await new Promise((ok) => setTimeout(ok, 100));
    }
    assert.equal(owner, 'town');
    sql(s.dir, "UPDATE settings SET value = '0' WHERE key = 'requests.job_interval_seconds'");
  });
});

// ---- a year whose holidays are not entered yet ----

describe('requests: deadlines in a year without its holiday calendar', () => {
  let s, cun, center, admin, rid;
  before(async () => {
    s = await freshServer();
    admin = s.client();
    const pw = s.accounts.sysadmin.password;
    assert.equal((await admin.login('sysadmin', pw)).status, 200);
    assert.equal((await admin.post('/api/v1/auth/password', { old_password: pw, new_password: 'Adm1n#Calendar2026' })).status, 200);
    // Monday 2026-12-21: 15 working days on run into 2027, which data/calendar does not have.
    await setClock(s, '2026-12-21T02:00:00Z');
    [cun, center] = await logins(s, 'cun', 'center');
    assert.equal((await admin.login('sysadmin', 'Adm1n#Calendar2026')).status, 200);
    const r = await create(cun, { ...contact(DONGHU, '跨年'), category: '就业创业' });
    await act(cun, r.id, 'accept');
    rid = r.id;
  });
  after(async () => { await s?.cleanup(); });

  it('shows the deadline as estimated, and the job tells the centre once', async () => {
    const g = (await cun.get(`${R}/${rid}`)).json;
    assert.ok(g.due_date > '2026-12-31', g.due_date);
    assert.equal(g.due_estimated, true);
    assert.equal((await cun.get(`${R}?size=50`)).json.items.find((i) => i.id === rid).due_estimated, true);
    for (let i = 0; i < 2; i++) assert.equal((await center.post(`${R}/run-deadline-job`, {})).status, 200);
    const n = (await notices(center)).filter((x) => x.kind === 'calendar');
    assert.equal(n.length, 1, JSON.stringify(n));
    assert.match(n[0].message, /2027年节假日安排/);
    assert.equal(auditRows(s.dir, "event = 'calendar.missing' AND object_id = '2027'").length, 1);
    // The page for the administrator is told the same year, by the server's clock.
    const cal = (await admin.get('/api/v1/calendar')).json;
    assert.equal(cal.needed_year, 2027);
    assert.ok(!cal.years.some((y) => y.year === 2027));
    // The lead time is a setting (the security administrator's): with none,
    // 2027 is needed only once it has begun.
    const sec = s.client();
    const spw = s.accounts.secadmin.password;
    assert.equal((await sec.login('secadmin', spw)).status, 200);
    assert.equal((await sec.post('/api/v1/auth/password', { old_password: spw, new_password: 'Sec#Calendar2026x' })).status, 200);
    assert.equal((await sec.login('secadmin', 'Sec#Calendar2026x')).status, 200);
    const set = await sec.patch('/api/v1/settings', { 'requests.calendar_lead_months': 0 });
    assert.equal(set.status, 200, JSON.stringify(set.json));
    assert.equal(sql(s.dir, "SELECT value FROM settings WHERE key = 'requests.calendar_lead_months'")[0].value, '0');
    assert.equal(auditRows(s.dir, "event = 'settings.update'").length, 1);
    assert.equal((await admin.get('/api/v1/calendar')).json.needed_year, 2026);
    assert.equal((await sec.patch('/api/v1/settings', { 'requests.calendar_lead_months': 1 })).status, 200);
    assert.equal((await admin.get('/api/v1/calendar')).json.needed_year, 2027);
  });

  it('once the year is entered the deadline is recomputed and no longer an estimate', async () => {
    const before = (await cun.get(`${R}/${rid}`)).json;
    // 元旦 2027 (Friday 1 January) off: the deadline moves one working day on.
    const ok = await admin.post('/api/v1/calendar', { year: 2027, rows: [{ date: '2027-01-01', kind: '休', name: '元旦' }] });
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    const after = (await cun.get(`${R}/${rid}`)).json;
    assert.equal(after.due_estimated, false);
    assert.ok(after.due_date > before.due_date, `${before.due_date} → ${after.due_date}`);
  });
});

// ---- figures on a known data set ----

describe('requests: figures per station and level, and 有记录、有回应', () => {
  let s;
  before(async () => {
    s = await freshServer();
    await setClock(s, '2026-09-24T02:00:00Z');
    const [cun, danghu, zhapu] = await logins(s, 'cun', 'danghu', 'zhapu');
    const mk = async (c, region, name) => (await create(c, contact(region, name))).id;
    // 东湖 (village): R1 closed 满意, R2 closed 基本满意, R3 in hand, R6 not accepted, R7 answered late.
    const r1 = await mk(cun, DONGHU, 'R1'), r2 = await mk(cun, DONGHU, 'R2'), r3 = await mk(cun, DONGHU, 'R3');
    const r6 = await mk(cun, DONGHU, 'R6'), r7 = await mk(cun, DONGHU, 'R7');
    for (const id of [r1, r2, r3, r7]) await act(cun, id, 'accept');
    for (const [id, sat] of [[r1, '满意'], [r2, '基本满意']]) {
      await act(cun, id, 'reply', { content: '已答复', channel: '电话' });
      await act(cun, id, 'close');
      await act(cun, id, 'visit', { satisfaction: sat });
    }
    // 当湖街道 (town): R4 refused.
    const r4 = await mk(danghu, DANGHU_TOWN, 'R4');
    await act(danghu, r4, 'refuse', { reason: '不属于受理范围' });
    // 乍浦: R5 closed.
    const r5 = await mk(zhapu, HAIBIN, 'R5');
    await act(zhapu, r5, 'accept');
    await act(zhapu, r5, 'reply', { content: '已答复', channel: '来访' });
    await act(zhapu, r5, 'close');
    // Monday 10/12: R7 answered (due 10/9: late, after 7 working days), R3 overdue, R6 past its 24 hours.
    await setClock(s, '2026-10-12T02:00:00Z');
    const cun2 = await s.login('cun');
    await act(cun2, r7, 'reply', { content: '迟到的答复', channel: '电话' });
    await act(cun2, r7, 'close');
    s.ids = { r1, r2, r3, r4, r5, r6, r7 };
  });
  after(async () => { await s?.cleanup(); });

  it('gives exact figures to the town, per station, per level, with the unanswered ones listed', async () => {
    const danghu = await s.login('danghu');
    const st = await danghu.get(`${R}/stats`);
    assert.equal(st.status, 200, JSON.stringify(st.json));
    assert.equal(st.json.from, '2026-01-01');
    assert.equal(st.json.to, '2026-10-12');
    const pick = (x) => ({ received: x.received, replied: x.replied, closed: x.closed, closed_on_time: x.closed_on_time,
      overdue: x.overdue, refused: x.refused, open: x.open, avg_workdays: x.avg_workdays, reply_rate: x.reply_rate,
      sat: x.satisfaction.map((y) => y.count) });
    const donghu = st.json.by_station.find((x) => x.region_code === DONGHU);
    assert.deepEqual(pick(donghu), { received: 5, replied: 3, closed: 3, closed_on_time: 2, overdue: 3, refused: 0, open: 2,
      avg_workdays: 2.3, reply_rate: 0.6, sat: [1, 1, 0] });
    const town = st.json.by_station.find((x) => x.region_code === DANGHU_TOWN);
    assert.deepEqual(pick(town), { received: 1, replied: 1, closed: 0, closed_on_time: 0, overdue: 0, refused: 1, open: 0,
      avg_workdays: null, reply_rate: 1, sat: [0, 0, 0] });
    assert.ok(st.json.by_station.every((x) => x.region_code.startsWith('330482001')));
    const nanhe = st.json.by_station.find((x) => x.region_code === NANHE);
    assert.equal(nanhe.received, 0);
    assert.deepEqual(st.json.by_level.map((x) => [x.level, x.received]), [['town', 1], ['village', 5]]);
    assert.equal(st.json.totals.received, 6);
    assert.equal(st.json.totals.replied, 4);
    assert.equal(st.json.reply_rate, 0.6667);
    assert.equal(st.json.unreplied_total, 2);
    assert.deepEqual(st.json.unreplied.map((x) => x.id), [s.ids.r3, s.ids.r6]);
    assert.deepEqual(st.json.unreplied.map((x) => x.overdue), [true, true]);
    assert.deepEqual(Object.fromEntries(st.json.by_status.map((x) => [x.status, x.count])),
      { accepted: 1, closed: 3, received: 1, refused: 1 });
    const period = await danghu.get(`${R}/stats?from=2026-01-01&to=2026-09-23`);
    assert.equal(period.json.totals.received, 0);
    assert.equal((await danghu.get(`${R}/stats?from=bad`)).status, 422);
  });

  it('gives 乍浦 only its own and the center everything', async () => {
    const [zhapu, center, cun] = await logins(s, 'zhapu', 'center', 'cun');
    const z = await zhapu.get(`${R}/stats`);
    assert.equal(z.json.totals.received, 1);
    assert.equal(z.json.totals.closed, 1);
    assert.deepEqual(z.json.unreplied, []);
    assert.ok(z.json.by_station.every((x) => x.region_code.startsWith('330482101')));
    const c = await center.get(`${R}/stats`);
    assert.equal(c.json.totals.received, 7);
    assert.equal(c.json.totals.replied, 5);
    assert.deepEqual(c.json.by_level.map((x) => [x.level, x.received]), [['center', 0], ['town', 1], ['village', 6]]);
    const v = await cun.get(`${R}/stats`);
    assert.deepEqual(v.json.by_station.map((x) => x.region_code), [DONGHU]);
  });

  it('the dashboard counts the requests received and closed per month, last month first to this one', async () => {
    for (const [who, n] of [['center', { '2026-09': [7, 3], '2026-10': [0, 1] }], ['zhapu', { '2026-09': [1, 1], '2026-10': [0, 0] }]]) {
      const d = await (await s.login(who)).get('/api/v1/stats/dashboard');
      assert.equal(d.status, 200, JSON.stringify(d.json));
      const m = d.json.requests_monthly;
      assert.equal(m.length, 12);
      assert.deepEqual([m[0].month, m[11].month], ['2025-11', '2026-10']);
      const got = Object.fromEntries(m.filter((x) => x.received || x.closed).map((x) => [x.month, [x.received, x.closed]]));
      const want = Object.fromEntries(Object.entries(n).filter(([, v]) => v[0] || v[1]));
      assert.deepEqual(got, want, who);
      if (who === 'center') {   // the center sees every request: its counts by status are the table's
        const rows = sql(s.dir, 'SELECT status, COUNT(*) AS n FROM requests GROUP BY status ORDER BY status');
        assert.deepEqual(d.json.requests_by_status.map((x) => [x.status, x.count]), rows.map((r) => [r.status, Number(r.n)]));
        assert.ok(d.json.requests_by_status.every((x) => x.name), 'every status named');
      }
    }
  });
});
