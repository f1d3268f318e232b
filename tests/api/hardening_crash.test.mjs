// Crash test (issue 8, SECURITY.md "Reliability"): concurrent writers create
// persons and requests and add actions to requests while the server is
// killed with SIGKILL at a random moment; after every kill
//   - `PRAGMA integrity_check` says ok and `vets audit verify` passes,
//   - the server starts again and every write that got a 2xx answer is there,
//     read back through the API by the id the answer gave,
//   - every acknowledged person has its audit row (written in the same
//     transaction as the change).
// 15 rounds here; the long run is VETS_CRASH_ROUNDS=200 (see docs/operations.md):
//   VETS_CRASH_ROUNDS=200 node --test tests/api/hardening_crash.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { launch, vets, BIN, DB, sql, dbArgs } from './lib.mjs';

const ROUNDS = Number(process.env.VETS_CRASH_ROUNDS || 15);
const WRITERS = 4;
const DONGHU = '330482001001';
const W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

// A valid ID number, unique per n: prefix 330481 (never used by the demo
// generator), a birth date per 500 numbers, an odd sequence number.
function makeId(n) {
  const d = new Date(Date.UTC(1950, 0, 1) + Math.floor(n / 500) * 86400000);
  const birth = d.toISOString().slice(0, 10).replace(/-/g, '');
  const body = `330481${birth}${String((n % 500) * 2 + 1).padStart(3, '0')}`;
  let s = 0;
  for (let i = 0; i < 17; i++) s += Number(body[i]) * W[i];
  return body + '10X98765432'[s % 11];
}
const masked = (id) => `${id.slice(0, 6)}********${id.slice(14)}`;

// First column of the first row, as text (either database: lib.mjs sql).
const sqlite = (dir, q) => { const r = sql(dir, q); return r.length ? String(Object.values(r[0])[0] ?? '') : ''; };

// Runs the writers until the client sees the server die; returns the
// acknowledged writes.
async function writeUntilKilled(c, state, acked) {
  let alive = true;
  const stopOn = (e) => { alive = false; return null; };
  async function writer(w) {
    for (let i = 0; alive; i++) {
      const kind = (w + i) % 4;
      if (kind <= 1) {
        const n = state.nextId++;
        const body = { name: `压测${n}`, id_number: makeId(n), region_code: DONGHU, phone: '13800138000' };
        const r = await c.post('/api/v1/persons', body).catch(stopOn);
        if (!r) return;
        if (r.status === 201) acked.persons.push({ id: r.json.id, name: body.name, idn: body.id_number });
        else throw new Error(`create person: ${r.status} ${JSON.stringify(r.json)}`);
      } else if (kind === 2 || acked.requests.length === 0) {
        const n = state.nextReq++;
        const r = await c.post('/api/v1/requests', { channel: '来访', category: '政策咨询', urgency: '普通',
          content: `压测诉求${n}`, contact_name: `联系人${n}`, contact_phone: '13800138000', region_code: DONGHU }).catch(stopOn);
        if (!r) return;
        if (r.status === 201) acked.requests.push({ id: r.json.id, content: `压测诉求${n}`, version: r.json.version, notes: [] });
        else throw new Error(`create request: ${r.status} ${JSON.stringify(r.json)}`);
      } else {
        // A note on one of this round's requests, with the version we know;
        // writers may race for the same request (409: take the new version).
        const q = acked.requests[(w * 7 + i) % acked.requests.length];
        const note = `备注${state.nextNote++}`;
        const r = await c.post(`/api/v1/requests/${q.id}/actions`, { action: 'note', version: q.version, note }).catch(stopOn);
        if (!r) return;
        if (r.status === 200) { q.version = Math.max(q.version, r.json.version); q.notes.push(note); acked.actions++; }
        else if (r.status === 409) {
          const g = await c.get(`/api/v1/requests/${q.id}`).catch(stopOn);
          if (!g) return;
          if (g.status === 200) q.version = Math.max(q.version, g.json.version);
        } else throw new Error(`note: ${r.status} ${JSON.stringify(r.json)}`);
      }
    }
  }
  await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)));
}

