-- Foundation: regions, code tables, service network, accounts, sessions,
-- settings and the append-only, hash-chained audit trail.
-- Portable SQL (SQLite and PostgreSQL) except where marked.

CREATE TABLE regions (
  code        TEXT PRIMARY KEY,          -- 12-digit 统计用区划代码
  name        TEXT NOT NULL,
  level       TEXT NOT NULL CHECK (level IN ('province','prefecture','county','town','village')),
  parent_code TEXT,
  valid_to    TEXT,                      -- set for historical names (merged towns)
  note        TEXT
);
CREATE INDEX regions_parent ON regions(parent_code);

CREATE TABLE codes (
  tbl   TEXT NOT NULL,
  code  TEXT NOT NULL,
  name  TEXT NOT NULL,
  extra TEXT,                            -- JSON object of the table's other columns
  sort  INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (tbl, code)
);

CREATE TABLE stations (
  id          INTEGER PRIMARY KEY,
  name        TEXT NOT NULL,
  level       TEXT NOT NULL CHECK (level IN ('center','town','village')),
  region_code TEXT NOT NULL UNIQUE REFERENCES regions(code),
  parent_id   INTEGER REFERENCES stations(id),
  address     TEXT,
  phone       TEXT,
  head        TEXT,                      -- 负责人
  staff_count INTEGER,
  version     INTEGER NOT NULL DEFAULT 1,
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL
);
CREATE INDEX stations_parent ON stations(parent_id);

-- The "五有" checklist: one row per station and item.
CREATE TABLE station_checks (
  station_id INTEGER NOT NULL REFERENCES stations(id),
  item       TEXT NOT NULL CHECK (item IN ('org','staffing','personnel','funding','support')),
  ok         INTEGER NOT NULL DEFAULT 0,
  note       TEXT,
  updated_at TEXT,
  updated_by TEXT,
  PRIMARY KEY (station_id, item)
);

CREATE TABLE roles (
  code       TEXT PRIMARY KEY,
  name       TEXT NOT NULL,
  admin_kind TEXT,                        -- 'sys','sec','audit': the three kept apart
  sort       INTEGER NOT NULL
);
CREATE TABLE role_perms (
  role_code TEXT NOT NULL REFERENCES roles(code),
  perm      TEXT NOT NULL,
  PRIMARY KEY (role_code, perm)
);

CREATE TABLE users (
  id                   INTEGER PRIMARY KEY,
  username             TEXT NOT NULL UNIQUE,
  name                 TEXT NOT NULL,
  station_id           INTEGER NOT NULL REFERENCES stations(id),
  phone                TEXT,
  password_hash        TEXT NOT NULL,
  password_changed_at  TEXT NOT NULL,
  must_change_password INTEGER NOT NULL DEFAULT 1,
  active               INTEGER NOT NULL DEFAULT 1,
  totp_secret          TEXT,
  totp_last_step       INTEGER,
  version              INTEGER NOT NULL DEFAULT 1,
  created_at           TEXT NOT NULL,
  updated_at           TEXT NOT NULL
);
CREATE TABLE user_roles (
  user_id   INTEGER NOT NULL REFERENCES users(id),
  role_code TEXT NOT NULL REFERENCES roles(code),
  PRIMARY KEY (user_id, role_code)
);

