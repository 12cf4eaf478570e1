//! Project automation, in the cargo-xtask style: `cargo xtask <command>`.
//!
//! * `ci`: everything `.ci/run` runs: formatting, clippy, then `test`.
//! * `test`: the README's test command: the whole workspace's tests, doctests included.

use std::process::{Command, ExitCode};

const USAGE: &str = "usage: cargo xtask <ci|test|fmt>

  ci     cargo fmt --check, cargo clippy -D warnings, the blocking-only build, then `test`
  test   the workspace's tests, then the Python SDK suite (the README's test command)
  fmt    cargo fmt --all";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("test") => test(),
        Some("fmt") => cargo(&["fmt", "--all"]),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn ci() -> Result<(), String> {
    cargo(&["fmt", "--all", "--", "--check"])?;
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--all-features",
        "--",
        "-D",
        "warnings",
    ])?;
    check_blocking_only()?;
    test()
}

/// The blocking-only feature set is never compiled by `--all-features`; build it on its own.
fn check_blocking_only() -> Result<(), String> {
    cargo(&[
        "check",
        "-p",
        "dashscope-transport",
        "-p",
        "dashscope-provider",
        "--no-default-features",
        "--features",
        "blocking",
    ])
}

fn test() -> Result<(), String> {
    cargo(&["test", "--workspace", "--all-features", "--no-fail-fast"])?;
    python_clients()
}

/// The official Python `openai` and `dashscope` SDKs against the mock server (makes its own
/// virtual environment).
fn python_clients() -> Result<(), String> {
    let script = "mock-server/tests/python/run.sh";
    eprintln!("$ bash {script}");
    let status = Command::new("bash")
        .arg(script)
        .status()
        .map_err(|e| format!("could not run bash {script}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`bash {script}` failed ({status})"))
    }
}

fn cargo(args: &[&str]) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    eprintln!("$ cargo {}", args.join(" "));
    let status = Command::new(&cargo)
        .args(args)
        .status()
        .map_err(|e| format!("could not run {cargo}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` failed ({status})", args.join(" ")))
    }
}
