-- Message: create players
-- Revises:
-- Created: 2026-11-25T08:00:00Z

-- migrate:upgrade
CREATE TABLE players (
    id INTEGER PRIMARY KEY,
    name VARCHAR(100) NOT NULL,
    team VARCHAR(100) NOT NULL
);

-- migrate:downgrade
DROP TABLE players;
