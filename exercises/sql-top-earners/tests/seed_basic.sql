INSERT INTO employees (id, name, department, salary) VALUES
    (1, 'Ada',     'Engineering', 120),
    (2, 'Grace',   'Engineering', 150),
    (3, 'Linus',   'Support',      90),
    (4, 'Barbara', 'Research',    105),
    (5, 'Ken',     'Support',      60);
