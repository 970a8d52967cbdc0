-- Message: add phone
-- Revises: 5
-- Created: 2026-11-22T11:00:00Z

-- migrate:upgrade
ALTER TABLE users ADD COLUMN phone TEXT;

-- migrate:downgrade
ALTER TABLE users DROP COLUMN phone;
