// Bad input at the HTTP level (issue 8, SECURITY.md "Input"), over raw
// sockets so nothing in between tidies the bytes up: requests delivered one
// byte at a time, truncated bodies, huge headers, invalid UTF-8, deep JSON
// nesting, numbers out of range, NUL bytes, malformed chunking. Each gets a
// clean 4xx with a JSON error (or, when the client never finished, nothing),
// and after each the server still answers its health check.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServer } from './lib.mjs';

const DONGHU = '330482001001';
const W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
let seq = 0;
function makeId() {
  seq++;
  const body = `33048119910203${String(seq * 2 + 1).padStart(3, '0')}`;
  let s = 0;
  for (let i = 0; i < 17; i++) s += Number(body[i]) * W[i];
  return body + '10X98765432'[s % 11];
}

// Sends BYTES (string or Buffer) and collects the answer until the server
// closes the connection or `ms` passes. byteAtATime: one write per byte.
async function exchange(port, bytes, { byteAtATime = false, end = false, ms = 8000 } = {}) {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes, 'utf8');
  const sock = net.connect({ port, host: '127.0.0.1', noDelay: true });
  await new Promise((res, rej) => { sock.once('connect', res); sock.once('error', rej); });
  let data = Buffer.alloc(0);
  sock.on('data', (d) => { data = Buffer.concat([data, d]); });
  sock.on('error', () => {});
  const closed = new Promise((res) => sock.once('close', res));
  if (byteAtATime) {
    for (let i = 0; i < buf.length; i++) { sock.write(buf.subarray(i, i + 1)); await sleep(1); }
  } else sock.write(buf);
  if (end) sock.end();
  let timer;
  await Promise.race([closed, new Promise((res) => { timer = setTimeout(res, ms); })]);
  clearTimeout(timer);   // a pending timer would keep the test process alive
  sock.destroy();
  const text = data.toString('utf8');
  const status = Number((/^HTTP\/1\.1 (\d{3})/.exec(text) || [])[1] || 0);
  const sep = text.indexOf('\r\n\r\n');
  let json = null;
  if (sep >= 0) { try { json = JSON.parse(text.slice(sep + 4)); } catch { json = null; } }
  return { status, text, json };
}

const request = (method, path, { headers = {}, body } = {}) => {
  const b = body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  let h = `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n`;
  for (const [k, v] of Object.entries(headers)) h += `${k}: ${v}\r\n`;
  if (body !== undefined) h += `Content-Length: ${b.length}\r\n`;
  return Buffer.concat([Buffer.from(h + '\r\n', 'latin1'), b]);
};

