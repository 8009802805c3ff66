;; Prints "sandbox held" only if the environment has no variables and argv is one
;; entry, so the expected verdict is accepted.
(module
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 400) "sandbox held\n")
  (func (export "_start")
    (drop (call $environ_sizes (i32.const 100) (i32.const 104)))
    (drop (call $args_sizes (i32.const 108) (i32.const 112)))
    (if (i32.or (i32.ne (i32.load (i32.const 100)) (i32.const 0))
                (i32.ne (i32.load (i32.const 108)) (i32.const 1)))
      (then (return)))
    (i32.store (i32.const 0) (i32.const 400))
    (i32.store (i32.const 4) (i32.const 13))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
