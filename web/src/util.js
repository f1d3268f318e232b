// Small formatting helpers. Times are stored in UTC and shown in Asia/Shanghai.

const TZ = 'Asia/Shanghai';
const dtf = new Intl.DateTimeFormat('zh-CN', {
  timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false,
});
const dtfSec = new Intl.DateTimeFormat('zh-CN', {
  timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false,
});

function parts(f, d) {
  const o = {};
  for (const p of f.formatToParts(d)) o[p.type] = p.value;
  return o;
}

export function fmtTime(iso, withSeconds = false) {
  if (!iso) return '';
  const d = new Date(iso);
  if (isNaN(d)) return String(iso);
  const p = parts(withSeconds ? dtfSec : dtf, d);
  const hh = p.hour === '24' ? '00' : p.hour;
  return `${p.year}-${p.month}-${p.day} ${hh}:${p.minute}${withSeconds ? ':' + p.second : ''}`;
}

export function fmtDate(s) {
  if (!s) return '';
  if (/^\d{4}-\d{2}-\d{2}$/.test(s)) return s;
  return fmtTime(s).slice(0, 10);
}

// A calendar day in Shanghai → UTC ISO instant of its midnight (for audit filters).
export function shanghaiDayStartUtc(day) {
  const d = new Date(`${day}T00:00:00+08:00`);
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
export function shanghaiDayEndUtc(day) {
  const d = new Date(`${day}T00:00:00+08:00`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function todayShanghai() {
  const p = parts(dtf, new Date());
  return `${p.year}-${p.month}-${p.day}`;
}

// GB 11643 check (the server is the authority; this only gives instant feedback offline).
const W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
export function idLocalCheck(raw) {
  const s = String(raw || '').trim().toUpperCase().replace(/[０-９]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0)).replace(/ｘ/gi, 'X');
  if (!/^\d{17}[\dX]$/.test(s)) return { valid: false, message: '身份证号码应为 18 位（最后一位可以是 X）' };
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += W[i] * +s[i];
  if ('10X98765432'[sum % 11] !== s[17]) return { valid: false, message: '身份证号码校验位错误' };
  const y = +s.slice(6, 10), m = +s.slice(10, 12), d = +s.slice(12, 14);
  const dt = new Date(Date.UTC(y, m - 1, d));
  if (dt.getUTCFullYear() !== y || dt.getUTCMonth() !== m - 1 || dt.getUTCDate() !== d) return { valid: false, message: '身份证号码中的出生日期不存在' };
  return { valid: true, normalized: s, sex: +s[16] % 2 ? '1' : '2', birth_date: `${s.slice(6, 10)}-${s.slice(10, 12)}-${s.slice(12, 14)}` };
}

export function debounce(fn, ms) {
  let t = null;
  const f = (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
  f.cancel = () => clearTimeout(t);
  return f;
}

// Shallow diff of flat fields plus one level for nested objects (for PATCH bodies).
export function diff(orig, cur, keys) {
  const out = {};
  for (const k of keys) {
    const a = orig?.[k], b = cur?.[k];
    if (b && typeof b === 'object' && !Array.isArray(b)) {
      const sub = {};
      for (const kk of Object.keys(b)) if (JSON.stringify(a?.[kk] ?? null) !== JSON.stringify(b[kk] ?? null)) sub[kk] = b[kk];
      if (Object.keys(sub).length) out[k] = sub;
    } else if (JSON.stringify(a ?? null) !== JSON.stringify(b ?? null)) out[k] = b === '' ? null : b;
  }
  return out;
}

export const AUDIT_EVENTS = [
  ['login.ok', '登录成功'], ['login.failed', '登录失败'], ['login.lockout', '账户锁定'], ['login.locked', '锁定期间尝试登录'],
  ['logout', '退出登录'], ['session.timeout', '会话超时'], ['password.change', '修改密码'],
  ['user.create', '新建用户'], ['user.update', '修改用户'], ['user.reset_password', '重置密码'], ['user.unlock', '解锁账户'], ['user.roles', '分配角色'],
  ['settings.update', '修改设置'], ['station.create', '新建服务站'], ['station.update', '修改服务站'],
  ['person.create', '新建人员档案'], ['person.update', '修改人员档案'], ['person.view', '查看人员档案'], ['person.reveal', '查看完整号码'],
  ['person.import', '导入人员档案'], ['person.export', '导出人员档案'],
  ['request.create', '登记诉求'], ['request.action', '办理诉求'], ['request', '诉求'],
  ['access.denied', '拒绝访问'], ['audit.verify', '校验审计链'], ['init', '初始化'], ['cli', '命令行操作'],
];
const EVENT_GROUPS = { login: '登录', user: '用户', person: '人员档案', request: '诉求', station: '服务站', settings: '设置', audit: '审计', password: '密码', session: '会话', access: '访问控制' };
export function auditEventName(ev) {
  if (!ev) return '';
  const hit = AUDIT_EVENTS.find(([k]) => k === ev);
  if (hit) return hit[1];
  const g = EVENT_GROUPS[ev.split('.')[0]];
  return g ? `${g}（${ev.split('.').slice(1).join('.')}）` : ev;
}
export const AUDIT_RESULTS = { ok: '成功', failed: '失败', denied: '拒绝', locked: '锁定', broken: '异常' };
