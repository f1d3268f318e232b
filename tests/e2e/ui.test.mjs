// Browser tests of the web UI: a real `vets serve` (temp data folder, demo data)
// driven through Debian's chromium with playwright-core. Run with
//   VETS_BIN=build/vets VETS_SRC=. node --test tests/e2e/ui.test.mjs
// It needs web/dist (built by `npm --prefix web run build`; built here if missing)
// and never downloads a browser. Screenshots go to build/screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, SRC } from '../api/lib.mjs';
import { makeXlsx, xlsxText, idWithCheck, idWithWrongCheck } from './xlsx.mjs';

const WEB = join(SRC, 'web');
const DIST = process.env.VETS_WEB_DIST || join(WEB, 'dist');
const SHOTS = join(SRC, 'build', 'screenshots');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const STEP = 15000; // ms to wait for one UI step

let pw; // playwright-core, from web/node_modules
let server;
const dirs = [];
const contexts = [];
// Never skip silently: without chromium the suite fails and says why (make test installs it).
const skip = false;
if (!existsSync(CHROMIUM)) throw new Error(`chromium not found at ${CHROMIUM} (apt-get install chromium fonts-noto-cjk)`);

// Newest modification time of the UI sources, to rebuild a stale web/dist.
function newestSource() {
  let t = 0;
  const walk = (p) => {
    const st = statSync(p);
    if (st.isDirectory()) for (const f of readdirSync(p)) walk(join(p, f));
    else t = Math.max(t, st.mtimeMs);
  };
  for (const p of ['src', 'public', 'index.html', 'vite.config.js', 'package.json']) if (existsSync(join(WEB, p))) walk(join(WEB, p));
  return t;
}

before(async () => {
  if (skip) return;
  if (!existsSync(join(WEB, 'node_modules', 'playwright-core'))) {
    throw new Error('web/node_modules is missing: run `npm ci` in web/ first');
  }
  if (!process.env.VETS_WEB_DIST && (!existsSync(join(DIST, 'index.html')) || statSync(join(DIST, 'index.html')).mtimeMs < newestSource())) {
    execFileSync('npm', ['run', 'build'], { cwd: WEB, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  pw = await import(join(WEB, 'node_modules', 'playwright-core', 'index.mjs'));
  mkdirSync(SHOTS, { recursive: true });
  server = await startServer({ persons: 300, extraArgs: ['--web', DIST] });
});

after(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  if (server) await server.cleanup();
});

// A fresh browser profile per user, as on a shared office PC after logout.
async function browser() {
  const dir = mkdtempSync(join(tmpdir(), 'vets-chromium-'));
  dirs.push(dir);
  const ctx = await pw.chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: false, // --headless=new is passed below
    args: ['--no-sandbox', '--headless=new', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1440, height: 900 },
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
    acceptDownloads: true,
  });
  contexts.push(ctx);
  const page = ctx.pages()[0] || await ctx.newPage();
  page.setDefaultTimeout(STEP);
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  return { ctx, page };
}

// Screenshots after the network is quiet and Element Plus transitions are over.
async function shot(page, name) {
  await page.waitForLoadState('networkidle').catch(() => {});
  await page.locator('.el-loading-mask').first().waitFor({ state: 'hidden', timeout: 5000 }).catch(() => {});
  await page.waitForTimeout(700);
  await page.screenshot({ path: join(SHOTS, name) });
}
const url = (p) => server.url + p;

async function login(page, username, password = server.accounts[username].password) {
  await page.goto(url('/login'));
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', password);
  await page.click('[data-test=login-submit]');
}

// Element Plus select: open it, click the visible option with this text.
async function pick(page, trigger, text) {
  await trigger.click();
  const opt = page.locator('.el-select-dropdown__item:visible, .el-select-dropdown__option-item:visible', { hasText: text }).first();
  await opt.click();
}
async function confirmBox(page, text) {
  await page.locator('.el-message-box__btns button:visible', { hasText: text }).click();
}
async function waitApi(page, pathPart, method = 'GET') {
  return page.waitForResponse((r) => r.url().includes(pathPart) && r.request().method() === method, { timeout: STEP });
}

