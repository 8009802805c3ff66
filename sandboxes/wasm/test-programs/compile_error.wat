;; Not a valid module: must end as compile_error.
(module
  (func (export "_start")
    (i32.add (i32.const 1))   ;; type error: one operand
    this is not wat))
