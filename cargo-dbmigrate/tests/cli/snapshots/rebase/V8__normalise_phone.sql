-- Message: normalise phone
-- Revises: 7
-- Created: 2026-11-23T11:00:00Z

-- migrate:upgrade
UPDATE users SET phone = replace(phone, ' ', '');

-- migrate:downgrade
-- The original spacing is gone; reverting keeps the normalised numbers.