// API clients of the harness, one login each (logins are rate-limited per minute).
const clients = {};
async function apiAs(username) {
  clients[username] ??= await server.login(username);
  return clients[username];
}

// A valid ID number that is not in the database yet (checked through the API as center).
async function freshId(prefix = '33048219750607') {
  const c = await apiAs('center');
  for (let i = 0; i < 200; i++) {
    const seq = String(100 + Math.floor(Math.random() * 899));
    const id = idWithCheck(prefix + seq);
    const r = await c.get('/api/v1/persons?q=' + id);
    if (r.status !== 200 || r.json.total === 0) return id;
  }
  throw new Error('no free ID number');
}

const state = {}; // what one scenario leaves for the next

test('login page: wrong password is refused with the Chinese message', { skip }, async () => {
  const { page } = await browser();
  await page.goto(url('/persons'));
  await page.waitForURL(/\/login/);
  await shot(page, 'login.png');
  await login(page, 'danghu', 'wrong-password-1');
  await page.locator('[data-test=login-error]').waitFor();
  assert.match(await page.locator('[data-test=login-error]').innerText(), /用户名或密码错误/);
});

test('town user: dashboard, header, menu by role', { skip }, async () => {
  const { page } = await browser();
  state.danghu = page;
  await login(page, 'danghu');
  await page.waitForURL(/\/dashboard/);
  const header = await page.locator('[data-test=header-station]').innerText();
  assert.match(header, /当湖街道/);
  const menu = await page.locator('[data-test=side-menu]').innerText();
  assert.match(menu, /人员档案/);
  assert.match(menu, /诉求办理/);
  assert.doesNotMatch(menu, /用户管理|安全审计/, 'a town user sees no admin pages');
  await page.waitForTimeout(800); // charts animate
  await shot(page, 'dashboard.png');
});

test('person: wrong ID number shows the error, a right one fills sex and birth date, then saves', { skip }, async () => {
  const page = state.danghu;
  const good = await freshId();
  state.personId = good;
  state.personName = '测试' + ['甲', '乙', '丙', '丁'][Math.floor(Math.random() * 4)] + '军';
  await page.goto(url('/persons/new'));
  await page.fill('[data-test=person-form] input[name=name]', state.personName);
  const idInput = page.locator('[data-test=person-form] input[name=id_number]');
  await idInput.fill(idWithWrongCheck(good.slice(0, 17)));
  await idInput.blur();
  const idItem = page.locator('.el-form-item', { has: page.locator('input[name=id_number]') });
  await idItem.locator('.el-form-item__error').waitFor();
  assert.match(await idItem.locator('.el-form-item__error').innerText(), /校验/);
  await idInput.fill(good);
  await idInput.blur();
  await page.locator('[data-test=id-ok]').waitFor();
  assert.match(await page.locator('[data-test=id-ok]').innerText(), /1975-06-07/);
  // region: 当湖街道 → 东湖社区 in the cascader
  await page.locator('[data-test=person-form] .el-cascader').click();
  await page.locator('.el-cascader-node:visible', { hasText: '当湖街道' }).locator('.el-cascader-node__label').click();
  await page.locator('.el-cascader-node:visible', { hasText: '东湖社区' }).locator('.el-radio').click();
  await page.keyboard.press('Escape');
  await page.fill('[data-test=person-form] input[name=phone]', '13800001234');
  const saved = waitApi(page, '/api/v1/persons', 'POST');
  await page.click('[data-test=person-save]');
  const res = await saved;
  assert.ok([200, 201].includes(res.status()), `create person: ${res.status()} ${await res.text()}`);
  await page.waitForURL(/\/persons\/\d+(\?|$)/);
  state.personUrl = page.url();
  await page.locator('[data-test=person-name]').waitFor();
  assert.match(await page.locator('[data-test=person-name]').innerText(), new RegExp(state.personName));
  assert.match(await page.locator('[data-test=person-id]').innerText(), /\*{4}/, 'the ID number is masked');
  // reveal with a reason (audited)
  await page.click('[data-test=reveal-id]');
  await pick(page, page.locator('[data-test=reveal-preset]'), '核实身份信息');
  await page.click('[data-test=reveal-confirm]');
  await page.locator('[data-test=revealed-value]').waitFor();
  assert.equal(await page.locator('[data-test=revealed-value]').innerText(), good);
  await page.keyboard.press('Escape');
  await page.locator('[data-test=revealed-value]').waitFor({ state: 'hidden' });
  await shot(page, 'person-detail.png');
  // the list finds it by name
  await page.goto(url('/persons?q=' + encodeURIComponent(state.personName)));
  await page.locator('[data-test=person-table] .el-table__row', { hasText: state.personName }).first().waitFor();
  await page.goto(url('/persons'));
  await page.locator('[data-test=person-table] .el-table__row').first().waitFor();
  await shot(page, 'persons.png');
});

