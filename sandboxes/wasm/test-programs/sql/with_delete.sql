-- WITH ... DELETE begins like a query; the authorizer refuses the delete.
WITH doomed AS (SELECT x FROM held) DELETE FROM held WHERE x IN (SELECT x FROM doomed)
