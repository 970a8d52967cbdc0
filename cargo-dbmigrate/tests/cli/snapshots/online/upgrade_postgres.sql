-- dbmigrate upgrade script for PostgreSQL: 2 revision(s)
-- Review it before running it. The history table is refinery's `refinery_schema_history`.

CREATE TABLE IF NOT EXISTS "refinery_schema_history"(version INT4 PRIMARY KEY, name VARCHAR(255), applied_on VARCHAR(255), checksum VARCHAR(255));

-- Revision 1: create users (migrations/V1__create_users.sql)
BEGIN;
CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(100));
INSERT INTO "refinery_schema_history" (version, name, applied_on, checksum) VALUES (1, 'create_users', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), '14332227939578249307');
COMMIT;

-- Revision 2: add teams (migrations/V2__add_teams.sql)
BEGIN;
CREATE TABLE teams (id INTEGER PRIMARY KEY, name VARCHAR(100));
INSERT INTO teams (id, name) VALUES (1, 'red');
INSERT INTO "refinery_schema_history" (version, name, applied_on, checksum) VALUES (2, 'add_teams', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), '10715608466266897026');
COMMIT;

