// Routes (history mode; the server falls back to index.html). Each route names the
// permission it needs; the guard loads /auth/me once and enforces login, the forced
// password change and the permission.
import { createRouter, createWebHistory } from 'vue-router';
import { auth, loadMe, can } from './auth.js';
import { homePath } from './menu.js';
import MainLayout from './layouts/MainLayout.vue';
import Login from './views/Login.vue';

const routes = [
  { path: '/login', name: 'login', component: Login, meta: { public: true, title: '登录' } },
  { path: '/password', name: 'password', component: () => import('./views/ChangePassword.vue'), meta: { title: '修改密码', bare: true } },
  {
    path: '/', component: MainLayout, children: [
      { path: '', name: 'home', redirect: () => homePath() },
      { path: 'dashboard', name: 'dashboard', component: () => import('./views/Dashboard.vue'), meta: { perm: 'stats.read', title: '工作台', crumbs: ['工作台'] } },
      { path: 'persons', name: 'persons', component: () => import('./views/persons/PersonList.vue'), meta: { perm: 'person.read', title: '人员查询', crumbs: ['人员档案', '人员查询'] } },
      { path: 'persons/new', name: 'person-new', component: () => import('./views/persons/PersonForm.vue'), meta: { perm: 'person.write', title: '新增人员', crumbs: ['人员档案', '新增人员'] } },
      { path: 'persons/import', name: 'person-import', component: () => import('./views/persons/PersonImport.vue'), meta: { perm: 'person.import', title: '批量导入', crumbs: ['人员档案', '批量导入'] } },
      { path: 'persons/:id(\\d+)', name: 'person', component: () => import('./views/persons/PersonDetail.vue'), meta: { perm: 'person.read', title: '人员详情', crumbs: ['人员档案', { title: '人员查询', to: '/persons' }, '人员详情'] } },
      { path: 'persons/:id(\\d+)/edit', name: 'person-edit', component: () => import('./views/persons/PersonForm.vue'), meta: { perm: 'person.write', title: '编辑人员', crumbs: ['人员档案', { title: '人员查询', to: '/persons' }, '编辑人员'] } },
      { path: 'requests', name: 'requests', component: () => import('./views/requests/RequestList.vue'), meta: { perm: 'request.read', title: '诉求队列', crumbs: ['诉求办理', '诉求队列'] } },
      { path: 'requests/new', name: 'request-new', component: () => import('./views/requests/RequestForm.vue'), meta: { perm: 'request.write', title: '诉求登记', crumbs: ['诉求办理', '诉求登记'] } },
      { path: 'requests/:id(\\d+)', name: 'request', component: () => import('./views/requests/RequestDetail.vue'), meta: { perm: 'request.read', title: '诉求详情', crumbs: ['诉求办理', { title: '诉求队列', to: '/requests' }, '诉求详情'] } },
      { path: 'stations', name: 'stations', component: () => import('./views/Stations.vue'), meta: { perm: 'station.read', title: '服务网络', crumbs: ['服务网络'] } },
      { path: 'admin/users', name: 'users', component: () => import('./views/admin/Users.vue'), meta: { perm: 'user.read', title: '用户管理', crumbs: ['系统管理', '用户管理'] } },
      { path: 'admin/roles', name: 'roles', component: () => import('./views/admin/Roles.vue'), meta: { perm: ['role.assign', 'user.read'], title: '角色分配', crumbs: ['系统管理', '角色分配'] } },
      { path: 'admin/calendar', name: 'calendar', component: () => import('./views/admin/Calendar.vue'), meta: { perm: 'code.read', title: '节假日安排', crumbs: ['系统管理', '节假日安排'] } },
      { path: 'admin/settings', name: 'settings', component: () => import('./views/admin/Settings.vue'), meta: { perm: 'settings.read', title: '系统设置', crumbs: ['系统管理', '系统设置'] } },
      { path: 'audit', name: 'audit', component: () => import('./views/Audit.vue'), meta: { perm: 'audit.read', title: '安全审计', crumbs: ['安全审计'] } },
      { path: 'profile', name: 'profile', component: () => import('./views/Profile.vue'), meta: { title: '个人信息', crumbs: ['个人信息'] } },
      { path: 'forbidden', name: 'forbidden', component: () => import('./views/NotFound.vue'), props: { forbidden: true }, meta: { title: '无权访问', crumbs: ['无权访问'] } },
      { path: ':pathMatch(.*)*', name: 'notfound', component: () => import('./views/NotFound.vue'), meta: { title: '页面不存在', crumbs: ['页面不存在'] } },
    ],
  },
];

const router = createRouter({ history: createWebHistory('/'), routes });

router.beforeEach(async (to) => {
  if (!auth.loaded) { try { await loadMe(); } catch { /* server down: the login page says so */ } }
  if (to.meta.public) {
    if (to.name === 'login' && auth.user && !auth.user.must_change_password) return to.query.redirect || homePath();
    return true;
  }
  if (!auth.user) return { name: 'login', query: to.fullPath !== '/' ? { redirect: to.fullPath } : {} };
  if (auth.user.must_change_password && to.name !== 'password') return { name: 'password', query: { redirect: to.fullPath } };
  if (to.meta.perm && !can(to.meta.perm)) return { name: 'forbidden' };
  return true;
});

router.afterEach((to) => {
  document.title = (to.meta.title ? to.meta.title + ' - ' : '') + '退役军人事务信息系统';
});

export default router;
