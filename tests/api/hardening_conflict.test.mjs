// Lost updates (issue 8, SECURITY.md "Concurrent edits of one record"): two
// users save the same person, or act on the same request, at the same moment
// with the same version, many rounds. Each time exactly one gets 200, the
// other 409 `version_conflict`, and what is stored is the winner's body —
// never a merge, never both.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, sql } from './lib.mjs';

const ROUNDS = Number(process.env.VETS_CONFLICT_ROUNDS || 30);
const DONGHU = '330482001001';
// First column of the first row, as text (either database: lib.mjs sql).
const sql1 = (dir, q) => { const r = sql(dir, q); return r.length ? String(Object.values(r[0])[0] ?? '') : ''; };

describe('lost updates', () => {
  let s, a, b;
  before(async () => {
    s = await startServer({ persons: 50, requests: 0 });
    // Two users of the same station, each with a session of its own.
    a = await s.login('center');
    b = await s.login('danghu');
  });
  after(async () => { await s?.cleanup(); });

  it(`two PATCHes of one person with one version: one 200, one 409, the winner's values stored (${ROUNDS} rounds)`, async () => {
    const c = await a.post('/api/v1/persons', { name: '并发甲', id_number: '33048119800101001X', region_code: DONGHU });
    assert.equal(c.status, 201, JSON.stringify(c.json));
    const id = c.json.id;
    let version = c.json.version;
    const wins = { a: 0, b: 0 };
    for (let i = 0; i < ROUNDS; i++) {
      const bodyA = { version, phone: `1380000${String(i).padStart(4, '0')}`, remarks: `甲第${i}次`, current_address: `甲路${i}号` };
      const bodyB = { version, phone: `1390000${String(i).padStart(4, '0')}`, remarks: `乙第${i}次`, hukou_address: `乙路${i}号` };
      // Both in flight at once; who goes out first alternates.
      const pa = () => a.patch(`/api/v1/persons/${id}`, bodyA), pb = () => b.patch(`/api/v1/persons/${id}`, bodyB);
      const [ra, rb] = i % 2 ? await Promise.all([pa(), pb()]) : (await Promise.all([pb(), pa()])).reverse();
      const st = [ra.status, rb.status].sort();
      assert.deepEqual(st, [200, 409], `round ${i}: ${ra.status} ${JSON.stringify(ra.json)} / ${rb.status} ${JSON.stringify(rb.json)}`);
      const [win, lose, wbody] = ra.status === 200 ? [ra, rb, bodyA] : [rb, ra, bodyB];
      wins[ra.status === 200 ? 'a' : 'b']++;
      assert.equal(lose.json.error.code, 'version_conflict');
      assert.equal(lose.json.error.field, 'version');
      assert.equal(win.json.version, version + 1);
      // Stored: exactly the winner's body on top of the previous state.
      const g = await a.get(`/api/v1/persons/${id}`);
      assert.equal(g.json.version, version + 1);
      assert.equal(g.json.phone, wbody.phone);
      assert.equal(g.json.remarks, wbody.remarks);
      if (wbody === bodyA) assert.equal(g.json.current_address, bodyA.current_address);
      else assert.equal(g.json.hukou_address, bodyB.hukou_address);
      // In the database too, and the loser's phone number nowhere in the history.
      const row = sql1(s.dir, `SELECT version || '|' || phone || '|' || remarks FROM persons WHERE id = ${id}`);
      assert.equal(row, `${version + 1}|${wbody.phone}|${wbody.remarks}`);
      const loserPhone = (wbody === bodyA ? bodyB : bodyA).phone;
      assert.equal(sql1(s.dir, `SELECT COUNT(*) FROM person_history WHERE person_id = ${id} AND after = '${loserPhone}'`), '0');
      version++;
    }
    assert.equal(wins.a + wins.b, ROUNDS);
    console.log(`person PATCH races: ${ROUNDS} rounds, center won ${wins.a}, danghu won ${wins.b}, one 409 each round`);
  });

  it(`two actions on one request with one version: one 200, one 409, only the winner's note in the timeline (${ROUNDS} rounds)`, async () => {
    const c = await a.post('/api/v1/requests', { channel: '来访', category: '政策咨询', urgency: '普通', content: '并发诉求',
      contact_name: '并发联系人', contact_phone: '13800138000', region_code: DONGHU });
    assert.equal(c.status, 201, JSON.stringify(c.json));
    const id = c.json.id;
    let version = c.json.version;
    const wins = { a: 0, b: 0 };
    for (let i = 0; i < ROUNDS; i++) {
      const na = `甲备注${i}`, nb = `乙备注${i}`;
      const pa = () => a.post(`/api/v1/requests/${id}/actions`, { action: 'note', version, note: na });
      const pb = () => b.post(`/api/v1/requests/${id}/actions`, { action: 'note', version, note: nb });
      const [ra, rb] = i % 2 ? await Promise.all([pa(), pb()]) : (await Promise.all([pb(), pa()])).reverse();
      assert.deepEqual([ra.status, rb.status].sort(), [200, 409],
        `round ${i}: ${ra.status} ${JSON.stringify(ra.json?.error)} / ${rb.status} ${JSON.stringify(rb.json?.error)}`);
      const [win, lose, wnote, lnote] = ra.status === 200 ? [ra, rb, na, nb] : [rb, ra, nb, na];
      wins[ra.status === 200 ? 'a' : 'b']++;
      assert.equal(lose.json.error.code, 'version_conflict');
      assert.equal(win.json.version, version + 1);
      const g = await a.get(`/api/v1/requests/${id}`);
      assert.equal(g.json.version, version + 1);
      const notes = g.json.timeline.map((t) => t.note);
      assert.ok(notes.includes(wnote), `round ${i}: winner's note missing`);
      assert.ok(!notes.includes(lnote), `round ${i}: loser's note stored`);
      version++;
    }
    console.log(`request action races: ${ROUNDS} rounds, center won ${wins.a}, danghu won ${wins.b}, one 409 each round`);
  });
});
