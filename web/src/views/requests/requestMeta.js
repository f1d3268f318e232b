// Request statuses, queues and actions as tables. The action table drives the
// action dialogs (fields, confirmation text) and which buttons a status offers;
// the server still decides and refuses with a Chinese message.

export const STATUS = {
  received: { label: '待受理', type: 'warning' },
  accepted: { label: '办理中', type: 'primary' },
  refused: { label: '不予受理', type: 'info' },
  waiting: { label: '等待材料', type: 'warning' },
  replied: { label: '已答复', type: 'success' },
  closed: { label: '已办结', type: 'success' },
};

export const QUEUES = [
  { name: 'mine', label: '我的' },
  { name: 'station', label: '本站' },
  { name: 'open', label: '全部在办' },
  { name: 'due_soon', label: '即将到期' },
  { name: 'overdue', label: '已超期' },
  { name: 'waiting', label: '等待材料' },
  { name: 'closed', label: '已办结' },
  { name: 'help', label: '协办' },
  { name: 'all', label: '全部' },
];

// field types: text, textarea, station, assignee, code:<table>, date, workdays
export const ACTIONS = {
  accept: { label: '受理', type: 'primary', statuses: ['received'], confirm: '确认受理该诉求？受理后开始计算办理时限。', fields: [{ key: 'note', label: '备注', type: 'textarea' }] },
  refuse: { label: '不予受理', type: 'danger', statuses: ['received'], confirm: '确认不予受理？', fields: [{ key: 'reason', label: '不予受理理由', type: 'textarea', required: true }] },
  assign: { label: '指派', statuses: ['received', 'accepted', 'waiting'], fields: [{ key: 'station_id', label: '承办服务站', type: 'station' }, { key: 'assignee_id', label: '承办人', type: 'assignee' }] },
  transfer: { label: '转办', statuses: ['received', 'accepted'], confirm: '确认转办到所选服务站？', fields: [{ key: 'station_id', label: '转至服务站', type: 'station', required: true }, { key: 'reason', label: '转办理由', type: 'textarea', required: true }] },
  escalate: { label: '上报', statuses: ['received', 'accepted', 'waiting'], confirm: '确认上报上级服务站办理？', fields: [{ key: 'reason', label: '上报理由', type: 'textarea', required: true }] },
  help: { label: '请求协办', statuses: ['accepted'], fields: [{ key: 'station_id', label: '协办服务站', type: 'station', required: true }, { key: 'note', label: '协办事项', type: 'textarea', required: true }] },
  pause: { label: '等待材料', statuses: ['accepted'], confirm: '确认暂停计时，等待申请人补充材料？', fields: [{ key: 'reason', label: '需补充的材料', type: 'textarea', required: true }] },
  resume: { label: '材料已到', type: 'primary', statuses: ['waiting'], confirm: '确认材料已收到，恢复计时？', fields: [{ key: 'note', label: '说明', type: 'textarea' }] },
  extend: { label: '申请延期', statuses: ['accepted', 'waiting'], confirm: '延期须经上级批准，确认提交申请？', fields: [{ key: 'workdays', label: '延长工作日', type: 'workdays', required: true }, { key: 'reason', label: '延期理由', type: 'textarea', required: true }] },
  approve_extension: { label: '批准延期', type: 'success', statuses: ['accepted', 'waiting'], perm: 'request.manage', needsPendingExtension: true, confirm: '确认批准该诉求的延期申请？', fields: [] },
  reject_extension: { label: '驳回延期', type: 'danger', statuses: ['accepted', 'waiting'], perm: 'request.manage', needsPendingExtension: true, fields: [{ key: 'reason', label: '驳回理由', type: 'textarea', required: true }] },
  reply: { label: '答复', type: 'success', statuses: ['accepted'], fields: [{ key: 'content', label: '答复内容', type: 'textarea', required: true, rows: 5 }, { key: 'channel', label: '答复方式', type: 'code:request_channel', required: true }] },
  close: { label: '办结', type: 'success', statuses: ['replied'], confirm: '确认办结该诉求？', fields: [{ key: 'note', label: '办结说明', type: 'textarea' }] },
  visit: { label: '回访', statuses: ['closed'], needsNoSatisfaction: true, fields: [{ key: 'satisfaction', label: '满意度', type: 'code:satisfaction', required: true }, { key: 'note', label: '回访记录', type: 'textarea' }] },
  proxy_step: { label: '代办进入下一步', statuses: ['accepted', 'waiting'], needsProxy: true, confirm: '确认当前代办环节已完成、进入下一环节？', fields: [{ key: 'note', label: '环节说明', type: 'textarea' }] },
  note: { label: '添加备注', statuses: ['received', 'accepted', 'waiting', 'replied', 'closed', 'refused'], fields: [{ key: 'note', label: '备注内容', type: 'textarea', required: true }] },
};

export function statusLabel(r) { return r.status_name || STATUS[r.status]?.label || r.status; }
export function statusType(r) { return STATUS[r.status]?.type || 'info'; }

// Countdown tag for working days left.
export function countdown(r) {
  if (r.status === 'refused') return { text: '不予受理', type: 'info' };
  if (r.status === 'closed' || r.status === 'replied') {
    if (r.replied_on_time === false) return { text: '超期答复', type: 'danger' };
    return { text: r.status === 'closed' ? '已办结' : '已答复', type: 'success' };
  }
  if (r.paused || r.status === 'waiting') return { text: '已暂停', type: 'info' };
  const d = r.workdays_left;
  if (d === undefined || d === null) return { text: r.due_date || '—', type: 'info' };
  if (r.overdue || d < 0) return { text: `超期 ${Math.abs(d)} 个工作日`, type: 'danger' };
  if (d === 0) return { text: '今日到期', type: 'danger' };
  if (r.due_soon) return { text: `剩 ${d} 个工作日`, type: 'warning' };
  return { text: `剩 ${d} 个工作日`, type: 'success' };
}
