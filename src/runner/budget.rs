//! Compiling a learner's WebAssembly within a budget.
//!
//! Cranelift's time and memory grow faster than a module's size on some shapes: in the
//! review, a 64 KB module of 8,000 nested loops took 33 s and 500 MB, and 85 nests of
//! 256 loops in one function (150 KB of text) took 55 s. A blocking compile cannot be
//! cancelled, so it is not done in this process at all:
//!
//! 1. the module's shape is checked first (`check_shape`, with wasmparser): nesting,
//!    function count, body size and locals far past what any real program needs are
//!    refused with a message, at once;
//! 2. the compile runs in a child process of this binary (`verdict compile-wasm`),
//!    under a CPU-time limit, a memory limit (`RLIMIT_DATA`, which counts the compiler's
//!    heap but not the engine's address-space reservations) and a wall-clock timeout;
//!    the child writes the compiled module, which this process deserializes.
//!
//! Past the budget, the module is the learner's `compile_error`, remembered by its hash
//! (`wasm::WasmRunner`), so a retry does not compile it again.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

/// Deeper nesting than any compiled program has (clang's deepest is a few dozen).
pub const MAX_NESTING: usize = 256;
pub const MAX_FUNCTIONS: u32 = 50_000;
pub const MAX_BODY_BYTES: usize = 1 << 20;
pub const MAX_LOCALS: u32 = 50_000;
/// The child's CPU time (all its threads) and wall time.
pub const CPU_SECONDS: u64 = 10;
pub const WALL: Duration = Duration::from_secs(5);
/// The child's heap.
pub const MEMORY_BYTES: u64 = 1 << 30;
/// The compiled module the child may hand back.
const MAX_OUTPUT: u64 = 256 << 20;

