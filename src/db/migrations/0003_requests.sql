-- Requests and proxy services (诉求受理与代办): the request with its deadline
-- state, its timeline (never deleted), pauses, extensions, 协办 stations,
-- proxy steps and materials, attachments; in-app notices; and the rule data
-- deadlines are computed from: the working-day calendar and the SLA table,
-- both effective-dated data loaded from data/ and editable with audit.
-- Portable SQL (SQLite and PostgreSQL). Dates of the Chinese calendar are
-- YYYY-MM-DD (Asia/Shanghai); instants are UTC ISO 8601 with Z.

-- The State Council holiday notices, one row per special day (休 or 班).
-- source 'file' rows come from data/calendar/YYYY.csv at every start; a year
-- an administrator entered through the API ('admin') is never overwritten.
CREATE TABLE calendar_days (
  day        TEXT PRIMARY KEY,
  kind       TEXT NOT NULL CHECK (kind IN ('休','班')),
  name       TEXT NOT NULL DEFAULT '',
  source     TEXT NOT NULL DEFAULT 'file' CHECK (source IN ('file','admin')),
  updated_at TEXT NOT NULL
);

-- Deadlines per category × urgency, effective-dated: a request takes the row
-- with the greatest effective_from on or before its acceptance day.
CREATE TABLE sla_rules (
  id                 INTEGER PRIMARY KEY,
  category           TEXT NOT NULL,          -- codes: request_category
  urgency            TEXT NOT NULL,          -- codes: urgency
  response_hours     INTEGER NOT NULL CHECK (response_hours > 0),
  conclude_workdays  INTEGER NOT NULL CHECK (conclude_workdays > 0),
  extensions         INTEGER NOT NULL CHECK (extensions >= 0),
  extension_workdays INTEGER NOT NULL CHECK (extension_workdays >= 0),
  effective_from     TEXT NOT NULL,
  note               TEXT,
  source             TEXT NOT NULL DEFAULT 'file' CHECK (source IN ('file','admin')),
  created_at         TEXT NOT NULL,
  UNIQUE (category, urgency, effective_from)
);

-- Templates of the proxy services (代办): steps with the level that performs
-- them, and the material checklist. Copied into each request when it is taken
-- in, so a later change of the template never rewrites a running case.
CREATE TABLE proxy_steps (
  type               TEXT NOT NULL,          -- codes: proxy_type
  seq                INTEGER NOT NULL,
  name               TEXT NOT NULL,
  level              TEXT NOT NULL CHECK (level IN ('village','town','center')),
  requires_materials INTEGER NOT NULL DEFAULT 0,
  note               TEXT,
  PRIMARY KEY (type, seq)
);
CREATE TABLE proxy_materials (
  type          TEXT NOT NULL,
  seq           INTEGER NOT NULL,
  name          TEXT NOT NULL,
  required      INTEGER NOT NULL DEFAULT 1,
  is_authorization INTEGER NOT NULL DEFAULT 0,  -- the veteran's written authorisation
  note          TEXT,
  PRIMARY KEY (type, seq)
);

-- Code names an administrator changed (PUT /codes/request_category/{code}):
-- re-applied after data/codes is reloaded at start, so an edit survives.
CREATE TABLE code_overrides (
  tbl        TEXT NOT NULL,
  code       TEXT NOT NULL,
  name       TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  updated_by TEXT,
  PRIMARY KEY (tbl, code)
);

CREATE TABLE request_seq (
  year INTEGER PRIMARY KEY,
  last INTEGER NOT NULL
);

