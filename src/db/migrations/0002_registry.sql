-- Registry (人员档案): persons with their service record, categories (several
-- at once, with history), household members, field-level change history,
-- name search grams, and import jobs.

CREATE TABLE persons (
  id               INTEGER PRIMARY KEY,
  version          INTEGER NOT NULL DEFAULT 1,
  name             TEXT NOT NULL,
  -- The ID number is never stored in clear: sealed with SM4 (id_enc), found
  -- by blind indexes (HMAC-SM3) of the whole number and of its last 4/5/6
  -- characters, and shown masked (first 6 + last 4) from id_masked.
  id_enc           TEXT NOT NULL,
  id_hash          TEXT NOT NULL UNIQUE,
  id_masked        TEXT NOT NULL,
  id_tail4         TEXT NOT NULL,
  id_tail5         TEXT NOT NULL,
  id_tail6         TEXT NOT NULL,
  sex              TEXT NOT NULL,
  birth_date       TEXT NOT NULL,
  ethnic           TEXT,
  phone            TEXT,
  hukou_address    TEXT,
  hukou_type       TEXT,
  current_address  TEXT,
  region_code      TEXT NOT NULL REFERENCES regions(code),
  status           TEXT NOT NULL DEFAULT '1',
  status_date      TEXT,
  status_note      TEXT,
  bank_name        TEXT,
  bank_enc         TEXT,                       -- sealed like id_enc
  remarks          TEXT,
  -- service record
  branch           TEXT,
  enlist_date      TEXT,
  discharge_date   TEXT,
  rank_text        TEXT,
  rank_code        TEXT,
  discharge_type   TEXT,
  award_peace_commendation INTEGER NOT NULL DEFAULT 0,
  award_peace_third        INTEGER NOT NULL DEFAULT 0,
  award_peace_second       INTEGER NOT NULL DEFAULT 0,
  award_peace_first        INTEGER NOT NULL DEFAULT 0,
  award_war_commendation   INTEGER NOT NULL DEFAULT 0,
  award_war_third          INTEGER NOT NULL DEFAULT 0,
  award_war_second         INTEGER NOT NULL DEFAULT 0,
  award_war_first          INTEGER NOT NULL DEFAULT 0,
  hardship_class   TEXT,
  hardship_months  INTEGER NOT NULL DEFAULT 0,
  island_class     TEXT,
  island_months    INTEGER NOT NULL DEFAULT 0,
  combat_days      INTEGER NOT NULL DEFAULT 0,
  -- derived, kept on write for fast filters and statistics
  name_initials    TEXT NOT NULL DEFAULT '',
  name_pinyin      TEXT NOT NULL DEFAULT '',
  missing_count    INTEGER NOT NULL DEFAULT 0,
  missing_fields   TEXT NOT NULL DEFAULT '',
  created_at       TEXT NOT NULL,
  updated_at       TEXT NOT NULL,
  created_by       TEXT,
  updated_by       TEXT
);
CREATE INDEX persons_region ON persons(region_code, id);
CREATE INDEX persons_tail4 ON persons(id_tail4);
CREATE INDEX persons_tail5 ON persons(id_tail5);
CREATE INDEX persons_tail6 ON persons(id_tail6);
CREATE INDEX persons_initials ON persons(name_initials);
CREATE INDEX persons_pinyin ON persons(name_pinyin);
CREATE INDEX persons_name ON persons(name);

-- Name search: every character and every pair of adjacent characters of the
-- name, so a one- or two-character query (most Chinese names have two or
-- three) is an index lookup on any database.
CREATE TABLE person_grams (
  gram      TEXT NOT NULL,
  person_id INTEGER NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
  PRIMARY KEY (gram, person_id)
);
CREATE INDEX person_grams_person ON person_grams(person_id);

CREATE TABLE person_categories (
  id                 INTEGER PRIMARY KEY,
  person_id          INTEGER NOT NULL REFERENCES persons(id),
  category           TEXT NOT NULL,
  valid_from         TEXT,
  valid_to           TEXT,                 -- set when the category ends: history is kept
  disability_cause   TEXT,
  disability_grade   INTEGER,
  certificate_no     TEXT,
  deceased_person_id INTEGER REFERENCES persons(id),
  deceased_name      TEXT,
  relation           TEXT,
  note               TEXT,
  version            INTEGER NOT NULL DEFAULT 1,
  created_at         TEXT NOT NULL,
  updated_at         TEXT NOT NULL
);
CREATE INDEX person_categories_person ON person_categories(person_id);
CREATE INDEX person_categories_cat ON person_categories(category, valid_to);

CREATE TABLE household_members (
  id               INTEGER PRIMARY KEY,
  person_id        INTEGER NOT NULL REFERENCES persons(id),
  relation         TEXT NOT NULL,
  member_person_id INTEGER REFERENCES persons(id),
  name             TEXT NOT NULL,
  id_enc           TEXT,                 -- sealed, bound to the member row's person and blind index
  id_hash          TEXT,
  id_masked        TEXT,
  sex              TEXT,
  birth_date       TEXT,
  phone            TEXT,
  note             TEXT,
  created_at       TEXT NOT NULL,
  updated_at       TEXT NOT NULL
);
CREATE INDEX household_person ON household_members(person_id);
CREATE INDEX household_member ON household_members(member_person_id);

CREATE TABLE person_history (
  id         INTEGER PRIMARY KEY,
  person_id  INTEGER NOT NULL,
  ts         TEXT NOT NULL,
  user_id    INTEGER,
  username   TEXT,
  request_id TEXT,
  field      TEXT NOT NULL,
  label      TEXT NOT NULL,
  before     TEXT,
  after      TEXT
);
CREATE INDEX person_history_person ON person_history(person_id, id);

CREATE TABLE import_jobs (
  id         TEXT PRIMARY KEY,
  user_id    INTEGER NOT NULL,
  filename   TEXT NOT NULL,
  path       TEXT NOT NULL,
  created_at TEXT NOT NULL,
  rows       INTEGER NOT NULL DEFAULT 0,
  n_new      INTEGER NOT NULL DEFAULT 0,
  n_update   INTEGER NOT NULL DEFAULT 0,
  n_error    INTEGER NOT NULL DEFAULT 0,
  committed  INTEGER NOT NULL DEFAULT 0
);
