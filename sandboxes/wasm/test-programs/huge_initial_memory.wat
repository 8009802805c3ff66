;; Declares 1 GiB of initial memory: refused at instantiation, must end as memory_limit.
(module
  (memory (export "memory") 16384)
  (func (export "_start")))
