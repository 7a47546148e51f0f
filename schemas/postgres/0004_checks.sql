-- Twin of schemas/sqlite/0004_checks.sql, which rebuilds SQLite tables only because SQLite evaluated their
-- CHECK (x IN (...)) lists by building a temporary b-tree per write. PostgreSQL evaluates such lists in place, so
-- nothing changes here; the version keeps both backends numbered alike.
SELECT 1;
