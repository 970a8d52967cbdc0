-- Message: index account owners
-- Revises: 4

CREATE INDEX accounts_owner ON accounts (owner);
INSERT INTO ledger (revision, note) VALUES (5, 'index');
