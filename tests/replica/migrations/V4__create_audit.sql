-- Message: create the audit trail
-- Revises: 3

-- migrate:upgrade
CREATE TABLE audit (id INTEGER PRIMARY KEY, account_id INTEGER NOT NULL, change_amount INTEGER NOT NULL);
INSERT INTO ledger (revision, note) VALUES (4, 'audit');

-- migrate:downgrade
DROP TABLE audit;
DELETE FROM ledger WHERE revision = 4;
