-- A learner's statement that drops the table: every test whose expected result is empty
-- would pass if it ran. The harness accepts one SELECT (or WITH ... SELECT) only.
DROP TABLE held
