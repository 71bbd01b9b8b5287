//! The `tessera` binary: `serve`, `migrate`, and the `admin` commands for scripts.

mod admin;
mod admin_lifecycle;
mod admin_tenants;
mod authenticator;
mod cli;
mod config;
mod runtime;
mod serve;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tessera: error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            // One line, naming what is wrong; never a backtrace.
            eprintln!("tessera: error: {message}");
            ExitCode::FAILURE
        }
    }
}
