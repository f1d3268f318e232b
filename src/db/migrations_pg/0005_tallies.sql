-- PostgreSQL only: runs after the translation of migrations/0005_tallies.sql,
-- in the same transaction and under the same version (see src/db/migrate.c).
-- The triggers that keep person_tally and category_tally exact; the same
-- rules as migrations_sqlite/0005_tallies.sql, in PL/pgSQL.
-- Concurrent writers of persons in one village wait for each other on the
-- tally row until they commit: short transactions keep that brief.

CREATE FUNCTION vets_person_tally() RETURNS trigger LANGUAGE plpgsql AS $vets$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    UPDATE person_tally SET n = n - 1
      WHERE region_code = OLD.region_code AND status = OLD.status
        AND complete = CASE WHEN OLD.missing_count = 0 THEN 1 ELSE 0 END;
    DELETE FROM person_tally WHERE region_code = OLD.region_code AND n <= 0;
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN
    INSERT INTO person_tally(region_code, status, complete, n)
      VALUES (NEW.region_code, NEW.status, CASE WHEN NEW.missing_count = 0 THEN 1 ELSE 0 END, 1)
      ON CONFLICT (region_code, status, complete) DO UPDATE SET n = person_tally.n + 1;
  END IF;
  IF TG_OP = 'UPDATE' AND OLD.region_code IS DISTINCT FROM NEW.region_code THEN
    UPDATE category_tally t SET n = t.n - c.k
      FROM (SELECT category, COUNT(*) AS k FROM person_categories
            WHERE person_id = NEW.id AND valid_to IS NULL GROUP BY category) c
      WHERE t.region_code = OLD.region_code AND t.category = c.category;
    DELETE FROM category_tally WHERE region_code = OLD.region_code AND n <= 0;
    INSERT INTO category_tally(region_code, category, n)
      SELECT NEW.region_code, category, COUNT(*) FROM person_categories
      WHERE person_id = NEW.id AND valid_to IS NULL GROUP BY category
      ON CONFLICT (region_code, category) DO UPDATE SET n = category_tally.n + excluded.n;
  END IF;
  RETURN NULL;
END
$vets$;

CREATE TRIGGER persons_tally_ins AFTER INSERT ON persons FOR EACH ROW EXECUTE FUNCTION vets_person_tally();
CREATE TRIGGER persons_tally_del AFTER DELETE ON persons FOR EACH ROW EXECUTE FUNCTION vets_person_tally();
CREATE TRIGGER persons_tally_upd AFTER UPDATE OF region_code, status, missing_count ON persons FOR EACH ROW
  WHEN (OLD.region_code IS DISTINCT FROM NEW.region_code OR OLD.status IS DISTINCT FROM NEW.status
        OR (OLD.missing_count = 0) IS DISTINCT FROM (NEW.missing_count = 0))
  EXECUTE FUNCTION vets_person_tally();

CREATE FUNCTION vets_category_tally() RETURNS trigger LANGUAGE plpgsql AS $vets$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.valid_to IS NULL THEN
    UPDATE category_tally SET n = n - 1
      WHERE category = OLD.category AND region_code = (SELECT region_code FROM persons WHERE id = OLD.person_id);
    DELETE FROM category_tally WHERE category = OLD.category AND n <= 0;
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.valid_to IS NULL THEN
    INSERT INTO category_tally(region_code, category, n)
      SELECT region_code, NEW.category, 1 FROM persons WHERE id = NEW.person_id
      ON CONFLICT (region_code, category) DO UPDATE SET n = category_tally.n + 1;
  END IF;
  RETURN NULL;
END
$vets$;

CREATE TRIGGER categories_tally_ins AFTER INSERT ON person_categories FOR EACH ROW EXECUTE FUNCTION vets_category_tally();
CREATE TRIGGER categories_tally_del AFTER DELETE ON person_categories FOR EACH ROW EXECUTE FUNCTION vets_category_tally();
CREATE TRIGGER categories_tally_upd AFTER UPDATE OF category, valid_to, person_id ON person_categories FOR EACH ROW
  WHEN (OLD.category IS DISTINCT FROM NEW.category OR (OLD.valid_to IS NULL) IS DISTINCT FROM (NEW.valid_to IS NULL)
        OR OLD.person_id IS DISTINCT FROM NEW.person_id)
  EXECUTE FUNCTION vets_category_tally();
