-- A narrow copy of persons for the search by name fragment: the gram index
-- gives person ids, and checking each one's region (jurisdiction) and name
-- (fragments longer than two characters) used to read its whole row, one
-- random page per match (a fragment matches up to ~400 of a million). This
-- index holds just those columns, small enough to stay in the cache; the
-- search names it with INDEXED BY (src/registry/persons.c), since without
-- statistics SQLite would prefer the table itself.
CREATE INDEX persons_search ON persons(id, region_code, name);
