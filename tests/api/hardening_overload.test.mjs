// Overload, slow clients and shutdown (issue 8, SECURITY.md "Reliability"):
//   - a bounded number of requests in flight (`--max-inflight`): above it the
//     answer is 503 + Retry-After at once, and the server serves again as soon
//     as the load is gone;
//   - slow clients are cut off (`--conn-timeout`): headers must arrive within
//     it, a body must keep up an average rate, a silent connection is closed —
//     a byte a second does not keep a connection alive;
//   - SIGTERM drains: a request in flight when the signal comes still gets its
//     whole answer, new ones are refused, and the process exits 0.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServer } from './lib.mjs';

// ---- raw HTTP over a socket ----

function connect(port) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1', noDelay: true });
    sock.once('connect', () => resolve(sock));
    sock.once('error', reject);
  });
}
// Collects everything until the server closes (or `ms` passes); resolves
// {data, closedAfter} — closedAfter in ms, null when still open at the end.
function collect(sock, ms = 10000) {
  const t0 = Date.now();
  let data = Buffer.alloc(0);
  sock.on('data', (d) => { data = Buffer.concat([data, d]); });
  return new Promise((resolve) => {
    const done = (closed) => { clearTimeout(timer); resolve({ data: data.toString('utf8'), closedAfter: closed ? Date.now() - t0 : null }); };
    const timer = setTimeout(() => done(false), ms);
    sock.once('close', () => done(true));
    sock.once('error', () => {});
  });
}
const statusOf = (text) => Number((/^HTTP\/1\.[01] (\d{3})/.exec(text) || [])[1] || 0);
const headerOf = (text, name) => (new RegExp(`^${name}:\\s*(.*)$`, 'mi').exec(text) || [])[1]?.trim();
async function raw(port, bytes, ms = 5000) {
  const sock = await connect(port);
  const got = collect(sock, ms);
  sock.write(bytes);
  return got;
}
const GET_HEALTH = 'GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
async function healthy(port) {
  const r = await raw(port, GET_HEALTH);
  assert.equal(statusOf(r.data), 200, `health: ${r.data.slice(0, 200)}`);
}

describe('overload: a bounded number of requests in flight', () => {
  let s;
  before(async () => { s = await startServer({ persons: 50, requests: 0, extraArgs: ['--max-inflight', '4', '--conn-timeout', '20'] }); });
  after(async () => { await s?.cleanup(); });

  it('answers 503 + Retry-After above --max-inflight at once, and serves again when the load is gone', async () => {
    await healthy(s.port);
    // Four requests in flight: their bodies are still on the way.
    const held = [];
    for (let i = 0; i < 4; i++) {
      const sock = await connect(s.port);
      sock.on('error', () => {});
      sock.write('POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 60\r\n\r\n{"username":');
      held.push(sock);
    }
    await sleep(200);
    // A burst above the bound: every one refused at once with 503 + Retry-After.
    const t0 = Date.now();
    const burst = await Promise.all(Array.from({ length: 30 }, () => raw(s.port, GET_HEALTH)));
    for (const r of burst) {
      assert.equal(statusOf(r.data), 503, r.data.slice(0, 300));
      assert.match(headerOf(r.data, 'Retry-After') ?? '', /^\d+$/);
      const body = JSON.parse(r.data.slice(r.data.indexOf('\r\n\r\n') + 4));
      assert.equal(body.error.code, 'overloaded');
      assert.match(body.error.message, /繁忙/);
    }
    assert.ok(Date.now() - t0 < 3000, 'refusals are immediate, not queued');
    // A refused POST is answered before its body is read.
    const p = await raw(s.port, 'POST /api/v1/persons HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500000\r\n\r\n{');
    assert.equal(statusOf(p.data), 503);
    // The load goes away (the clients give up): served again at once.
    for (const sock of held) sock.destroy();
    for (let i = 0; i < 30 && statusOf((await raw(s.port, GET_HEALTH)).data) !== 200; i++) await sleep(100);
    const again = await Promise.all(Array.from({ length: 4 }, () => raw(s.port, GET_HEALTH)));
    for (const r of again) assert.equal(statusOf(r.data), 200, r.data.slice(0, 200));
    // And real work goes on.
    const c = await s.login('center');
    assert.equal((await c.get('/api/v1/persons?size=5')).status, 200);
    assert.equal(s.exited, null);
  });

  it('under a burst of real requests every answer is 200 or a well-formed 503', async () => {
    const c = await s.login('danghu');
    const rs = await Promise.all(Array.from({ length: 60 }, (_, i) => c.get(`/api/v1/persons?size=50&page=${1 + (i % 3)}`)));
    let ok = 0, busy = 0;
    for (const r of rs) {
      if (r.status === 200) ok++;
      else { assert.equal(r.status, 503); assert.ok(r.headers.get('retry-after')); busy++; }
    }
    console.log(`burst of 60 list requests with --max-inflight 4: ${ok} answered 200, ${busy} refused 503`);
    await healthy(s.port);
  });
});

