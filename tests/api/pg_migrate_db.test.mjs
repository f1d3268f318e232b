// `vets migrate-db --from DIR --to postgresql://…` (issue 7): a county that
// worked on SQLite moves to the province's PostgreSQL. Everything arrives
// (every table, row for row), ids unchanged: the same passwords log in, the
// sealed ID numbers open with the same key file, attachments come back byte
// for byte, the audit chain verifies and goes on, new rows get new ids; a
// second copy into a database that holds data is refused.
// PostgreSQL only (VETS_TEST_DB=pg).
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DB, BIN, startServer, launch, sql, pgUrl, createPgDatabase, dbArgs, assertTallies } from './lib.mjs';

const SKIP = DB !== 'pg' && 'PostgreSQL only (VETS_TEST_DB=pg)';
const P = '/api/v1/persons';
const R = '/api/v1/requests';
const DONGHU = '330482001001';

const sqlite = (dir, q) => {
  const out = execFileSync('sqlite3', ['-json', join(dir, 'vets.db'), q], { encoding: 'utf8' });
  return out.trim() ? JSON.parse(out) : [];
};

describe('vets migrate-db: a county from SQLite to PostgreSQL', { skip: SKIP }, () => {
  const cleanup = [];
  after(async () => { for (const f of cleanup.reverse()) await f(); });

  it('copies every table; the PostgreSQL node carries on where the county stopped', async () => {
    // The county on SQLite, with some work done.
    const county = await startServer({ persons: 60, sqlite: true });
    cleanup.push(() => county.cleanup());
    const [center, cun] = await Promise.all([county.login('center'), county.login('cun')]);
    const pid = sqlite(county.dir, "SELECT id FROM persons WHERE region_code = '330482001001' ORDER BY id LIMIT 1")[0].id;
    const p = await center.get(`${P}/${pid}`);
    assert.equal((await center.patch(`${P}/${pid}`, { version: p.json.version, remarks: '县里最后的修改' })).status, 200);
    const idNumber = (await center.post(`${P}/${pid}/reveal`, { field: 'id_number', reason: '迁移前核对' })).json.value;
    assert.match(idNumber, /^\d{17}[\dX]$/);
    const rq = await cun.post(R, { channel: '来访', category: '政策咨询', urgency: '普通', content: '迁移前的诉求',
      contact_name: '迁移', contact_phone: '13800138000', region_code: DONGHU });
    assert.equal(rq.status, 201);
    const bytes = Buffer.from([0x25, 0x50, 0x44, 0x46, 0x00, 0xff, 0x00, 0x5c, 0x78, ...Buffer.from('扫描件\\x00')]);
    const up = await cun.upload(`${R}/${rq.json.id}/attachments`, bytes, '材料.pdf');
    assert.equal(up.status, 201, JSON.stringify(up.json));
    assert.equal((await county.stop()).code, 0);

    const tables = sqlite(county.dir, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").map((t) => t.name);
    const before = Object.fromEntries(tables.map((t) => [t, sqlite(county.dir, `SELECT COUNT(*) AS n FROM ${t}`)[0].n]));

    // The province's node: a new data folder, a new empty database, the county's key file.
    const node = mkdtempSync(join(tmpdir(), 'vets-province-'));
    const dbname = createPgDatabase();
    writeFileSync(join(node, 'test-pg-database'), dbname);
    for (const f of ['demo-accounts.txt', 'initial-accounts.txt']) copyFileSync(join(county.dir, f), join(node, f));
    copyFileSync(join(county.dir, 'vets.keys'), join(node, 'vets.keys'));
    chmodSync(join(node, 'vets.keys'), 0o400);

    const out = execFileSync(BIN, ['migrate-db', '--from', county.dir, '--to', pgUrl(dbname, 'vets_owner')], { encoding: 'utf8' });
    assert.match(out, /迁移完成/);
    assert.match(out, /审计链完整/);
    for (const t of tables) {
      const n = sql(node, `SELECT COUNT(*) AS n FROM ${t}`)[0].n;
      // migrate-db audits itself: one row more in the audit trail
      assert.equal(n, before[t] + (t === 'audit' ? 1 : 0), `table ${t}`);
    }
    assert.equal(sql(node, "SELECT event FROM audit ORDER BY id DESC LIMIT 1")[0].event, 'system.migrate_db');
    // The tallies were counted once at the end (tally.c), and their triggers are on again.
    assertTallies(node);
    assert.deepEqual(sql(node, "SELECT tgname FROM pg_trigger WHERE tgname LIKE '%tally%' AND tgenabled <> 'O'"), []);
    // The source is untouched.
    assert.equal(sqlite(county.dir, 'SELECT COUNT(*) AS n FROM audit')[0].n, before.audit);

    // A second copy into a database holding data: refused, nothing changed.
    const again = spawnSync(BIN, ['migrate-db', '--from', county.dir, '--to', pgUrl(dbname, 'vets_owner')], { encoding: 'utf8' });
    assert.equal(again.status, 1);
    assert.match(again.stderr, /已有数据/);
    assert.equal(sql(node, 'SELECT COUNT(*) AS n FROM audit')[0].n, before.audit + 1);

    // The PostgreSQL node, as the application role.
    const pg = await launch(node);
    cleanup.push(() => pg.cleanup());
    assert.equal((await pg.client().get('/api/v1/health')).json.database, 'postgresql');
    const c2 = await pg.login('center');             // the county's password
    const p2 = await c2.get(`${P}/${pid}`);
    assert.equal(p2.json.remarks, '县里最后的修改');
    assert.equal(p2.json.version, p.json.version + 1);
    assert.equal((await c2.post(`${P}/${pid}/reveal`, { field: 'id_number', reason: '迁移后核对' })).json.value, idNumber);
    const dl = await c2.get(`${R}/${rq.json.id}/attachments/${up.json.id}`, { raw: true });
    assert.equal(dl.status, 200);
    assert.deepEqual(Buffer.from(dl.body), bytes);
    // New rows get new ids; the request numbers go on.
    const cun2 = await pg.login('cun');
    const rq2 = await cun2.post(R, { channel: '来访', category: '政策咨询', urgency: '普通', content: '迁移后的诉求',
      contact_name: '迁移后', contact_phone: '13800138000', region_code: DONGHU });
    assert.equal(rq2.status, 201, JSON.stringify(rq2.json));
    assert.ok(rq2.json.id > rq.json.id);
    assert.ok(rq2.json.no > rq.json.no, `${rq2.json.no} after ${rq.json.no}`);
    const w = await c2.patch(`${P}/${pid}`, { version: p2.json.version, remarks: '省里的第一次修改' });
    assert.equal(w.status, 200);
    // A move after the migration is counted by the triggers.
    const moved = await c2.patch(`${P}/${pid}`, { version: w.json.version, region_code: '330482101001' });
    assert.equal(moved.status, 200, JSON.stringify(moved.json));
    assertTallies(node);
    await pg.stop();
    const v = spawnSync(BIN, ['audit', 'verify', '--data', node, ...dbArgs(node, 'audit')], { encoding: 'utf8' });
    assert.equal(v.status, 0, v.stdout + v.stderr);
    assert.match(v.stdout, /审计链完整/);
  });
});
