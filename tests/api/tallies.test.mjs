// The tallies behind the dashboard (migration 0005: persons by village,
// status and completeness; active categories by village), kept by triggers.
// Every way a person or a category changes is exercised through the API and
// the command-line import, and after each step the tallies must equal a
// recount of the rows, and the dashboard must show the recount. Runs on
// SQLite and on PostgreSQL (their triggers are written separately).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, sql, assertTallies } from './lib.mjs';

const P = '/api/v1/persons';
const DONGHU = '330482001001';   // 东湖社区, 当湖街道
const HAIBIN = '330482101001';   // 海滨社区, 乍浦镇

const W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
let seq = 0;
function makeId(birth = '19700101') {
  seq++;
  const body = `330481${birth}${String(100 + seq * 2 + 1).slice(-3)}`;
  let s = 0;
  for (let i = 0; i < 17; i++) s += Number(body[i]) * W[i];
  return body + '10X98765432'[s % 11];
}

describe('tallies: exact after every kind of change, and what the dashboard shows', () => {
  let s, center, danghu;
  before(async () => {
    s = await startServer({ persons: 400, requests: 0 });
    [center, danghu] = await Promise.all([s.login('center'), s.login('danghu')]);
  });
  after(async () => { await s?.cleanup(); });

  it('the demo persons are counted (row by row on SQLite, once at the end on PostgreSQL)', () => { assertTallies(s.dir); });

  let p;
  it('create with a category, move village and town, change status, end and add categories', async () => {
    const r = await center.post(P, { name: '计数', id_number: makeId(), region_code: DONGHU,
      categories: [{ category: '96' }] });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    p = r.json;
    assertTallies(s.dir);
    let m = await center.patch(`${P}/${p.id}`, { version: p.version, region_code: HAIBIN });
    assert.equal(m.status, 200, JSON.stringify(m.json));
    assertTallies(s.dir);
    m = await center.patch(`${P}/${p.id}`, { version: m.json.version, status: '2', status_date: '2026-01-05' });
    assert.equal(m.status, 200, JSON.stringify(m.json));
    assertTallies(s.dir);
    const cat = m.json.categories[0];
    const e = await center.patch(`${P}/${p.id}/categories/${cat.id}`, { version: cat.version, valid_to: '2026-01-05' });
    assert.equal(e.status, 200, JSON.stringify(e.json));
    assertTallies(s.dir);
    const a = await center.post(`${P}/${p.id}/categories`, { category: '8' });
    assert.equal(a.status, 201, JSON.stringify(a.json));
    assertTallies(s.dir);
    // Back to the first village, with an active category following the person.
    const g = (await center.get(`${P}/${p.id}`)).json;
    m = await center.patch(`${P}/${p.id}`, { version: g.version, region_code: DONGHU, status: '1', status_date: null });
    assert.equal(m.status, 200, JSON.stringify(m.json));
    assertTallies(s.dir);
  });

  it('an import that creates persons and moves one (update by ID number)', async () => {
    const moved = (await center.get(`${P}/${p.id}?`)).json;
    const num = (await center.post(`${P}/${p.id}/reveal`, { field: 'id_number', reason: '测试核对计数' })).json.value;
    const csv = ['姓名,身份证号码,所属村社区,优抚类别',
      `导入一,${makeId('19600101')},${DONGHU},96`,
      `导入二,${makeId('19610101')},${HAIBIN},`,
      `${moved.name},${num},${HAIBIN},`].join('\n') + '\n';
    const r = await center.upload(`${P}/import`, Buffer.from(csv), '人员.csv');
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual([r.json.new, r.json.update, r.json.error], [2, 1, 0], JSON.stringify(r.json.items));
    const c = await center.post(`${P}/import/${r.json.import_id}/commit`, { mode: 'all' });
    assert.equal(c.status, 200, JSON.stringify(c.json));
    assert.equal(sql(s.dir, `SELECT region_code FROM persons WHERE id = ${p.id}`)[0].region_code, HAIBIN);
    assertTallies(s.dir);
  });

  it('list pages (newest first, by town and village, with status) are the rows the database holds', async () => {
    for (const [q, where] of [['region=330482001000', "region_code BETWEEN '330482001000' AND '330482001999'"],
      [`region=${DONGHU}`, `region_code = '${DONGHU}'`], ['', '1 = 1'],
      ['region=330482001000&status=1', "region_code BETWEEN '330482001000' AND '330482001999' AND status = '1'"]]) {
      const want = sql(s.dir, `SELECT id FROM persons WHERE ${where} ORDER BY id DESC`).map((r) => Number(r.id));
      const got = [];
      for (let page = 1; page <= 3; page++) {
        const r = await center.get(`${P}?${q}&size=7&page=${page}`);
        assert.equal(r.status, 200, JSON.stringify(r.json));
        assert.equal(r.json.total, want.length, q);
        got.push(...r.json.items.map((i) => i.id));
      }
      assert.deepEqual(got, want.slice(0, 21), q);
    }
  });

  it('the dashboard shows the recount, for the centre and for a town', async () => {
    for (const [c, lo, hi] of [[center, '330482000000', '330482999999'], [danghu, '330482001000', '330482001999']]) {
      const d = await c.get('/api/v1/stats/dashboard');
      assert.equal(d.status, 200, JSON.stringify(d.json));
      const where = `region_code BETWEEN '${lo}' AND '${hi}'`;
      const n = (q) => Number(Object.values(sql(s.dir, q)[0])[0]);
      assert.equal(d.json.persons_total, n(`SELECT COUNT(*) FROM persons WHERE ${where}`));
      assert.equal(d.json.persons_complete, n(`SELECT COUNT(*) FROM persons WHERE ${where} AND missing_count = 0`));
      assert.equal(d.json.persons_active, n(`SELECT COUNT(*) FROM persons WHERE ${where} AND status = '1'`));
      const cats = Object.fromEntries(sql(s.dir, `SELECT c.category AS k, COUNT(*) AS n FROM person_categories c JOIN persons p ` +
        `ON p.id = c.person_id WHERE p.${where} AND c.valid_to IS NULL GROUP BY c.category`).map((r) => [r.k, Number(r.n)]));
      assert.deepEqual(Object.fromEntries(d.json.by_category.map((x) => [x.code, x.count])), cats);
      const sum = d.json.by_region.reduce((a, x) => a + x.count, 0);
      assert.equal(sum, d.json.persons_total);
      const st = d.json.completeness_by_station.reduce((a, x) => a + x.complete, 0);
      assert.equal(st, d.json.persons_complete);
    }
  });
});
