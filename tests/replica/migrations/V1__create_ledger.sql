-- Message: create the ledger every revision signs
-- Revises:

-- migrate:upgrade
CREATE TABLE ledger (revision INTEGER NOT NULL, note VARCHAR(100));
INSERT INTO ledger (revision, note) VALUES (1, 'ledger');

-- migrate:downgrade
DROP TABLE ledger;