test('import: .xlsx with one bad row, commit the valid rows, download the error sheet', { skip }, async () => {
  const page = state.danghu;
  await page.goto(url('/persons/import'));
  const tpl = page.waitForEvent('download');
  await page.click('[data-test=import-template]');
  const tplFile = await tpl;
  const tplBytes = readFileSync(await tplFile.path());
  assert.equal(tplBytes.subarray(0, 2).toString(), 'PK', 'the template is an .xlsx (zip)');
  const ok = await freshId('33048219660315');
  const bad = idWithWrongCheck('33048219660316' + '123');
  const xlsx = makeXlsx([
    ['姓名', '身份证号码', '所属村社区', '联系电话'],
    ['导入甲', ok, '东湖社区', '13900001111'],
    ['导入乙', bad, '东湖社区', '13900002222'],
  ]);
  const preview = waitApi(page, '/api/v1/persons/import', 'POST');
  await page.locator('[data-test=import-upload] input[type=file]').setInputFiles({ name: '导入测试.xlsx', mimeType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', buffer: xlsx });
  const pr = await preview;
  assert.equal(pr.status(), 200, `preview: ${pr.status()} ${await pr.text()}`);
  await page.locator('[data-test=import-preview]').waitFor();
  assert.match(await page.locator('[data-test=import-error-count]').innerText(), /错误 1/);
  assert.equal(await page.locator('[data-test=import-preview] .row-error').count(), 1, 'the bad row is highlighted');
  await shot(page, 'import.png');
  await page.click('[data-test=import-commit]');
  const commit = waitApi(page, '/commit', 'POST');
  await confirmBox(page, '确认导入');
  const cr = await commit;
  assert.equal(cr.status(), 200, `commit: ${cr.status()} ${await cr.text()}`);
  await page.locator('[data-test=import-result]').waitFor();
  assert.match(await page.locator('[data-test=import-result]').innerText(), /新建\s*1\s*人/);
  const dl = page.waitForEvent('download');
  await page.click('[data-test=import-errors-final]');
  const errFile = await dl;
  const errBytes = readFileSync(await errFile.path());
  assert.equal(errBytes.subarray(0, 2).toString(), 'PK', 'the error sheet is an .xlsx');
  assert.match(errFile.suggestedFilename(), /\.xlsx$/);
  const errText = xlsxText(errBytes);
  assert.match(errText, /导入乙/, 'the bad row is in the error sheet');
  assert.match(errText, /校验位/, 'with its message');
  assert.doesNotMatch(errText, /导入甲/, 'the good row is not');
});

test('request: take in, accept, assign, reply, close', { skip }, async () => {
  const page = state.danghu;
  await page.goto(url('/requests/new'));
  await pick(page, page.locator('[data-test=req-category]'), '政策咨询');
  await page.locator('[data-test=req-person] input').fill(state.personName);
  await page.locator('.el-select-dropdown__item:visible', { hasText: state.personName }).first().click();
  await page.fill('[data-test=req-content]', '咨询退役士兵自主就业一次性经济补助的发放时间。');
  // A letter attached at intake goes with the new request.
  await page.locator('.el-upload input[type=file]').setInputFiles({ name: '来信.txt', mimeType: 'text/plain', buffer: Buffer.from('来信内容：咨询补助发放时间。') });
  await page.locator('.el-upload-list__item', { hasText: '来信.txt' }).waitFor();
  const created = waitApi(page, '/api/v1/requests', 'POST');
  const attached = page.waitForResponse((r) => /\/api\/v1\/requests\/\d+\/attachments$/.test(r.url()) && r.request().method() === 'POST', { timeout: STEP });
  await page.click('[data-test=request-save]');
  const cr = await created;
  assert.ok([200, 201].includes(cr.status()), `create request: ${cr.status()} ${await cr.text()}`);
  assert.ok([200, 201].includes((await attached).status()), 'attachment uploaded with the intake');
  await page.waitForURL(/\/requests\/\d+(\?|$)/);
  await page.locator('[data-test=attachments] .el-table__row', { hasText: '来信.txt' }).waitFor();
  state.requestUrl = page.url();
  const status = page.locator('[data-test=request-status]');
  const act = async (name, fill) => {
    await page.click(`[data-test=action-${name}]`);
    const dlg = page.locator('.el-dialog:visible');
    await dlg.waitFor();
    if (fill) await fill(dlg);
    const done = waitApi(page, '/actions', 'POST');
    await dlg.locator('[data-test=action-confirm]').click();
    const r = await done;
    assert.equal(r.status(), 200, `${name}: ${r.status()} ${await r.text()}`);
    await dlg.waitFor({ state: 'hidden' });
  };
  await page.locator('[data-test=action-note]').waitFor(); // the actions of the loaded request are shown
  if (await page.locator('[data-test=action-accept]').count()) {
    await act('accept');
    await page.waitForFunction(() => /办理中/.test(document.querySelector('[data-test=request-status]')?.textContent || ''));
  }
  // The request belongs to the person's village station; the town takes it over itself.
  await act('assign', async (dlg) => {
    await pick(page, dlg.locator('[data-test=field-station_id]'), '当湖街道退役军人服务站');
    await pick(page, dlg.locator('[data-test=field-assignee_id]'), '本人');
  });
  await act('reply', async (dlg) => { await dlg.locator('[data-test=field-content]').fill('已告知：补助在退役报到后 30 日内发放。'); });
  await page.waitForFunction(() => /已答复/.test(document.querySelector('[data-test=request-status]')?.textContent || ''));
  await act('close');
  await page.waitForFunction(() => /已办结/.test(document.querySelector('[data-test=request-status]')?.textContent || ''));
  assert.match(await status.innerText(), /已办结/);
  const tl = await page.locator('[data-test=timeline]').innerText();
  for (const w of ['受理', '答复', '办结']) assert.match(tl, new RegExp(w), `timeline shows ${w}`);
  await shot(page, 'request-detail.png');
  await page.goto(url('/requests?queue=closed'));
  await page.locator('[data-test=request-table] .el-table__row').first().waitFor();
  await shot(page, 'requests.png');
});

test('session loss: the typed form survives a new login', { skip }, async () => {
  const { ctx, page } = await browser();
  await login(page, 'danghu');
  await page.waitForURL(/\/dashboard/);
  await page.goto(url('/requests/new'));
  const text = '草稿保留测试：会话超时后内容不应丢失。';
  await pick(page, page.locator('[data-test=req-category]'), '政策咨询');
  await page.fill('[data-test=req-content]', text);
  await page.fill('[data-test=req-contact-phone]', '13700000000');
  await page.waitForTimeout(500); // the draft is saved after 300 ms
  await ctx.clearCookies(); // the session is gone, as after the idle timeout
  await page.locator('[data-test=req-who] .el-radio', { hasText: '未建档' }).click();
  await page.fill('[data-test=req-contact-name]', '张某');
  await page.click('[data-test=request-save]');
  await page.waitForURL(/\/login\?redirect=/);
  await page.fill('input[name=username]', 'danghu');
  await page.fill('input[name=password]', server.accounts.danghu.password);
  await page.click('[data-test=login-submit]');
  await page.waitForURL(/\/requests\/new/);
  await page.waitForFunction((t) => document.querySelector('[data-test=req-content]')?.value === t, text);
});

test('stations: the tree and the 五有 checklist', { skip }, async () => {
  const page = state.danghu;
  await page.goto(url('/stations'));
  await page.locator('[data-test=station-tree]', { hasText: '东湖社区' }).waitFor();
  await page.click('[data-test=station-edit]');
  await page.click('[data-test=five-org]');
  await page.click('[data-test=station-save]');
  const saved = waitApi(page, '/api/v1/stations/', 'PATCH');
  await confirmBox(page, '确定');
  assert.equal((await saved).status(), 200);
  await page.locator('[data-test=five-haves]', { hasText: '已达标' }).waitFor();
  await shot(page, 'stations.png');
});

test('village user does not see a person of another town', { skip }, async () => {
  // A 乍浦镇 person whose name has no namesake in 东湖社区 (checked as center).
  const zp = await apiAs('zhapu');
  const center = await apiAs('center');
  const cunRegion = '330482001001';
  const list = await zp.get('/api/v1/persons?size=50');
  assert.equal(list.status, 200, 'zhapu lists persons');
  let target = null;
  for (const p of list.json.items) {
    const r = await center.get(`/api/v1/persons?region=${cunRegion}&q=${encodeURIComponent(p.name)}`);
    if (r.json.total === 0) { target = p; break; }
  }
  assert.ok(target, 'a 乍浦镇 person without namesake in 东湖社区');
  const { page } = await browser();
  await login(page, 'cun');
  await page.waitForURL((u) => !u.pathname.startsWith('/login'));
  await page.goto(url('/persons'));
  await page.fill('[data-test=person-q]', target.name);
  const listed = waitApi(page, '/api/v1/persons?');
  await page.click('[data-test=person-search]');
  const r = await listed;
  assert.equal(r.status(), 200);
  assert.equal((await r.json()).total, 0, 'the village user finds nobody');
  await page.locator('[data-test=person-table] .el-table__empty-text').waitFor();
  assert.equal(await page.locator('[data-test=person-table] .el-table__row').count(), 0);
  // and the detail page of that person is not reachable either
  await page.goto(url('/persons/' + target.id));
  await page.getByText('档案不存在', { exact: true }).waitFor();
});

test('login lockout: repeated wrong passwords lock the account with the Chinese message', { skip }, async () => {
  const { page } = await browser();
  let last = '';
  for (let i = 0; i < 5; i++) {
    const answered = waitApi(page, '/api/v1/auth/login', 'POST');
    await login(page, 'xincang', 'Wrong#Pass' + i);
    assert.equal((await answered).status(), 401);
    await page.locator('[data-test=login-error]').waitFor();
    last = await page.locator('[data-test=login-error]').innerText();
  }
  assert.match(last, /锁定/, 'the fifth failure locks: ' + last);
});

test('sysadmin: forced password change, users page, create a user (initial password shown once)', { skip }, async () => {
  const { page } = await browser();
  await login(page, 'sysadmin');
  await page.waitForURL(/\/password/);
  assert.match(await page.locator('[data-test=pw-reason]').innerText(), /首次登录/);
  const newPw = 'Sys#Admin2026e2e';
  server.accounts.sysadmin.newPassword = newPw;
  await page.fill('input[name=old_password]', server.accounts.sysadmin.password);
  await page.fill('input[name=new_password]', newPw);
  await page.fill('input[name=confirm_password]', newPw);
  await page.click('[data-test=pw-submit]');
  await page.waitForURL((u) => !u.pathname.startsWith('/password'));
  await page.goto(url('/admin/users'));
  await page.locator('[data-test=user-table] .el-table__row').first().waitFor();
  await page.click('[data-test=user-new]');
  await page.fill('[data-test=user-username]', 'e2e_staff');
  await page.fill('[data-test=user-name]', '测试人员');
  await page.click('[data-test=user-save]');
  await page.locator('[data-test=initial-password]').waitFor();
  assert.ok((await page.locator('[data-test=initial-password]').innerText()).length >= 8);
  await page.locator('[data-test=password-once] button', { hasText: '我已记下' }).click();
  await page.locator('[data-test=user-table] .el-table__row', { hasText: 'e2e_staff' }).waitFor();
  // the account locked above is shown as such and can be unlocked
  const locked = page.locator('[data-test=user-table] .el-table__row', { hasText: 'xincang' }).first();
  assert.match(await locked.innerText(), /已锁定/);
  await page.locator('[data-test=user-table] .el-table__row:has-text("xincang") button:has-text("解锁")').last().click();
  const unlocked = waitApi(page, '/unlock', 'POST');
  await confirmBox(page, '确定');
  assert.equal((await unlocked).status(), 200);
  await page.waitForFunction(() => ![...document.querySelectorAll('[data-test=user-table] .el-table__row')].some((r) => r.textContent.includes('xincang') && r.textContent.includes('已锁定')));
  await shot(page, 'users.png');
});

test('sysadmin: enters next year\'s holidays by pasting rows; the calendar keeps them', { skip }, async () => {
  const { page } = await browser();
  await login(page, 'sysadmin', server.accounts.sysadmin.newPassword);
  await page.waitForURL((u) => !u.pathname.startsWith('/login'));
  await page.goto(url('/admin/calendar'));
  await page.locator('[data-test=calendar-table] .el-table__row').first().waitFor();
  await page.click('[data-test=calendar-add-year]');
  await page.locator('.el-message-box input').fill('2029');
  await confirmBox(page, '确定');
  await page.locator('.el-alert', { hasText: '2029年为新增年度' }).waitFor();
  await page.locator('button', { hasText: '粘贴多行' }).click();
  await page.fill('textarea[data-test=calendar-paste]', '2029-01-01,休,元旦\n2029/2/17 班 春节调休上班');
  await page.locator('.el-dialog button', { hasText: '加入表格' }).click();
  await page.locator('[data-test=calendar-table] .el-table__row').nth(1).waitFor();
  await page.click('[data-test=calendar-save]');
  const saved = waitApi(page, '/api/v1/calendar', 'POST');
  await confirmBox(page, '确定');
  assert.equal((await saved).status(), 200);
  await page.locator('[data-test=calendar-table] .el-table__row', { hasText: '管理员录入' }).nth(1).waitFor();
  const api = await apiAs('center');
  const y = await api.get('/api/v1/calendar?year=2029');
  assert.deepEqual(y.json.items.map((d) => [d.date, d.kind]), [['2029-01-01', '休'], ['2029-02-17', '班']]);
  await shot(page, 'calendar.png');
});

test('auditor: changes the initial password, finds the actions in the audit trail, chain verified', { skip }, async () => {
  const { page } = await browser();
  await login(page, 'auditor');
  await page.waitForURL(/\/password/);
  const newPw = 'Aud#Check2026e2e';
  await page.fill('input[name=old_password]', server.accounts.auditor.password);
  await page.fill('input[name=new_password]', newPw);
  await page.fill('input[name=confirm_password]', newPw);
  await page.click('[data-test=pw-submit]');
  await page.waitForURL(/\/audit/);
  await page.locator('[data-test=audit-verify]', { hasText: '审计链校验通过' }).waitFor();
  const menu = await page.locator('[data-test=side-menu]').innerText();
  assert.doesNotMatch(menu, /人员档案|诉求办理/, 'the auditor sees no business pages');
  // the town user's actions, found with the filters of the page
  await page.fill('[data-test=audit-user]', 'danghu');
  const search = async (event) => {
    const sel = page.locator('[data-test=audit-event]');
    await sel.click();
    await page.keyboard.type(event);
    await page.keyboard.press('Enter');
    await page.keyboard.press('Escape');
    const listed = waitApi(page, '/api/v1/audit?');
    await page.click('[data-test=audit-search]');
    const res = await listed;
    assert.equal(res.status(), 200);
    const body = await res.json();
    if (body.total > 0) await page.locator('[data-test=audit-table] .el-table__row').first().waitFor();
    return body;
  };
  for (const [ev, what] of [['login.ok', '登录'], ['station.update', '五有清单'], ['person', '人员档案'], ['request', '诉求']]) {
    const body = await search(ev);
    assert.ok(body.total > 0, `the audit trail has ${what} events of danghu (${ev})`);
    assert.ok(body.items.every((x) => x.username === 'danghu' && x.event.startsWith(ev)), `filtered by user and event ${ev}`);
  }
  assert.match(await page.locator('[data-test=audit-table]').innerText(), /danghu/);
  await shot(page, 'audit.png');
});

test('no uncaught errors in the pages', { skip }, async () => {
  const errs = contexts.flatMap((c) => c.pages().flatMap((p) => p.errors || []));
  assert.deepEqual(errs, []);
});
