// Second factor (TOTP, RFC 6238): a role made to need it must enrol before
// anything else; enrolment shows a QR code and takes effect with the first
// valid code; then every login needs a code, and a used code is refused.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { startServer, auditRows, sql } from './lib.mjs';

const NEWPW = 'Tp9#xQw3mZr6';

function unbase32(s) {
  const a = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0, buf = 0; const out = [];
  for (const ch of s) { buf = (buf << 5) | a.indexOf(ch); bits += 5; if (bits >= 8) { out.push((buf >> (bits - 8)) & 255); bits -= 8; } }
  return Buffer.from(out);
}
function code(secret, step) {
  const msg = Buffer.alloc(8); msg.writeBigUInt64BE(BigInt(step));
  const md = createHmac('sha1', unbase32(secret)).update(msg).digest();
  const off = md[md.length - 1] & 15;
  return String(((md.readUInt32BE(off) & 0x7fffffff) % 1000000)).padStart(6, '0');
}

describe('TOTP', () => {
  let srv;
  before(async () => { srv = await startServer({ persons: 10 }); });
  after(async () => { await srv.cleanup(); });

  async function serverNow(offset) {
    return (await srv.client().post('/api/v1/test/clock', { offset_seconds: offset })).json.now;
  }

  test('RFC 6238 test vector through our own code path (SHA1, T=59 → 287082)', () => {
    // Secret "12345678901234567890" in base32.
    assert.equal(code('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', 1), '287082');
  });

  test('a role that needs TOTP enrols, then needs a fresh code at every login', async () => {
    const sec = await srv.login('secadmin');
    await sec.post('/api/v1/auth/password', { old_password: srv.accounts.secadmin.password, new_password: NEWPW });
    const set = await sec.patch('/api/v1/settings', { 'totp.required_roles': 'auditor' });
    assert.equal(set.status, 200, JSON.stringify(set.json));

    const aud = await srv.login('auditor');
    await aud.post('/api/v1/auth/password', { old_password: srv.accounts.auditor.password, new_password: NEWPW });
    const me = await aud.get('/api/v1/auth/me');
    assert.equal(me.json.user.must_enrol_totp, true);
    const blocked = await aud.get('/api/v1/audit');
    assert.equal(blocked.status, 403);
    assert.equal(blocked.json.error.code, 'totp_enrollment_required');

    const setup = await aud.post('/api/v1/auth/totp/setup', {});
    assert.equal(setup.status, 200);
    assert.match(setup.json.qr_svg, /^<svg/);
    assert.match(setup.json.otpauth_uri, /^otpauth:\/\/totp\/vets:auditor\?secret=/);
    const secret = setup.json.secret;
    let now = await serverNow(0);
    const wrong = await aud.post('/api/v1/auth/totp/confirm', { code: code(secret, Math.floor(now / 30) + 5) });
    assert.equal(wrong.status, 422);
    const ok = await aud.post('/api/v1/auth/totp/confirm', { code: code(secret, Math.floor(now / 30)) });
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.equal((await aud.get('/api/v1/audit')).status, 200);

    // A new login: the code is asked for, a used code is refused, a fresh one works.
    const c = srv.client();
    const noCode = await c.login('auditor', NEWPW);
    assert.equal(noCode.status, 401);
    assert.equal(noCode.json.error.code, 'totp_required');
    const replay = await c.login('auditor', NEWPW, { totp: code(secret, Math.floor(now / 30)) });
    assert.equal(replay.status, 401);
    assert.equal(replay.json.error.code, 'totp_invalid');
    now = await serverNow(60);
    const fresh = await c.login('auditor', NEWPW, { totp: code(secret, Math.floor(now / 30)) });
    assert.equal(fresh.status, 200, JSON.stringify(fresh.json));
    const again = await srv.client().login('auditor', NEWPW, { totp: code(secret, Math.floor(now / 30)) });
    assert.equal(again.status, 401, 'the same code twice is a replay');
    await serverNow(0);
    assert.equal(auditRows(srv.dir, "event='totp.enrol' AND username='auditor'").length, 1);
  });

  test('the secret is not stored in clear', async () => {
    const v = sql(srv.dir, "SELECT totp_secret FROM users WHERE username='auditor'")[0].totp_secret;
    assert.match(v, /^v1:[0-9a-f]+:/);
  });
});
