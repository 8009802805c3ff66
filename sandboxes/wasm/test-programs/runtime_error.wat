;; Traps at once: must end as runtime_error.
(module
  (memory (export "memory") 1)
  (func (export "_start") unreachable))
