-- SQLite only: runs after migrations/0005_tallies.sql, in the same
-- transaction and under the same version (see src/db/migrate.c). The
-- triggers that keep person_tally and category_tally exact; their PostgreSQL
-- twins are in migrations_pg/0005_tallies.sql.

CREATE TRIGGER persons_tally_ins AFTER INSERT ON persons BEGIN
  INSERT INTO person_tally(region_code, status, complete, n)
    VALUES (NEW.region_code, NEW.status, NEW.missing_count = 0, 1)
    ON CONFLICT(region_code, status, complete) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER persons_tally_del AFTER DELETE ON persons BEGIN
  UPDATE person_tally SET n = n - 1
    WHERE region_code = OLD.region_code AND status = OLD.status AND complete = (OLD.missing_count = 0);
  DELETE FROM person_tally WHERE region_code = OLD.region_code AND n <= 0;
END;

CREATE TRIGGER persons_tally_upd AFTER UPDATE OF region_code, status, missing_count ON persons
WHEN OLD.region_code IS NOT NEW.region_code OR OLD.status IS NOT NEW.status
  OR (OLD.missing_count = 0) IS NOT (NEW.missing_count = 0)
BEGIN
  UPDATE person_tally SET n = n - 1
    WHERE region_code = OLD.region_code AND status = OLD.status AND complete = (OLD.missing_count = 0);
  DELETE FROM person_tally WHERE region_code = OLD.region_code AND n <= 0;
  INSERT INTO person_tally(region_code, status, complete, n)
    VALUES (NEW.region_code, NEW.status, NEW.missing_count = 0, 1)
    ON CONFLICT(region_code, status, complete) DO UPDATE SET n = n + 1;
END;

-- A person who moves takes their active categories along.
CREATE TRIGGER persons_tally_move AFTER UPDATE OF region_code ON persons
WHEN OLD.region_code IS NOT NEW.region_code
BEGIN
  UPDATE category_tally SET n = n - (SELECT COUNT(*) FROM person_categories c
      WHERE c.person_id = NEW.id AND c.valid_to IS NULL AND c.category = category_tally.category)
    WHERE region_code = OLD.region_code;
  DELETE FROM category_tally WHERE region_code = OLD.region_code AND n <= 0;
  INSERT INTO category_tally(region_code, category, n)
    SELECT NEW.region_code, category, COUNT(*) FROM person_categories
    WHERE person_id = NEW.id AND valid_to IS NULL GROUP BY category
    ON CONFLICT(region_code, category) DO UPDATE SET n = n + excluded.n;
END;

CREATE TRIGGER categories_tally_ins AFTER INSERT ON person_categories WHEN NEW.valid_to IS NULL BEGIN
  INSERT INTO category_tally(region_code, category, n)
    SELECT region_code, NEW.category, 1 FROM persons WHERE id = NEW.person_id
    ON CONFLICT(region_code, category) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER categories_tally_del AFTER DELETE ON person_categories WHEN OLD.valid_to IS NULL BEGIN
  UPDATE category_tally SET n = n - 1
    WHERE category = OLD.category AND region_code = (SELECT region_code FROM persons WHERE id = OLD.person_id);
  DELETE FROM category_tally WHERE category = OLD.category AND n <= 0;
END;

CREATE TRIGGER categories_tally_upd AFTER UPDATE OF category, valid_to, person_id ON person_categories
WHEN OLD.category IS NOT NEW.category OR (OLD.valid_to IS NULL) IS NOT (NEW.valid_to IS NULL)
  OR OLD.person_id IS NOT NEW.person_id
BEGIN
  UPDATE category_tally SET n = n - 1
    WHERE OLD.valid_to IS NULL AND category = OLD.category
      AND region_code = (SELECT region_code FROM persons WHERE id = OLD.person_id);
  DELETE FROM category_tally WHERE category = OLD.category AND n <= 0;
  INSERT INTO category_tally(region_code, category, n)
    SELECT region_code, NEW.category, 1 FROM persons WHERE id = NEW.person_id AND NEW.valid_to IS NULL
    ON CONFLICT(region_code, category) DO UPDATE SET n = n + 1;
END;
