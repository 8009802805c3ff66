SELECT name, salary
FROM employees
WHERE salary > 100
ORDER BY salary DESC, name ASC;