// Reads every acknowledged write back through the API.
async function checkPresent(c, acked) {
  let checked = 0;
  for (const p of acked.persons) {
    const r = await c.get(`/api/v1/persons/${p.id}`);
    assert.equal(r.status, 200, `acknowledged person ${p.id} missing after the crash`);
    assert.equal(r.json.name, p.name);
    assert.equal(r.json.id_number, masked(p.idn));
    checked++;
  }
  for (const q of acked.requests) {
    const r = await c.get(`/api/v1/requests/${q.id}`);
    assert.equal(r.status, 200, `acknowledged request ${q.id} missing after the crash`);
    assert.equal(r.json.content, q.content);
    assert.ok(r.json.version >= q.version, `request ${q.id}: version ${r.json.version} < acknowledged ${q.version}`);
    const notes = new Set(r.json.timeline.map((t) => t.note));
    for (const n of q.notes) { assert.ok(notes.has(n), `request ${q.id}: acknowledged note ${n} missing`); checked++; }
    checked++;
  }
  return checked;
}

test(`SIGKILL during concurrent writes, ${ROUNDS} rounds: no acknowledged write lost, database intact`, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vets-crash-'));
  const state = { nextId: 1, nextReq: 1, nextNote: 1 };
  const all = { persons: [], requests: [] };
  let writes = 0, checked = 0, midKills = 0;
  let seed = Number(process.env.VETS_CRASH_SEED || Date.now() % 100000);
  const rnd = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
  t.diagnostic(`seed ${seed} (VETS_CRASH_SEED to repeat)`);
  let live = null;   // the server of the round, stopped whatever happens
  try {
    vets(['init', '--data', dir, '--demo', '--persons', '50', '--requests', '0']);
    // Logins every round: no login rate limit; no deadline job writing on its own.
    sqlite(dir, "UPDATE settings SET value = '0' WHERE key IN ('ratelimit.login_per_minute', 'requests.job_interval_seconds')");
    let prev = null;
    for (let round = 1; round <= ROUNDS; round++) {
      const s = live = await launch(dir);
      const c = await s.login('center');
      if (prev) checked += await checkPresent(c, prev);   // the previous round's writes, after its crash
      const acked = { persons: [], requests: [], actions: 0 };
      const killAfter = 150 + Math.floor(rnd() * 1200);
      const writing = writeUntilKilled(c, state, acked);
      await sleep(killAfter);
      s.child.kill('SIGKILL');
      await writing;
      const ex = await s.stop('SIGKILL');
      assert.equal(ex.sig, 'SIGKILL', `the server should have been killed: ${JSON.stringify(ex)}`);
      if (acked.persons.length + acked.requests.length > 0) midKills++;
      writes += acked.persons.length + acked.requests.length + acked.actions;
      // The database as the crash left it (the sqlite3 shell recovers the WAL,
      // as the next server start would).
      // (PostgreSQL: the database server did not crash, only the vets node.)
      if (DB !== 'pg') assert.equal(sqlite(dir, 'PRAGMA integrity_check'), 'ok', `round ${round}: integrity_check`);
      const v = spawnSync(BIN, ['audit', 'verify', '--data', dir, ...dbArgs(dir, 'audit')], { encoding: 'utf8' });
      assert.equal(v.status, 0, `round ${round}: audit verify: ${v.stdout}${v.stderr}`);
      // Each acknowledged person has its create audit row.
      const ids = acked.persons.map((p) => p.id);
      if (ids.length) {
        const n = Number(sqlite(dir, `SELECT COUNT(DISTINCT object_id) FROM audit WHERE object_type = 'person' AND event = 'person.create' AND object_id IN (${ids.map((i) => `'${i}'`).join(',')})`));
        assert.equal(n, ids.length, `round ${round}: audit rows of acknowledged persons`);
      }
      all.persons.push(...acked.persons); all.requests.push(...acked.requests);
      prev = acked;
    }
    // After the last crash: everything acknowledged in every round.
    const s = live = await launch(dir);
    const c = await s.login('center');
    checked += await checkPresent(c, all);
    await s.stop('SIGTERM');
    assert.ok(midKills >= Math.ceil(ROUNDS / 2), `most kills should land during writes (${midKills}/${ROUNDS})`);
    const msg = `crash test: ${ROUNDS} rounds of SIGKILL, ${writes} acknowledged writes ` +
      `(${all.persons.length} persons, ${all.requests.length} requests, ${writes - all.persons.length - all.requests.length} request actions), ` +
      `${checked} read back through the API, integrity_check and audit verify ok after every kill`;
    t.diagnostic(msg);
    console.log(msg);
  } finally {
    if (live && !live.exited) await live.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
