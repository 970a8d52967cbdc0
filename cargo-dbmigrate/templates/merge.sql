-- Message: {{ message }}
-- Revises: {{ revises }}
-- Created: {{ created }}

-- migrate:upgrade
-- This revision joins the branches ending at {{ revises }} into one history; it needs no SQL.

-- migrate:downgrade

