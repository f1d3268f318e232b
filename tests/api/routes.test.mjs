// The route table against the OpenAPI description and the access rules:
// every route is described, every non-public route answers 401 without a
// session, and a role without the route's permission gets 403 (deny by default).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, vets } from './lib.mjs';

const NEWPW = 'Rt5#vbNm8kLp';

function routeTable() {
  return vets(['routes']).trim().split('\n').map((l) => {
    const [method, path, perm, flags] = l.split('\t');
    return { method, path, perm, public: (flags || '').includes('public') };
  });
}

function concrete(path) {
  return path.replace(/\{(id|cid|hid|aid)\}/g, '1').replace(/\{[a-z_]+\}/g, 'x');
}

describe('routes', () => {
  let srv;
  const clients = {};
  before(async () => {
    srv = await startServer({ persons: 50 });
    for (const name of ['center', 'danghu', 'cun', 'leader', 'sysadmin', 'secadmin', 'auditor']) {
      const c = await srv.login(name);
      const me = await c.get('/api/v1/auth/me');
      if (me.json.user.must_change_password) {
        const r = await c.post('/api/v1/auth/password', { old_password: srv.accounts[name].password, new_password: NEWPW });
        assert.equal(r.status, 200);
      }
      clients[name] = { c, perms: new Set((await c.get('/api/v1/auth/me')).json.user.permissions) };
    }
  });
  after(async () => { await srv.cleanup(); });

  test('every route is in the OpenAPI description and nothing else is', async () => {
    const yaml = (await srv.client().get('/api/v1/openapi.yaml')).body.toString('utf8');
    const described = new Set();
    let cur = null;
    for (const line of yaml.split('\n')) {
      let m = /^ {2}(\/\S*):\s*$/.exec(line);
      if (m) { cur = m[1]; continue; }
      m = /^ {4}(get|post|put|patch|delete):\s*$/.exec(line);
      if (m && cur) described.add(`${m[1].toUpperCase()} /api/v1${cur}`);
      if (/^\S/.test(line) && !line.startsWith('paths:')) cur = null;
    }
    const routes = new Set(routeTable().map((r) => `${r.method} ${r.path}`));
    const missing = [...routes].filter((r) => !described.has(r) && !r.includes('/test/'));
    const extra = [...described].filter((r) => !routes.has(r));
    assert.deepEqual(missing, [], 'routes missing from docs/openapi.yaml');
    assert.deepEqual(extra, [], 'documented routes that do not exist');
  });

  test('without a session every non-public route answers 401', async () => {
    const anon = srv.client();
    for (const r of routeTable()) {
      if (r.public) continue;
      const res = await anon.req(r.method, concrete(r.path), r.method === 'GET' || r.method === 'DELETE' ? undefined : {});
      assert.equal(res.status, 401, `${r.method} ${r.path}`);
    }
  });

  test('a role without the permission gets 403 on every route', async () => {
    let checked = 0;
    for (const r of routeTable()) {
      if (r.public || r.perm === 'self') continue;
      const lacking = Object.entries(clients).find(([, v]) => !v.perms.has(r.perm));
      // A permission every role holds (reading code tables) has nobody to refuse.
      if (!lacking) { assert.ok(['code.read'].includes(r.perm), `no demo role lacks ${r.perm}`); continue; }
      const [name, { c }] = lacking;
      const res = await c.req(r.method, concrete(r.path), r.method === 'GET' || r.method === 'DELETE' ? undefined : {});
      assert.equal(res.status, 403, `${name} ${r.method} ${r.path} → ${res.status}`);
      assert.equal(res.json.error.code, 'forbidden');
      checked++;
    }
    assert.ok(checked > 40, `checked ${checked} routes`);
  });
});