-- Failure counters are keyed by the name typed, known or not, so that an
-- unknown user name is answered exactly like a known one, lockout included.
CREATE TABLE login_failures (
  username     TEXT PRIMARY KEY,
  failures     INTEGER NOT NULL,
  locked_until INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE sessions (
  token_hash TEXT PRIMARY KEY,            -- SHA-256 of the cookie value: a stolen table is useless
  user_id    INTEGER NOT NULL REFERENCES users(id),
  csrf       TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_seen  INTEGER NOT NULL,
  ip         TEXT
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE settings (
  key        TEXT PRIMARY KEY,
  value      TEXT NOT NULL,
  kind       TEXT NOT NULL,               -- int, text, bool
  label      TEXT NOT NULL,
  owner      TEXT NOT NULL,               -- 'sec' (security policy) or 'sys' (operations)
  updated_at TEXT,
  updated_by TEXT
);

CREATE TABLE audit (
  id          INTEGER PRIMARY KEY,
  ts          TEXT NOT NULL,
  user_id     INTEGER,
  username    TEXT,
  role        TEXT,
  station_id  INTEGER,
  ip          TEXT,
  request_id  TEXT,
  event       TEXT NOT NULL,
  object_type TEXT,
  object_id   TEXT,
  result      TEXT NOT NULL,
  detail      TEXT,
  prev_hash   TEXT NOT NULL,
  hash        TEXT NOT NULL
);
CREATE INDEX audit_ts ON audit(ts);
CREATE INDEX audit_user ON audit(username, ts);
CREATE INDEX audit_event ON audit(event, ts);
CREATE INDEX audit_object ON audit(object_type, object_id);
-- SQLite: the database itself refuses to rewrite history.
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit rows are append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit rows are append-only'); END;

INSERT INTO roles(code, name, admin_kind, sort) VALUES
 ('sysadmin', '系统管理员', 'sys', 1),
 ('secadmin', '安全管理员', 'sec', 2),
 ('auditor',  '审计管理员', 'audit', 3),
 ('center',   '中心工作人员', NULL, 4),
 ('town',     '镇街道工作人员', NULL, 5),
 ('village',  '村社区工作人员', NULL, 6),
 ('leader',   '领导', NULL, 7);

INSERT INTO role_perms(role_code, perm) VALUES
 ('sysadmin','user.read'), ('sysadmin','user.write'), ('sysadmin','settings.read'),
 ('sysadmin','station.read'), ('sysadmin','station.write'), ('sysadmin','code.read'),
 ('sysadmin','config.write'), ('sysadmin','system.backup'),
 ('secadmin','user.read'), ('secadmin','role.assign'), ('secadmin','settings.read'),
 ('secadmin','settings.write'), ('secadmin','code.read'),
 ('auditor','audit.read'), ('auditor','code.read'),
 ('center','person.read'), ('center','person.write'), ('center','person.reveal'),
 ('center','person.export'), ('center','person.export_full'), ('center','person.import'),
 ('center','request.read'), ('center','request.write'), ('center','request.manage'),
 ('center','station.read'), ('center','station.write'), ('center','stats.read'), ('center','code.read'),
 ('town','person.read'), ('town','person.write'), ('town','person.reveal'), ('town','person.export'),
 ('town','person.import'), ('town','request.read'), ('town','request.write'), ('town','request.manage'),
 ('town','station.read'), ('town','station.write'), ('town','stats.read'), ('town','code.read'),
 ('village','person.read'), ('village','person.write'), ('village','request.read'),
 ('village','request.write'), ('village','station.read'), ('village','stats.read'), ('village','code.read'),
 ('leader','person.read'), ('leader','request.read'), ('leader','station.read'),
 ('leader','stats.read'), ('leader','code.read');

INSERT INTO settings(key, value, kind, label, owner) VALUES
 ('password.min_length', '8', 'int', '密码最小长度', 'sec'),
 ('password.require_classes', '4', 'int', '密码须包含的字符类别数（大写、小写、数字、符号）', 'sec'),
 ('password.max_age_days', '90', 'int', '密码有效期（天）', 'sec'),
 ('login.max_failures', '5', 'int', '连续登录失败锁定次数', 'sec'),
 ('login.lock_minutes', '30', 'int', '账户锁定时长（分钟）', 'sec'),
 ('session.idle_minutes', '30', 'int', '会话空闲超时（分钟）', 'sec'),
 ('session.absolute_hours', '12', 'int', '会话最长时长（小时）', 'sec'),
 ('totp.required_roles', '', 'text', '须启用动态口令（TOTP）的角色，逗号分隔', 'sec'),
 ('ratelimit.costly_per_minute', '30', 'int', '导出/导入/统计每人每分钟次数上限', 'sec'),
 ('ratelimit.login_per_minute', '20', 'int', '同一来源每分钟登录次数上限', 'sec'),
 ('audit.retention_days', '180', 'int', '审计日志最短保存期（天）', 'sec'),
 ('bureau.name', '平湖市退役军人事务局', 'text', '单位名称', 'sys');