/// Refuses a module whose shape is past the limits, before anything compiles it.
pub fn check_shape(binary: &[u8]) -> Result<(), String> {
    use wasmparser::{Operator, Parser, Payload};
    for payload in Parser::new(0).parse_all(binary) {
        let payload =
            payload.map_err(|error| format!("the module is not valid WebAssembly: {error}"))?;
        match payload {
            Payload::CodeSectionStart { count, .. } if count > MAX_FUNCTIONS => {
                return Err(format!(
                    "the module has {count} functions; at most {MAX_FUNCTIONS} are compiled"
                ));
            }
            Payload::CodeSectionEntry(body) => {
                let size = body.range().len();
                if size > MAX_BODY_BYTES {
                    return Err(format!(
                        "a function body is {size} bytes; at most {MAX_BODY_BYTES} are compiled"
                    ));
                }
                let mut locals = 0u32;
                for entry in body.get_locals_reader().map_err(|e| e.to_string())? {
                    locals = locals.saturating_add(entry.map_err(|e| e.to_string())?.0);
                }
                if locals > MAX_LOCALS {
                    return Err(format!(
                        "a function declares {locals} locals; at most {MAX_LOCALS} are compiled"
                    ));
                }
                let mut depth = 0usize;
                let mut operators = body.get_operators_reader().map_err(|e| e.to_string())?;
                while !operators.eof() {
                    match operators.read().map_err(|e| e.to_string())? {
                        Operator::Block { .. }
                        | Operator::Loop { .. }
                        | Operator::If { .. }
                        | Operator::Try { .. }
                        | Operator::TryTable { .. } => {
                            depth += 1;
                            if depth > MAX_NESTING {
                                return Err(format!(
                                    "blocks are nested more than {MAX_NESTING} deep; this \
                                     grader compiles nothing deeper"
                                ));
                            }
                        }
                        Operator::End => depth = depth.saturating_sub(1),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// How a compile in the child went.
#[derive(Debug)]
pub enum Compiled {
    /// The serialized module (`Module::serialize` of an engine with this configuration).
    Module(Vec<u8>),
    /// The learner's compile error: invalid, refused by `check_shape`, or over budget.
    Refused(String),
}

/// The program that compiles: this binary, or (for a test binary, which is not it) the
/// `verdict` binary beside the folder it runs from; `VERDICT_WASM_COMPILER` overrides.
pub fn compiler_program() -> std::io::Result<PathBuf> {
    if let Some(path) = std::env::var_os("VERDICT_WASM_COMPILER") {
        return Ok(PathBuf::from(path));
    }
    let current = std::env::current_exe()?;
    let named_verdict = current
        .file_stem()
        .is_some_and(|stem| stem.to_string_lossy() == "verdict");
    if named_verdict {
        return Ok(current);
    }
    // target/<profile>/deps/<test binary> -> target/<profile>/verdict
    let beside = current
        .parent()
        .and_then(|deps| deps.parent())
        .map(|profile| profile.join("verdict"));
    match beside {
        Some(path) if path.is_file() => Ok(path),
        _ => Err(std::io::Error::other(
            "no verdict binary to compile learner modules with (set VERDICT_WASM_COMPILER)",
        )),
    }
}

/// Compiles `bytes` (WebAssembly text or binary) in a child process within the budget.
/// `Err` is an infrastructure fault (the child could not be started).
pub async fn compile(
    program: &std::path::Path,
    max_memory_mb: u64,
    bytes: &[u8],
) -> Result<Compiled, String> {
    use std::os::unix::process::CommandExt;
    let mut command = std::process::Command::new(program);
    command
        .arg("compile-wasm")
        .arg("--max-memory-mb")
        .arg(max_memory_mb.to_string())
        .env_clear()
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(|| {
            rlimit::setrlimit(rlimit::Resource::CPU, CPU_SECONDS, CPU_SECONDS + 1)?;
            rlimit::setrlimit(rlimit::Resource::DATA, MEMORY_BYTES, MEMORY_BYTES)?;
            rlimit::setrlimit(rlimit::Resource::CORE, 0, 0)
        });
    }
    let mut child = tokio::process::Command::from(command)
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| format!("cannot start the compiler ({}): {error}", program.display()))?;
    let mut stdin = child.stdin.take().expect("piped");
    let input = bytes.to_vec();
    let feeding = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let _ = stdin.write_all(&input).await;
    });
    let over_budget = || {
        Compiled::Refused(format!(
            "the module is too costly to compile: this grader allows {} s and {} MiB for it",
            WALL.as_secs(),
            MEMORY_BYTES >> 20
        ))
    };
    let output = match tokio::time::timeout(WALL, child.wait_with_output()).await {
        Err(_) => return Ok(over_budget()),
        Ok(Err(error)) => return Err(format!("the compiler failed: {error}")),
        Ok(Ok(output)) => output,
    };
    feeding.abort();
    match output.status.code() {
        Some(0) => Ok(Compiled::Module(output.stdout)),
        Some(2) => Ok(Compiled::Refused(
            String::from_utf8_lossy(&output.stderr).trim().to_string(),
        )),
        // Killed (SIGXCPU, SIGKILL) or aborted on a failed allocation: over the budget.
        _ => Ok(over_budget()),
    }
}

/// `verdict compile-wasm`: reads a module on stdin, checks its shape, compiles it with the
/// runner's engine configuration and writes the serialized module on stdout. Exit 2 with
/// the message on stderr for the learner's compile error.
pub fn child_main(max_memory_mb: u64) -> std::process::ExitCode {
    let mut bytes = Vec::new();
    let read = std::io::stdin()
        .take(super::wasm::engine::MAX_MODULE_BYTES as u64)
        .read_to_end(&mut bytes);
    let result = read
        .map_err(|error| format!("cannot read the module: {error}"))
        .and_then(|_| {
            let binary = wat::parse_bytes(&bytes).map_err(|error| format!("{error:#}"))?;
            check_shape(&binary)?;
            let engine =
                super::wasm::engine::engine(max_memory_mb).map_err(|error| format!("{error:#}"))?;
            let module =
                wasmtime::Module::new(&engine, &binary).map_err(|error| format!("{error:#}"))?;
            module.serialize().map_err(|error| format!("{error:#}"))
        });
    match result {
        Ok(serialized) if (serialized.len() as u64) < MAX_OUTPUT => {
            let mut out = std::io::stdout().lock();
            match out.write_all(&serialized).and_then(|()| out.flush()) {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(_) => std::process::ExitCode::FAILURE,
            }
        }
        Ok(_) => {
            eprintln!("the compiled module is too large");
            std::process::ExitCode::from(2)
        }
        Err(message) => {
            eprintln!("{message}");
            std::process::ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> Vec<u8> {
        let body = format!("{}{}", "(loop ".repeat(depth), ")".repeat(depth));
        wat::parse_str(format!("(module (func (export \"_start\") {body}))")).unwrap()
    }

    #[test]
    fn shapes_past_the_limits_are_refused_before_compiling() {
        assert!(check_shape(&nested(MAX_NESTING)).is_ok());
        let refused = check_shape(&nested(MAX_NESTING + 1)).unwrap_err();
        assert!(refused.contains("nested more than 256"), "{refused}");
        let locals = wat::parse_str(format!(
            "(module (func (local {}) ))",
            "i32 ".repeat(MAX_LOCALS as usize + 1)
        ))
        .unwrap();
        assert!(check_shape(&locals).unwrap_err().contains("locals"));
        assert!(
            check_shape(b"\0asm\x01\0\0\0\x0a\xff").is_err(),
            "a malformed section"
        );
    }
}
