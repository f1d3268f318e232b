// Online backup and restore (issue 8, SECURITY.md "Online backup while
// writers run"): `vets backup` while writers create persons gives a copy that
// passes integrity_check, whose row count lies between the counts before and
// after it ran; `vets restore` puts it into a fresh folder (with the key file
// of the encrypted columns copied beside it), a server starts on it and serves
// the same rows, the sealed ID numbers open, the audit chain verifies. Restore
// refuses while a server runs on the folder, and refuses a damaged backup or
// one whose audit chain is broken, leaving the live database as it was.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startServer, launch, BIN, DB } from './lib.mjs';

const run = promisify(execFile);
const DONGHU = '330482001001';
const W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
// A valid ID number unique per n (prefix 330481: never used by the demo data).
function makeId(n) {
  const d = new Date(Date.UTC(1960, 0, 1) + Math.floor(n / 500) * 86400000);
  const body = `330481${d.toISOString().slice(0, 10).replace(/-/g, '')}${String((n % 500) * 2).padStart(3, '0')}`;
  let s = 0;
  for (let i = 0; i < 17; i++) s += Number(body[i]) * W[i];
  return body + '10X98765432'[s % 11];
}
const count = (db, table = 'persons') => Number(execFileSync('sqlite3', [db, `SELECT COUNT(*) FROM ${table}`], { encoding: 'utf8' }).trim());
const integrity = (db) => execFileSync('sqlite3', [db, 'PRAGMA integrity_check'], { encoding: 'utf8' }).trim();
const restore = (dir, from) => spawnSync(BIN, ['restore', '--data', dir, '--from', from], { encoding: 'utf8' });
const verify = (dir) => spawnSync(BIN, ['audit', 'verify', '--data', dir], { encoding: 'utf8' });

