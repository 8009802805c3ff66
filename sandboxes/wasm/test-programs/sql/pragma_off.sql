-- Turning the read-only guard off is not a query either.
PRAGMA query_only = OFF
