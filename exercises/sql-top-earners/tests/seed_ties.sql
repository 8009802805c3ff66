INSERT INTO employees (id, name, department, salary) VALUES
    (1, 'Margaret', 'Engineering', 130),
    (2, 'Dennis',   'Engineering', 130),
    (3, 'Alan',     'Research',    130),
    (4, 'Edsger',   'Research',    110),
    (5, 'Bjarne',   'Engineering', 110),
    (6, 'Frances',  'Support',     200),
    (7, 'Niklaus',  'Support',      80);
