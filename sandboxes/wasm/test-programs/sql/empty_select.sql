/* A real query that selects nothing still works: reading is allowed. */
-- (a comment before the statement is fine)
SELECT x FROM held WHERE x <> 'sandbox held'
