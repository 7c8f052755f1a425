-- Bumped by every rebuild of the facts table: a replica that sees it change forgets its model and
-- loads the rebuilt table from the start.
CREATE TABLE read_model (
    only_row   boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    generation bigint NOT NULL DEFAULT 0
);
INSERT INTO read_model DEFAULT VALUES;
