-- Message: seed players
-- Revises: 1
-- Created: 2026-11-25T08:05:00Z

-- migrate:upgrade
INSERT INTO players (id, name, team) VALUES
    (1, 'Ada', 'Red Rockets'),
    (2, 'Grace', 'Blue Herons'),
    (3, 'Linus', 'Red Rockets'),
    (4, 'Margaret', 'Green Giants'),
    (5, 'Ken', 'Blue Herons'),
    (6, 'Barbara', 'Red Rockets');

-- migrate:downgrade
DELETE FROM players WHERE id BETWEEN 1 AND 6;
