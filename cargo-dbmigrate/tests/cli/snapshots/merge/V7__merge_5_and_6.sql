-- Message: merge 5 and 6
-- Revises: 5, 6
-- Created: 2026-11-25T10:00:00Z

-- migrate:upgrade
-- This revision joins the branches ending at 5, 6 into one history; it needs no SQL.

-- migrate:downgrade
