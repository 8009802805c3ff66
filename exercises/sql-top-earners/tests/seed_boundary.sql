INSERT INTO employees (id, name, department, salary) VALUES
    (1, 'Anders', 'Engineering', 100),
    (2, 'Bjorn',  'Engineering', 101),
    (3, 'Carla',  'Research',    100),
    (4, 'Dana',   'Research',     99),
    (5, 'Eve',    'Support',    1000);
