-- Running tallies for dashboards and list totals. Counting 1 000 000 persons
-- by region, status and category takes seconds on every request; these small
-- tables hold the counts, kept exact by triggers on persons and
-- person_categories (written per database: migrations_sqlite/ and
-- migrations_pg/ 0005), so the figures never disagree with the rows and no
-- path that writes persons (forms, import, demo, migrate-db) can forget them.
-- A row whose count reaches zero is deleted: the content of these tables
-- depends only on the rows they count.

-- Persons by region (village), status and completeness (missing_count = 0).
CREATE TABLE person_tally (
  region_code TEXT NOT NULL,
  status      TEXT NOT NULL,
  complete    INTEGER NOT NULL,
  n           INTEGER NOT NULL,
  PRIMARY KEY (region_code, status, complete)
) WITHOUT ROWID;

-- Active categories (valid_to IS NULL) by the person's region.
CREATE TABLE category_tally (
  region_code TEXT NOT NULL,
  category    TEXT NOT NULL,
  n           INTEGER NOT NULL,
  PRIMARY KEY (region_code, category)
) WITHOUT ROWID;

INSERT INTO person_tally(region_code, status, complete, n)
  SELECT region_code, status, CASE WHEN missing_count = 0 THEN 1 ELSE 0 END, COUNT(*)
  FROM persons GROUP BY region_code, status, CASE WHEN missing_count = 0 THEN 1 ELSE 0 END;

INSERT INTO category_tally(region_code, category, n)
  SELECT p.region_code, c.category, COUNT(*) FROM person_categories c JOIN persons p ON p.id = c.person_id
  WHERE c.valid_to IS NULL GROUP BY p.region_code, c.category;
