-- PostgreSQL only: runs after the translation of migrations/0001_foundation.sql,
-- in the same transaction and under the same version (see src/db/migrate.c).
-- Written in PostgreSQL's own dialect.

-- Rate-limit counters every node shares (on SQLite one process counts in
-- memory; see src/auth/ratelimit.c). One row per bucket, key and minute;
-- rows of past minutes are deleted as new minutes begin.
CREATE TABLE rate_limits (
  bucket TEXT COLLATE "C" NOT NULL,
  key    TEXT COLLATE "C" NOT NULL,
  win    BIGINT NOT NULL,             -- unix time / 60
  hits   BIGINT NOT NULL,
  PRIMARY KEY (bucket, key, win)
);
CREATE INDEX rate_limits_win ON rate_limits(win);