CREATE TABLE requests (
  id                     INTEGER PRIMARY KEY,
  no                     TEXT NOT NULL UNIQUE,      -- SQ2026-000123
  version                INTEGER NOT NULL DEFAULT 1,
  channel                TEXT NOT NULL,
  category               TEXT NOT NULL,
  urgency                TEXT NOT NULL,
  person_id              INTEGER REFERENCES persons(id),
  contact_name           TEXT NOT NULL,             -- the person's name at intake, or the new contact
  contact_phone          TEXT,
  region_code            TEXT NOT NULL REFERENCES regions(code),
  content                TEXT NOT NULL,
  status                 TEXT NOT NULL CHECK (status IN ('received','accepted','refused','waiting','replied','closed')),
  intake_station_id      INTEGER NOT NULL REFERENCES stations(id),
  station_id             INTEGER NOT NULL REFERENCES stations(id),   -- owner now
  assignee_id            INTEGER REFERENCES users(id),
  created_at             TEXT NOT NULL,
  created_by             INTEGER,
  response_hours         INTEGER NOT NULL,
  response_due           TEXT NOT NULL,
  responded_at           TEXT,
  accepted_at            TEXT,
  accepted_day           TEXT,                      -- deadline base (acceptance or reopening day)
  sla_workdays           INTEGER,
  sla_extensions         INTEGER,
  sla_extension_workdays INTEGER,
  extensions_used        INTEGER NOT NULL DEFAULT 0,
  extension_workdays     INTEGER NOT NULL DEFAULT 0,  -- approved, in total
  due_date               TEXT,
  paused                 INTEGER NOT NULL DEFAULT 0,
  pause_reason           TEXT,
  refuse_reason          TEXT,
  reply_content          TEXT,
  reply_channel          TEXT,
  reply_at               TEXT,
  reply_workdays         INTEGER,                   -- working days from acceptance to the reply, pauses excluded
  replied_on_time        INTEGER,
  first_reply_at         TEXT,                      -- "有回应": ever answered
  closed_at              TEXT,
  satisfaction           TEXT,
  visited_at             TEXT,
  reopen_count           INTEGER NOT NULL DEFAULT 0,
  overdue_since          TEXT,
  due_soon_noticed       TEXT,
  next_escalation_day    TEXT,
  proxy_type             TEXT,
  proxy_step             INTEGER,
  proxy_done_at          TEXT,
  authorized_at          TEXT,
  updated_at             TEXT NOT NULL,
  -- A request is never answered or closed without a reply on record.
  CHECK (status NOT IN ('replied','closed','refused') OR reply_at IS NOT NULL),
  CHECK (status <> 'accepted' OR accepted_day IS NOT NULL)
);
CREATE INDEX requests_station ON requests(station_id, status);
CREATE INDEX requests_region ON requests(region_code);
CREATE INDEX requests_assignee ON requests(assignee_id, status);
CREATE INDEX requests_due ON requests(status, due_date);
CREATE INDEX requests_created ON requests(created_at);
CREATE INDEX requests_person ON requests(person_id);

-- The timeline: append-only, one row per step.
CREATE TABLE request_events (
  id           INTEGER PRIMARY KEY,
  request_id   INTEGER NOT NULL REFERENCES requests(id),
  at           TEXT NOT NULL,
  user_id      INTEGER,                   -- NULL: the system (deadline job)
  username     TEXT,
  station_id   INTEGER,                   -- the actor's station
  action       TEXT NOT NULL,
  note         TEXT,
  from_station INTEGER,
  to_station   INTEGER,
  detail       TEXT                       -- JSON
);
CREATE INDEX request_events_request ON request_events(request_id, id);
CREATE TRIGGER request_events_no_update BEFORE UPDATE ON request_events BEGIN SELECT RAISE(ABORT, 'timeline rows are append-only'); END;
CREATE TRIGGER request_events_no_delete BEFORE DELETE ON request_events BEGIN SELECT RAISE(ABORT, 'timeline rows are append-only'); END;
CREATE TRIGGER requests_no_delete BEFORE DELETE ON requests BEGIN SELECT RAISE(ABORT, 'requests are never deleted'); END;

-- Days on which the clock stood still: [from_day, to_day), to_day NULL while open.
-- kind 'materials': waiting for the applicant; 'authority': a proxy case under
-- the higher authority's review, which the SLA does not count.
CREATE TABLE request_pauses (
  id          INTEGER PRIMARY KEY,
  request_id  INTEGER NOT NULL REFERENCES requests(id),
  kind        TEXT NOT NULL CHECK (kind IN ('materials','authority')),
  from_day    TEXT NOT NULL,
  to_day      TEXT,
  reason      TEXT NOT NULL,
  resume_note TEXT
);
CREATE INDEX request_pauses_request ON request_pauses(request_id);

