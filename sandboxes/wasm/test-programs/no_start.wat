;; A module without `_start` is not a WASI command: must end as compile_error.
(module
  (memory (export "memory") 1)
  (func (export "main")))