describe('slow clients are cut off by timeouts', () => {
  let s;
  before(async () => { s = await startServer({ persons: 20, requests: 0, extraArgs: ['--conn-timeout', '2'] }); });
  after(async () => { await s?.cleanup(); });

  // Sends BYTES one a second (at most `max` of them) until the server closes.
  async function trickle(prefix, bytes, { interval = 1000, max = 30 } = {}) {
    const sock = await connect(s.port);
    const got = collect(sock, 15000);
    if (prefix) sock.write(prefix);
    let closed = false;
    sock.once('close', () => { closed = true; });
    for (let i = 0; i < Math.min(max, bytes.length) && !closed; i++) {
      sock.write(bytes[i]);
      await sleep(interval);
    }
    return got;
  }

  it('headers sent a byte a second are cut off after the header timeout', async () => {
    const r = await trickle('', 'GET /api/v1/health HTTP/1.1\r\nHost: slow.example\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n');
    assert.notEqual(r.closedAfter, null, 'the connection should have been closed');
    assert.ok(r.closedAfter >= 1500 && r.closedAfter < 6000, `closed after ${r.closedAfter} ms`);
    assert.equal(statusOf(r.data), 0, 'no answer to a request that never arrived');
  });

  it('a body sent a byte a second is cut off', async () => {
    const c = await s.login('center');
    const head = `POST /api/v1/persons/validate-id HTTP/1.1\r\nHost: x\r\nCookie: ${c.cookie}\r\nX-CSRF-Token: ${c.csrf}\r\n` +
      'Content-Type: application/json\r\nContent-Length: 40\r\n\r\n';
    const r = await trickle(head, '{"id_number":"33048119800101001X"}     ');
    assert.notEqual(r.closedAfter, null);
    assert.ok(r.closedAfter >= 1500 && r.closedAfter < 6000, `closed after ${r.closedAfter} ms`);
    assert.ok(s.logs.join('').includes('发送过慢'), 'the cut is logged');
  });

  it('a silent connection is closed, a fast client on a kept-alive connection is served', async () => {
    const sock = await connect(s.port);
    const r = await collect(sock, 8000);
    assert.notEqual(r.closedAfter, null);
    assert.ok(r.closedAfter < 6000, `closed after ${r.closedAfter} ms`);
    // Keep-alive: two requests on one connection, 1 s apart (inside the timeout).
    const k = await connect(s.port);
    const got = collect(k, 6000);
    k.write('GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n');
    await sleep(1000);
    k.write(GET_HEALTH);
    const both = await got;
    assert.equal((both.data.match(/HTTP\/1\.1 200/g) || []).length, 2, both.data.slice(0, 400));
    await healthy(s.port);
    assert.equal(s.exited, null);
  });
});

describe('SIGTERM drains requests in flight', () => {
  it('a request whose body is still arriving when SIGTERM comes gets its answer; the process exits 0', async () => {
    const s = await startServer({ persons: 20, requests: 0 });
    try {
      const c = await s.login('center');
      const body = JSON.stringify({ name: '停机前', id_number: '33048119800101001X', region_code: '330482001001' });
      const buf = Buffer.from(body);
      const sock = await connect(s.port);
      const got = collect(sock, 15000);
      sock.write(`POST /api/v1/persons HTTP/1.1\r\nHost: x\r\nCookie: ${c.cookie}\r\nX-CSRF-Token: ${c.csrf}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${buf.length}\r\n\r\n`);
      sock.write(buf.subarray(0, 10));
      await sleep(200);
      s.child.kill('SIGTERM');
      await sleep(500);
      assert.equal(s.exited, null, 'the server waits for the request in flight');
      // A new request meanwhile is not served (the listening socket is closed
      // or the answer is 503).
      const late = await raw(s.port, GET_HEALTH, 2000).catch(() => ({ data: '' }));
      assert.notEqual(statusOf(late.data), 200);
      sock.write(buf.subarray(10));
      const r = await got;
      assert.equal(statusOf(r.data), 201, r.data.slice(0, 400));
      assert.match(r.data, /"name":"停机前"/);
      const ex = await s.stop();
      assert.deepEqual(ex, { code: 0, sig: null });
    } finally {
      await s.cleanup();
    }
  });

  it('a large export running when SIGTERM comes is sent whole', async () => {
    const s = await startServer({ persons: 3000, requests: 0 });
    try {
      const c = await s.login('center');
      const t0 = Date.now();
      const pending = c.get('/api/v1/persons/export.xlsx?size=100000');
      await sleep(30);
      s.child.kill('SIGTERM');
      const r = await pending;
      const took = Date.now() - t0;
      assert.equal(r.status, 200);
      assert.equal(r.body.subarray(0, 2).toString(), 'PK', 'a whole .xlsx (zip) file');
      assert.ok(r.body.length > 50000, `export of 3000 persons: ${r.body.length} bytes`);
      const ex = await s.stop();
      assert.deepEqual(ex, { code: 0, sig: null });
      console.log(`export of 3000 persons in flight at SIGTERM: ${r.body.length} bytes in ${took} ms, exit 0`);
    } finally {
      await s.cleanup();
    }
  });
});