CREATE TABLE request_extensions (
  id                INTEGER PRIMARY KEY,
  request_id        INTEGER NOT NULL REFERENCES requests(id),
  workdays          INTEGER NOT NULL CHECK (workdays > 0),
  reason            TEXT NOT NULL,
  status            TEXT NOT NULL CHECK (status IN ('pending','approved','rejected')),
  requested_at      TEXT NOT NULL,
  requested_by      INTEGER,
  requested_station INTEGER,
  decided_at        TEXT,
  decided_by        INTEGER,
  decision_note     TEXT
);
CREATE INDEX request_extensions_request ON request_extensions(request_id);

-- 协办: stations asked to help (they see the request and may add notes).
CREATE TABLE request_helpers (
  request_id   INTEGER NOT NULL REFERENCES requests(id),
  station_id   INTEGER NOT NULL REFERENCES stations(id),
  note         TEXT,
  requested_at TEXT NOT NULL,
  requested_by INTEGER,
  PRIMARY KEY (request_id, station_id)
);
CREATE INDEX request_helpers_station ON request_helpers(station_id);

CREATE TABLE request_proxy_steps (
  request_id         INTEGER NOT NULL REFERENCES requests(id),
  seq                INTEGER NOT NULL,
  name               TEXT NOT NULL,
  level              TEXT NOT NULL,
  requires_materials INTEGER NOT NULL DEFAULT 0,
  done_at            TEXT,
  done_by            TEXT,
  station_id         INTEGER,
  note               TEXT,
  PRIMARY KEY (request_id, seq)
);

CREATE TABLE request_materials (
  id            INTEGER PRIMARY KEY,
  request_id    INTEGER NOT NULL REFERENCES requests(id),
  seq           INTEGER NOT NULL,
  name          TEXT NOT NULL,
  required      INTEGER NOT NULL DEFAULT 0,
  is_authorization INTEGER NOT NULL DEFAULT 0,
  received_at   TEXT,
  returned_at   TEXT,
  note          TEXT,
  UNIQUE (request_id, name)
);

-- Attachments live in the database: backed up with it and served by any node.
CREATE TABLE request_attachments (
  id         INTEGER PRIMARY KEY,
  request_id INTEGER NOT NULL REFERENCES requests(id),
  event_id   INTEGER,
  filename   TEXT NOT NULL,
  ctype      TEXT NOT NULL,
  size       INTEGER NOT NULL,
  sha256     TEXT NOT NULL,
  data       BLOB NOT NULL,
  created_at TEXT NOT NULL,
  created_by TEXT
);
CREATE INDEX request_attachments_request ON request_attachments(request_id);

-- In-app notices to a user (user_id) or to every user of a station.
CREATE TABLE notices (
  id         INTEGER PRIMARY KEY,
  user_id    INTEGER,
  station_id INTEGER,
  request_id INTEGER REFERENCES requests(id),
  kind       TEXT NOT NULL,
  message    TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX notices_user ON notices(user_id, id);
CREATE INDEX notices_station ON notices(station_id, id);
CREATE TABLE notice_reads (
  notice_id INTEGER NOT NULL REFERENCES notices(id),
  user_id   INTEGER NOT NULL,
  read_at   TEXT NOT NULL,
  PRIMARY KEY (notice_id, user_id)
);

INSERT INTO settings(key, value, kind, label, owner) VALUES
 ('requests.job_interval_seconds', '300', 'int', '诉求期限自动检查间隔（秒，0 为停用）', 'sys'),
 ('requests.due_soon_workdays', '2', 'int', '临近到期提醒（剩余工作日）', 'sys'),
 ('requests.escalation_grace_workdays', '2', 'int', '超期自动上报后上级的处理宽限（工作日）', 'sys'),
 ('requests.attachment_max_mb', '20', 'int', '诉求附件大小上限（MB）', 'sys');