describe('backup while writers run, restore into a fresh folder', { skip: DB === 'pg' ? 'vets backup/restore is for SQLite (PostgreSQL: pg_dump, pg_basebackup)' : false }, () => {
  let s, tmp;
  const created = [];
  before(async () => {
    s = await startServer({ persons: 300, requests: 30 });
    tmp = mkdtempSync(join(tmpdir(), 'vets-bk-'));
  });
  after(async () => {
    await s?.cleanup();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('backs up a consistent copy during writes and restores it with the key file', async () => {
    const c = await s.login('center');
    let writing = true, n = 0;
    async function writer() {
      while (writing) {
        const k = n++;
        const body = { name: `备份测试${k}`, id_number: makeId(k), region_code: DONGHU };
        const r = await c.post('/api/v1/persons', body);
        assert.equal(r.status, 201, JSON.stringify(r.json));
        created.push({ id: r.json.id, idn: body.id_number });
      }
    }
    const writers = [writer(), writer()];
    await new Promise((r) => setTimeout(r, 300));           // writers well under way
    const db = join(s.dir, 'vets.db');
    const file = join(tmp, 'vets-backup.db');
    const before = count(db);
    const out = await run(BIN, ['backup', '--data', s.dir, '--out', file], { encoding: 'utf8' });
    const afterCount = count(db);
    await new Promise((r) => setTimeout(r, 200));           // and go on after it
    writing = false;
    await Promise.all(writers);
    assert.match(out.stdout, /备份完成/);
    assert.ok(!existsSync(`${file}.tmp`), 'no temp file left');
    assert.ok(afterCount > before, `writes went on during the backup (${before} → ${afterCount})`);
    assert.equal(integrity(file), 'ok');
    const inBackup = count(file);
    assert.ok(inBackup >= before && inBackup <= afterCount, `backup has ${inBackup} persons, live had ${before}..${afterCount}`);
    const auditInBackup = count(file, 'audit');
    console.log(`backup during writes: live had ${before} persons before and ${afterCount} after, the backup ${inBackup}; ${created.length} persons written in all`);
    // The backup itself is audited in the live trail.
    assert.ok(Number(execFileSync('sqlite3', [db, "SELECT COUNT(*) FROM audit WHERE event = 'system.backup'"], { encoding: 'utf8' })) >= 1);
    await s.stop('SIGTERM');

    // Restore into a fresh folder that does not exist yet, key file beside it.
    const dir2 = join(tmp, 'restored');
    const r = restore(dir2, file);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /vets\.keys 不存在/, 'restore warns that the key file is missing');
    copyFileSync(join(s.dir, 'vets.keys'), join(dir2, 'vets.keys'));
    chmodSync(join(dir2, 'vets.keys'), 0o400);
    assert.equal(integrity(join(dir2, 'vets.db')), 'ok');
    assert.equal(count(join(dir2, 'vets.db')), inBackup);
    // The restore is audited in the restored trail, which still verifies.
    assert.equal(count(join(dir2, 'vets.db'), 'audit'), auditInBackup + 1);
    const v = verify(dir2);
    assert.equal(v.status, 0, v.stdout + v.stderr);

    const s2 = await launch(dir2);
    try {
      const c2 = await s2.login('center', s.accounts.center.password);   // the account files stay behind
      const list = await c2.get('/api/v1/persons?size=1');
      assert.equal(list.status, 200);
      assert.equal(list.json.total, inBackup, 'the restored server serves the backup\'s rows');
      // The sealed ID numbers open with the copied key file: the first person
      // written during the run is in the backup (it was acknowledged before).
      const first = created[0];
      const rv = await c2.post(`/api/v1/persons/${first.id}/reveal`, { field: 'id_number', reason: '恢复后核对' });
      assert.equal(rv.status, 200, JSON.stringify(rv.json));
      assert.equal(rv.json.value, first.idn);
      // Restore refuses while a server runs on the folder, and changes nothing.
      const busy = restore(dir2, file);
      assert.notEqual(busy.status, 0);
      assert.match(busy.stderr, /停止/);
      assert.equal((await c2.get('/api/v1/health')).status, 200);
      assert.equal((await c2.get('/api/v1/persons?size=1')).json.total, inBackup);
    } finally {
      await s2.stop('SIGTERM');
    }
    assert.equal(verify(dir2).status, 0);
  });

  it('refuses a damaged backup and one with a broken audit chain, leaving the live database alone', async () => {
    const dir3 = join(tmp, 'victim');
    const good = join(tmp, 'vets-backup.db');
    assert.equal(restore(dir3, good).status, 0);
    const live = join(dir3, 'vets.db');
    const rows = count(live);
    // Not a database at all.
    const junk = join(tmp, 'junk.db');
    writeFileSync(junk, 'SQLite format 3\0' + 'x'.repeat(5000));
    const r1 = restore(dir3, junk);
    assert.notEqual(r1.status, 0);
    assert.match(r1.stderr, /恢复失败/);
    // A database whose audit trail was edited (triggers dropped first).
    const forged = join(tmp, 'forged.db');
    copyFileSync(good, forged);
    execFileSync('sqlite3', [forged, "DROP TRIGGER audit_no_update; UPDATE audit SET result = 'denied' WHERE id = (SELECT MIN(id) + 3 FROM audit);"]);
    assert.equal(integrity(forged), 'ok');
    const r2 = restore(dir3, forged);
    assert.notEqual(r2.status, 0);
    assert.match(r2.stderr, /审计链/);
    assert.equal(count(live), rows);
    assert.equal(integrity(live), 'ok');
    assert.equal(verify(dir3).status, 0);
  });
});

// While the server runs, its checkpoint thread copies the WAL into the
// database file (src/db/checkpoint.c); the connections themselves do not.
// Read without the WAL (immutable=1), the file must hold the audit rows of a
// burst of views a moment later. (A checkpoint thread that did nothing once
// let the WAL grow to 1.2 GB under load.)
describe('the database file keeps up with the WAL while the server runs', { skip: DB === 'pg' ? 'SQLite only' : false }, () => {
  let s;
  before(async () => { s = await startServer({ persons: 50 }); });
  after(async () => { await s?.cleanup(); });

  it('audited views reach vets.db itself within a second, and no checkpoint error is logged', async () => {
    const db = join(s.dir, 'vets.db');
    const inFile = () => Number(execFileSync('sqlite3', [`file:${db}?immutable=1`, "SELECT COUNT(*) FROM audit WHERE event = 'person.view'"],
      { encoding: 'utf8' }).trim());
    const c = await s.login('center');
    const before = inFile();
    for (let i = 0; i < 10; i++) await Promise.all(Array.from({ length: 20 }, (_, k) => c.get(`/api/v1/persons/${1 + ((i * 20 + k) % 50)}`)));
    let n = before;
    for (let t = 0; t < 40 && n < before + 200; t++) { await new Promise((ok) => setTimeout(ok, 100)); n = inFile(); }
    assert.ok(n >= before + 200, `views in the database file: ${n - before} of 200`);
    assert.ok(!s.logs.join('').includes('WAL checkpoint'), s.logs.join('').slice(-2000));
  });
});
