// The left menu as a table: each entry names the permission it needs; entries the
// user may not use are not shown. The first visible entry is the user's home.
import { can } from './auth.js';

export const MENU = [
  { path: '/dashboard', title: '工作台', icon: 'HomeFilled', perm: 'stats.read' },
  {
    title: '人员档案', icon: 'UserFilled', children: [
      { path: '/persons', title: '人员查询', perm: 'person.read' },
      { path: '/persons/new', title: '新增人员', perm: 'person.write' },
      { path: '/persons/import', title: '批量导入', perm: 'person.import' },
    ],
  },
  {
    title: '诉求办理', icon: 'ChatLineSquare', children: [
      { path: '/requests', title: '诉求队列', perm: 'request.read' },
      { path: '/requests/new', title: '诉求登记', perm: 'request.write' },
    ],
  },
  { path: '/stations', title: '服务网络', icon: 'OfficeBuilding', perm: 'station.read' },
  {
    title: '系统管理', icon: 'Setting', children: [
      { path: '/admin/users', title: '用户管理', perm: 'user.read' },
      { path: '/admin/roles', title: '角色分配', perm: ['role.assign', 'user.read'] },
      { path: '/admin/settings', title: '系统设置', perm: 'settings.read' },
      { path: '/admin/calendar', title: '节假日安排', perm: 'config.write' },
    ],
  },
  { path: '/audit', title: '安全审计', icon: 'Document', perm: 'audit.read' },
];

export function visibleMenu() {
  const out = [];
  for (const m of MENU) {
    if (m.children) {
      const kids = m.children.filter((c) => can(c.perm));
      if (kids.length) out.push({ ...m, children: kids });
    } else if (can(m.perm)) out.push(m);
  }
  return out;
}

export function homePath() {
  for (const m of visibleMenu()) {
    if (m.path) return m.path;
    if (m.children?.length) return m.children[0].path;
  }
  return '/profile';
}
