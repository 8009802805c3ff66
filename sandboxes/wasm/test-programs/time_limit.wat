;; Spins forever: must end as time_limit (fuel, or the wall timeout).
(module
  (memory (export "memory") 1)
  (func (export "_start")
    (loop $forever (br $forever))))
