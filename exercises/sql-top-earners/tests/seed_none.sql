INSERT INTO employees (id, name, department, salary) VALUES
    (1, 'Tim',    'Support',  40),
    (2, 'Guido',  'Research', 99),
    (3, 'Larry',  'Support',  75);
