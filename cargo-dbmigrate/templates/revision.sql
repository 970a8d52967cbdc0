-- Message: {{ message }}
-- Revises:{% if !revises.is_empty() %} {{ revises }}{% endif %}
-- Created: {{ created }}

-- migrate:upgrade


-- migrate:downgrade

