;; Tries to open host files through the scratch preopen (fd 3): "../../etc/passwd",
;; "/etc/passwd" and "../solution". Prints "sandbox held" only if every attempt fails,
;; so the expected verdict is accepted.
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "../../etc/passwd")
  (data (i32.const 200) "/etc/passwd")
  (data (i32.const 300) "../solution")
  (data (i32.const 400) "sandbox held\n")
  (func $opens (param $ptr i32) (param $len i32) (result i32)
    (i32.eqz (call $path_open (i32.const 3) (i32.const 1) (local.get $ptr) (local.get $len)
      (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 500))))
  (func (export "_start")
    (if (i32.or (i32.or
          (call $opens (i32.const 100) (i32.const 16))
          (call $opens (i32.const 200) (i32.const 11)))
          (call $opens (i32.const 300) (i32.const 11)))
      (then (return)))
    (i32.store (i32.const 0) (i32.const 400))
    (i32.store (i32.const 4) (i32.const 13))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
