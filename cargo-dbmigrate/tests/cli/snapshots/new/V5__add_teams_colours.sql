-- Message: add teams' colours
-- Revises: 4
-- Created: 2026-11-25T10:00:00Z

-- migrate:upgrade


-- migrate:downgrade
