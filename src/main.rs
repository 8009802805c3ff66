use clap::Parser;

fn main() -> std::process::ExitCode {
    if let Err(error) = verdict::config::load_config_file() {
        eprintln!("error: {error:#}");
        return std::process::ExitCode::from(2);
    }
    let cli = verdict::cli::Cli::parse();
    // A learner module's compile, in a child of the runner: no runtime, no logging.
    if let verdict::cli::Command::CompileWasm { max_memory_mb } = cli.command {
        return verdict::runner::budget::child_main(max_memory_mb);
    }
    verdict::telemetry::init_tracing();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(verdict::cli::run(cli)) {
        Ok(code) => std::process::ExitCode::from(code as u8),
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
