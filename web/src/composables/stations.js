// Stations within the user's jurisdiction (GET /stations), cached, and the tree
// center → towns → villages built from parent_id.
import { ref } from 'vue';
import { api } from '../api.js';

const list = ref([]);
let loading = null;

export function loadStations(force = false) {
  if (!force && list.value.length) return Promise.resolve(list.value);
  if (!force && loading) return loading;
  loading = api.get('/stations').then((r) => { list.value = r.items || []; return list.value; })
    .finally(() => { loading = null; });
  return loading;
}

export function stationList() { return list; }

// Builds nested nodes; stations whose parent is outside the list become roots.
export function buildTree(items, mapNode = (s) => ({ ...s })) {
  const byId = new Map();
  for (const s of items) byId.set(s.id, { ...mapNode(s), children: [] });
  const roots = [];
  for (const s of items) {
    const node = byId.get(s.id);
    const parent = s.parent_id != null ? byId.get(s.parent_id) : null;
    if (parent) parent.children.push(node); else roots.push(node);
  }
  const levelOrder = { center: 0, town: 1, village: 2 };
  const sortRec = (arr) => {
    arr.sort((a, b) => (levelOrder[a.level] ?? 9) - (levelOrder[b.level] ?? 9) || String(a.region_code).localeCompare(String(b.region_code)));
    for (const n of arr) { if (n.children.length) sortRec(n.children); else delete n.children; }
  };
  sortRec(roots);
  return roots;
}

// Options for el-tree-select: value = station id.
export function stationTreeOptions(items) {
  return buildTree(items, (s) => ({ value: s.id, label: s.name, level: s.level, region_code: s.region_code }));
}

export const LEVEL_NAMES = { center: '服务中心', town: '镇街道服务站', village: '村社区服务站' };