describe('bad input at the HTTP level', () => {
  let s, c, auth, pid, pver, rid, rver;
  before(async () => {
    s = await startServer({ persons: 30, requests: 0 });
    c = await s.login('center');
    auth = { Cookie: c.cookie, 'X-CSRF-Token': c.csrf };
    const p = await c.post('/api/v1/persons', { name: '输入测试', id_number: makeId(), region_code: DONGHU });
    assert.equal(p.status, 201, JSON.stringify(p.json));
    [pid, pver] = [p.json.id, p.json.version];
    const q = await c.post('/api/v1/requests', { channel: '来访', category: '政策咨询', urgency: '普通', content: '输入测试',
      contact_name: '输入', contact_phone: '13800138000', region_code: DONGHU });
    assert.equal(q.status, 201, JSON.stringify(q.json));
    [rid, rver] = [q.json.id, q.json.version];
  });
  after(async () => { await s?.cleanup(); });

  async function stillServing() {
    const r = await exchange(s.port, request('GET', '/api/v1/health'));
    assert.equal(r.status, 200, `health after bad input: ${r.text.slice(0, 200)}`);
    assert.equal(s.exited, null, 'the server is still running');
  }
  // A clean 4xx: the status, a JSON error with a code and a Chinese message.
  function clean4xx(r, allowed, what) {
    assert.ok(allowed.includes(r.status), `${what}: got ${r.status} ${r.text.slice(0, 300)}`);
    if (r.json) {
      assert.ok(r.json.error?.code, `${what}: error code`);
      assert.match(r.json.error.message, /[\u4e00-\u9fff]/, `${what}: Chinese message`);
    }
  }
  const json = { 'Content-Type': 'application/json' };

  it('a request delivered one byte at a time gets its proper answer', async () => {
    const login = await exchange(s.port, request('POST', '/api/v1/auth/login', { headers: json,
      body: JSON.stringify({ username: 'danghu', password: s.accounts.danghu.password }) }), { byteAtATime: true });
    assert.equal(login.status, 200, login.text.slice(0, 300));
    assert.match(login.text, /Set-Cookie: vets_session=/i);
    const id = makeId();
    const created = await exchange(s.port, request('POST', '/api/v1/persons', { headers: { ...auth, ...json },
      body: JSON.stringify({ name: '逐字节', id_number: id, region_code: DONGHU }) }), { byteAtATime: true });
    assert.equal(created.status, 201, created.text.slice(0, 300));
    assert.equal(created.json.name, '逐字节');
    const got = await exchange(s.port, request('GET', `/api/v1/persons/${created.json.id}`, { headers: auth }), { byteAtATime: true });
    assert.equal(got.status, 200);
    assert.equal(got.json.id_number, `${id.slice(0, 6)}********${id.slice(14)}`);
    // Chunked, one byte at a time too.
    const chunked = await exchange(s.port, Buffer.from('POST /api/v1/persons/validate-id HTTP/1.1\r\nHost: x\r\nConnection: close\r\n' +
      `Cookie: ${c.cookie}\r\nX-CSRF-Token: ${c.csrf}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n` +
      '5\r\n{"id_\r\n1c\r\nnumber":"11010519491231002X"\r\n1\r\n}\r\n0\r\n\r\n'), { byteAtATime: true });
    assert.equal(chunked.status, 200, chunked.text.slice(0, 300));
    assert.equal(chunked.json.valid, true);
    await stillServing();
  });

  it('truncated bodies (Content-Length larger than sent, then close) do not crash and store nothing', async () => {
    const before = (await c.get('/api/v1/persons?size=1')).json.total;
    const body = Buffer.from(JSON.stringify({ name: '截断', id_number: makeId(), region_code: DONGHU }));
    for (const cut of [0, 1, 10, body.length - 1]) {
      const head = `POST /api/v1/persons HTTP/1.1\r\nHost: x\r\nCookie: ${c.cookie}\r\nX-CSRF-Token: ${c.csrf}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length + 100}\r\n\r\n`;
      const r = await exchange(s.port, Buffer.concat([Buffer.from(head), body.subarray(0, cut)]), { end: true, ms: 1500 });
      assert.ok(r.status === 0 || (r.status >= 400 && r.status < 500), `cut at ${cut}: ${r.status}`);
    }
    // Chunked and cut inside a chunk; a chunk size that is not a number; one that overflows.
    for (const tail of ['100\r\n{"name":', 'zz\r\n{}\r\n0\r\n\r\n', 'ffffffffffffffffffff\r\n{}\r\n0\r\n\r\n', '-5\r\n{}\r\n0\r\n\r\n']) {
      const r = await exchange(s.port, `POST /api/v1/persons HTTP/1.1\r\nHost: x\r\nCookie: ${c.cookie}\r\nX-CSRF-Token: ${c.csrf}\r\n` +
        `Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${tail}`, { end: true, ms: 1500 });
      assert.ok(r.status === 0 || (r.status >= 400 && r.status < 500), `chunked ${JSON.stringify(tail)}: ${r.status}`);
    }
    assert.equal((await c.get('/api/v1/persons?size=1')).json.total, before, 'nothing half-stored');
    await stillServing();
  });

  it('huge headers, many headers, a huge URL and a huge cookie get a clean 4xx', async () => {
    const big = 'a'.repeat(100 * 1024);
    const cases = [
      ['one 100 KB header', `GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: ${big}\r\n\r\n`],
      ['5000 headers', `GET /api/v1/health HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 5000 }, (_, i) => `X-H${i}: v`).join('\r\n')}\r\n\r\n`],
      ['100 KB URL', `GET /api/v1/persons?q=${big} HTTP/1.1\r\nHost: x\r\n\r\n`],
      ['100 KB cookie', `GET /api/v1/auth/me HTTP/1.1\r\nHost: x\r\nCookie: vets_session=${big}\r\n\r\n`],
    ];
    for (const [what, bytes] of cases) {
      const r = await exchange(s.port, bytes);
      assert.ok([400, 413, 414, 431].includes(r.status), `${what}: ${r.status} ${r.text.slice(0, 200)}`);
      await stillServing();
    }
  });

  it('invalid UTF-8, lone surrogates and NUL bytes in JSON get 400', async () => {
    const idn = makeId();
    const bodies = [
      ['invalid byte', Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xff, 0xfe]), Buffer.from(`","id_number":"${idn}","region_code":"${DONGHU}"}`)])],
      ['overlong /', Buffer.concat([Buffer.from('{"name":"a'), Buffer.from([0xc0, 0xaf]), Buffer.from(`","id_number":"${idn}","region_code":"${DONGHU}"}`)])],
      ['truncated sequence', Buffer.concat([Buffer.from('{"name":"张'), Buffer.from([0xe5, 0xbc]), Buffer.from(`","id_number":"${idn}","region_code":"${DONGHU}"}`)])],
      ['CESU surrogate bytes', Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from(`","id_number":"${idn}","region_code":"${DONGHU}"}`)])],
      ['lone surrogate escape', Buffer.from(`{"name":"\\ud800","id_number":"${idn}","region_code":"${DONGHU}"}`)],
      ['escaped NUL', Buffer.from(`{"name":"a\\u0000b","id_number":"${idn}","region_code":"${DONGHU}"}`)],
      ['raw NUL', Buffer.concat([Buffer.from('{"name":"a'), Buffer.from([0]), Buffer.from(`b","id_number":"${idn}","region_code":"${DONGHU}"}`)])],
      ['duplicate key', Buffer.from(`{"name":"a","name":"b","id_number":"${idn}","region_code":"${DONGHU}"}`)],
      ['trailing garbage', Buffer.from(`{"name":"a","id_number":"${idn}","region_code":"${DONGHU}"} x`)],
    ];
    for (const [what, body] of bodies) {
      const r = await exchange(s.port, request('POST', '/api/v1/persons', { headers: { ...auth, ...json }, body }));
      clean4xx(r, [400], what);
      assert.equal(r.json?.error?.code, 'malformed_json', what);
    }
    // The same in a request action and in a PATCH.
    const bad = Buffer.concat([Buffer.from(`{"action":"note","version":${rver},"note":"`), Buffer.from([0xff]), Buffer.from('"}')]);
    clean4xx(await exchange(s.port, request('POST', `/api/v1/requests/${rid}/actions`, { headers: { ...auth, ...json }, body: bad })), [400], 'action');
    const badp = Buffer.concat([Buffer.from(`{"version":${pver},"remarks":"`), Buffer.from([0xc3]), Buffer.from('"}')]);
    clean4xx(await exchange(s.port, request('PATCH', `/api/v1/persons/${pid}`, { headers: { ...auth, ...json }, body: badp })), [400], 'patch');
    // Bad bytes in the URL and query are answered too.
    for (const path of ['/api/v1/persons/%ff%fe', '/api/v1/persons?q=%ff%c0%af', '/api/v1/persons/%00', '/%ff/../../etc/passwd']) {
      const r = await exchange(s.port, request('GET', path, { headers: auth }));
      assert.ok(r.status >= 200 && r.status < 500, `${path}: ${r.status}`);
    }
    assert.equal((await c.get(`/api/v1/persons/${pid}`)).json.version, pver, 'nothing changed');
    await stillServing();
  });

  it('deep JSON nesting (100 000 levels) gets 400, moderate nesting a validation error', async () => {
    for (const [what, body] of [
      ['100000 [', '['.repeat(100000)],
      ['100000 [ closed', '['.repeat(100000) + ']'.repeat(100000)],
      ['50000 {"a":', '{"a":'.repeat(50000) + '1' + '}'.repeat(50000)],
      ['deep inside a field', `{"name":${'['.repeat(100000)}}`],
    ]) {
      const r = await exchange(s.port, request('POST', '/api/v1/persons', { headers: { ...auth, ...json }, body }));
      clean4xx(r, [400, 413], what);
    }
    const r = await exchange(s.port, request('POST', '/api/v1/persons', { headers: { ...auth, ...json },
      body: `{"name":${'['.repeat(500)}${']'.repeat(500)},"id_number":"${makeId()}","region_code":"${DONGHU}"}` }));
    clean4xx(r, [400, 422], 'nested array as a name');
    await stillServing();
  });

  it('numbers out of range get a clean 4xx and change nothing', async () => {
    const cases = [
      ['1e400', `{"version":1e400,"remarks":"x"}`],
      ['-1e400', `{"version":-1e400,"remarks":"x"}`],
      ['2^70', `{"version":1180591620717411303424,"remarks":"x"}`],
      ['2^63', `{"version":9223372036854775808,"remarks":"x"}`],
      ['-2^63', `{"version":-9223372036854775808,"remarks":"x"}`],
      ['int64 max', `{"version":9223372036854775807,"remarks":"x"}`],
      ['fraction', `{"version":1.5,"remarks":"x"}`],
      ['huge exponent', `{"version":1e99999999999999999999,"remarks":"x"}`],
      ['long digits', `{"version":${'9'.repeat(5000)},"remarks":"x"}`],
      ['string', `{"version":"1","remarks":"x"}`],
    ];
    for (const [what, body] of cases) {
      const r = await exchange(s.port, request('PATCH', `/api/v1/persons/${pid}`, { headers: { ...auth, ...json }, body }));
      clean4xx(r, [400, 409, 422], `person version ${what}`);
      const a = await exchange(s.port, request('POST', `/api/v1/requests/${rid}/actions`, { headers: { ...auth, ...json },
        body: body.replace('"remarks":"x"', '"action":"note","note":"x"') }));
      clean4xx(a, [400, 409, 422], `request version ${what}`);
    }
    // Out-of-range numbers in fields, in the path and in the query.
    for (const body of [`{"version":${pver},"service":{"hardship_months":1e400}}`, `{"version":${pver},"service":{"combat_days":1180591620717411303424}}`,
      `{"version":${pver},"service":{"combat_days":-9223372036854775808}}`, `{"version":${pver},"service":{"awards":{"peace":{"first":9223372036854775807}}}}`]) {
      const r = await exchange(s.port, request('PATCH', `/api/v1/persons/${pid}`, { headers: { ...auth, ...json }, body }));
      clean4xx(r, [400, 422], body);
    }
    const act = await exchange(s.port, request('POST', `/api/v1/requests/${rid}/actions`, { headers: { ...auth, ...json },
      body: `{"action":"extend","version":${rver},"reason":"x","workdays":1180591620717411303424}` }));
    clean4xx(act, [400, 403, 409, 422], 'extend workdays 2^70');
    for (const path of [`/api/v1/persons/${'9'.repeat(40)}`, '/api/v1/persons/-1', `/api/v1/requests/${'9'.repeat(19)}`]) {
      const r = await exchange(s.port, request('GET', path, { headers: auth }));
      clean4xx(r, [400, 404], path);
    }
    for (const q of ['page=1e400&size=99999999999999999999999', 'page=-9223372036854775808&size=-1', `page=${'9'.repeat(300)}`]) {
      const r = await exchange(s.port, request('GET', `/api/v1/persons?${q}`, { headers: auth }));
      assert.ok(r.status === 200 || (r.status >= 400 && r.status < 500), `${q}: ${r.status}`);
    }
    const g = await c.get(`/api/v1/persons/${pid}`);
    assert.equal(g.json.version, pver, 'no out-of-range number changed the person');
    await stillServing();
  });

  it('malformed request lines, methods and framing are refused cleanly', async () => {
    const cases = [
      'GARBAGE\r\n\r\n',
      'GET\r\n\r\n',
      'GET /api/v1/health HTTP/9.9\r\nHost: x\r\n\r\n',
      'BREW /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /api/v1/health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n',
      'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 50\r\nContent-Type: application/json\r\n\r\n{}',
      'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\nContent-Type: application/json\r\n\r\n{}',
      'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\nContent-Type: application/json\r\n\r\n{}',
      'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\nContent-Type: application/json\r\n\r\n2\r\n{}\r\n0\r\n\r\n',
      'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}',
    ];
    for (const bytes of cases) {
      const r = await exchange(s.port, bytes, { end: true, ms: 1500 });
      assert.ok(r.status === 0 || (r.status >= 400 && r.status < 600 && r.status !== 500), `${JSON.stringify(bytes.slice(0, 60))}: ${r.status}`);
    }
    // Control bytes in a header value, an encoded NUL in a query value: 400
    // (a NUL would cut the value short for every C string compare after it).
    for (const bytes of ['GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Ctl: a\x01b\r\n\r\n',
      'GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Del: a\x7fb\r\n\r\n',
      `GET /api/v1/persons?q=abc%00def HTTP/1.1\r\nHost: x\r\nCookie: ${c.cookie}\r\n\r\n`]) {
      const r = await exchange(s.port, bytes, { end: true, ms: 1500 });
      clean4xx(r, [400], JSON.stringify(bytes.slice(0, 60)));
    }
    // A raw NUL inside a header line: libmicrohttpd ends the value there (what
    // follows never reaches the application); any clean answer will do.
    const nul = await exchange(s.port, 'GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Nul: a\0b\r\n\r\n', { end: true, ms: 1500 });
    assert.ok([0, 200, 400].includes(nul.status), `NUL in a header: ${nul.status}`);
    await stillServing();
  });
});
