-- Message: create accounts
-- Revises: 1

-- migrate:upgrade
CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner VARCHAR(100) NOT NULL, balance INTEGER NOT NULL);
INSERT INTO ledger (revision, note) VALUES (2, 'accounts');

-- migrate:downgrade
DROP TABLE accounts;
DELETE FROM ledger WHERE revision = 2;
