-- TODO: keep only salaries above 100 and sort the rows.
SELECT name, salary
FROM employees;
