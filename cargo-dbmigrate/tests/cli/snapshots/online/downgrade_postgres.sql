-- dbmigrate downgrade script for PostgreSQL: 2 revision(s)
-- Review it before running it. The history table is refinery's `refinery_schema_history`.

-- Revision 2: add teams (migrations/V2__add_teams.sql)
BEGIN;
DROP TABLE teams;
DELETE FROM "refinery_schema_history" WHERE version = 2;
COMMIT;

-- Revision 1: create users (migrations/V1__create_users.sql)
BEGIN;
DROP TABLE users;
DELETE FROM "refinery_schema_history" WHERE version = 1;
COMMIT;

