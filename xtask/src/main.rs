//! Project automation, in the cargo-xtask style: `cargo xtask <command>`.
//!
//! * `ci`: everything `.ci/run` runs: formatting, clippy, then `test`.
//! * `test`: the README's test command: the whole workspace's tests, doctests included, every
//!   bench once in test mode, the official Python SDKs against the mock server, and the Python
//!   wheel (`mock-server/python/`) built, installed in a fresh venv and run through its pytest
//!   plugin.
//! * `bench`: the criterion benches for real, then the report tables.
//! * `fuzz --time N`: every cargo-fuzz target in `fuzz/` for N seconds each (stable toolchain,
//!   no sanitizer; see `fuzz/README.md`). New finds go to `fuzz/target/new-corpus/`, so the
//!   committed corpus is not changed.
//! * `docs`: `cargo doc` with `-D warnings`, default and all features, and as docs.rs builds.
//! * `examples`: every example of `docs/cookbook.md`, run as written against one mock server
//!   (exit status 0, plain text on stdout), and the pages' code excerpts checked.
//! * `tour`: the README's tour, command by command, against the mock started as the README says.
//! * `package [--no-test]`: `cargo publish --dry-run --workspace`, then each `.crate` unpacked
//!   and tested (`--no-test`: the dry run alone).
//! * `sizes`: the line counts of the protocol, mock, provider and transport `src/` trees, the
//!   mock's public items (the entries of rustdoc's `all.html`, re-exports inlined), and the
//!   type names declared in more than one of the protocol's dialect modules; fails when the
//!   protocol's or the mock's lines or the mock's public items are over issue #14's caps.

use std::path::Path;
use std::process::{Command, ExitCode};

mod release;
mod walkthrough;

const USAGE: &str = "usage: cargo xtask <ci|test|docs|examples|tour|package|bench|fuzz|fmt|sizes>

  ci        what .ci/run runs: fmt --check, clippy -D warnings, the blocking-only and light builds, test,
            docs, examples, tour, package
  test      the workspace's tests, benches once in test mode, the Python SDK suite, the Python
            wheel's suite (the README's test command)
  docs      cargo doc -D warnings (default features, all features, and as docs.rs builds)
  examples  every cookbook example against the mock server; the Markdown code excerpts checked
  tour      the README's tour, command by command, against the mock server
  package   [--no-test]  cargo publish --dry-run --workspace, then cargo test in the unpacked
            .crates (not with --no-test)
  bench     the criterion benches (peers in the same run), then the report tables
  fuzz      [--time SECS] [TARGET…]  every fuzz target (or those named) for SECS each (default 60)
  fmt       cargo fmt --all
  sizes     line counts of the protocol, mock, provider and transport src/, the mock's public
            items, the type names declared in more than one dialect module; fails over the caps";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("test") => test(),
        Some("docs") => release::docs(),
        Some("examples") => walkthrough::examples(),
        Some("tour") => walkthrough::tour(),
        Some("package") => release::package(args.get(1).map(String::as_str) != Some("--no-test")),
        Some("fmt") => cargo(&["fmt", "--all"]),
        Some("bench") => bench(&args[1..]),
        Some("fuzz") => fuzz(&args[1..]),
        Some("sizes") => sizes(),
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
    test()?;
    release::docs()?;
    sizes()?;
    walkthrough::examples()?;
    walkthrough::tour()?;
    release::package(true)
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
    ])?;
    check_light_builds()
}

/// The other feature sets `--all-features` never compiles alone: the reqwest transport on
/// native-tls without rustls (the async transport's tests run on it), and the mock as a light
/// dev-dependency (no `cli`, no `record`), its tests included (those that need the binary or
/// record mode are left out by their `required-features`).
fn check_light_builds() -> Result<(), String> {
    cargo(&[
        "check",
        "-p",
        "dashscope-provider",
        "--no-default-features",
        "--features",
        "native-tls",
    ])?;
    cargo(&[
        "test",
        "-p",
        "dashscope-transport",
        "--no-default-features",
        "--features",
        "native-tls",
        "--test",
        "native_tls_backend",
    ])?;
    cargo(&[
        "check",
        "-p",
        "dashscope-mock",
        "--no-default-features",
        "--all-targets",
    ])
}

fn test() -> Result<(), String> {
    cargo(&["test", "--workspace", "--all-features", "--no-fail-fast"])?;
    // Every criterion bench once, in test mode (never timed in CI).
    cargo(&["test", "-p", "dashscope-benches", "--benches"])?;
    // The official Python SDKs against the mock server (makes its own virtual environment).
    bash("mock-server/tests/python/run.sh")?;
    // The wheel (release build, reused), installed in a fresh venv, and its pytest plugin.
    bash("mock-server/python/ci.sh")
}

/// The criterion benches for real, then the Markdown report of the run (BENCHMARKS.md's tables).
/// Extra arguments go to criterion (e.g. a bench name filter).
fn bench(extra: &[String]) -> Result<(), String> {
    let mut args = vec![
        "bench",
        "-p",
        "dashscope-benches",
        "--",
        "--warm-up-time",
        "1",
        "--measurement-time",
        "3",
    ];
    args.extend(extra.iter().map(String::as_str));
    cargo(&args)?;
    // The memory row (not a criterion bench): a 1,000,000-event stream, RSS sampled.
    cargo(&[
        "run",
        "--release",
        "-p",
        "dashscope-benches",
        "--example",
        "memory",
    ])?;
    cargo(&[
        "run",
        "--release",
        "-p",
        "dashscope-benches",
        "--bin",
        "bench-report",
    ])
}

/// The size figures of issue 14 (see the module docs).
/// Issue #14's caps: the protocol's and the mock's `src/` lines, the mock's public items.
const PROTOCOL_MAX_LINES: usize = 13_000;
const MOCK_MAX_LINES: usize = 9_000;
const MOCK_MAX_PUBLIC_ITEMS: usize = 20;

/// Prints the sizes, and fails when one is over its cap (CI runs it).
fn sizes() -> Result<(), String> {
    let mut over = Vec::new();
    for (dir, cap) in [
        ("crates/dashscope-protocol/src", Some(PROTOCOL_MAX_LINES)),
        ("mock-server/src", Some(MOCK_MAX_LINES)),
        ("crates/dashscope-provider/src", None),
        ("crates/dashscope-transport/src", None),
    ] {
        let mut files = Vec::new();
        rust_files(Path::new(dir), &mut files)?;
        let lines: usize = files.iter().map(|(_, text)| text.lines().count()).sum();
        println!("{dir}: {lines} lines in {} files", files.len());
        if let Some(cap) = cap.filter(|&cap| lines > cap) {
            over.push(format!("{dir}: {lines} lines (at most {cap})"));
        }
    }
    cargo(&["doc", "-p", "dashscope-mock", "--no-deps", "--quiet"])?;
    let all = std::fs::read_to_string("target/doc/dashscope_mock/all.html")
        .map_err(|e| format!("target/doc/dashscope_mock/all.html: {e}"))?;
    let items: Vec<&str> = all
        .split("<li><a href=\"")
        .skip(1)
        .filter(|rest| {
            rest.split('"')
                .next()
                .is_some_and(|href| href.ends_with(".html"))
        })
        .filter_map(|rest| rest.split('>').nth(1)?.split('<').next())
        .collect();
    println!(
        "dashscope-mock public items: {} ({})",
        items.len(),
        items.join(", ")
    );
    if items.len() > MOCK_MAX_PUBLIC_ITEMS {
        over.push(format!(
            "dashscope-mock: {} public items (at most {MOCK_MAX_PUBLIC_ITEMS})",
            items.len()
        ));
    }
    // Type names declared in each dialect module (re-exports of a shared type are not
    // declarations).
    let mut declared: Vec<(String, &str)> = Vec::new();
    for module in ["chat", "responses", "native"] {
        let mut files = Vec::new();
        rust_files(
            &Path::new("crates/dashscope-protocol/src").join(module),
            &mut files,
        )?;
        let mut names: Vec<String> = files
            .iter()
            .flat_map(|(_, text)| type_names(text))
            .collect();
        names.sort();
        names.dedup();
        declared.extend(names.into_iter().map(|n| (n, module)));
    }
    declared.sort();
    let mut duplicates = Vec::new();
    for group in declared.chunk_by(|a, b| a.0 == b.0).filter(|g| g.len() > 1) {
        let modules: Vec<&str> = group.iter().map(|(_, m)| *m).collect();
        duplicates.push(format!("{} ({})", group[0].0, modules.join(", ")));
    }
    println!(
        "type names declared in more than one dialect module: {}",
        duplicates.len()
    );
    for d in &duplicates {
        println!("  {d}");
    }
    // (A type name declared twice with the same wire form fails the protocol's
    // `declarations` test.)
    if over.is_empty() {
        Ok(())
    } else {
        Err(format!("over issue #14's caps: {}", over.join("; ")))
    }
}

/// Every `*.rs` file under `dir`, with its text.
fn rust_files(dir: &Path, out: &mut Vec<(String, String)>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            rust_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            out.push((path.display().to_string(), text));
        }
    }
    Ok(())
}

/// The names of the public structs, enums, traits and type aliases a source text declares
/// (`pub struct X`, also inside the protocol's declaration macros).
fn type_names(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        for w in words.windows(3) {
            if w[0] == "pub" && matches!(w[1], "struct" | "enum" | "trait" | "type") {
                let name: String = w[2]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if name.starts_with(|c: char| c.is_ascii_uppercase()) {
                    out.push(name);
                }
            }
        }
    }
    out
}

/// Runs a script of the repository with bash.
fn bash(script: &str) -> Result<(), String> {
    eprintln!("$ bash {script}");
    run(Command::new("bash").arg(script))
}

fn cargo(args: &[&str]) -> Result<(), String> {
    cargo_in(None, args, &[])
}

/// Runs cargo with `args` in `dir` (the current directory by default), with `env` added.
fn cargo_in(dir: Option<&Path>, args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let shown: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v:?} ")).collect();
    let place = dir
        .map(|d| format!("(in {}) ", d.display()))
        .unwrap_or_default();
    eprintln!("$ {place}{}cargo {}", shown.concat(), args.join(" "));
    let mut cmd = Command::new(&cargo);
    cmd.args(args).envs(env.iter().copied());
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    run(&mut cmd)
}

/// Runs `cmd` to its end; an error unless it succeeds.
fn run(cmd: &mut Command) -> Result<(), String> {
    let shown = format!("{cmd:?}");
    let status = cmd
        .status()
        .map_err(|e| format!("could not run {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed ({status})"))
    }
}

/// The fuzz targets, in the order they run.
const FUZZ_TARGETS: &[&str] = &[
    "sse_decoder",
    "chat_stream",
    "responses_stream",
    "native_stream",
    "responses_json",
    "chat_fast",
    "native_fast",
    "responses_fast",
    "mock_router",
];

fn fuzz(args: &[String]) -> Result<(), String> {
    let mut secs = 60u64;
    let mut targets: Vec<&str> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--time" {
            let v = it.next().ok_or("--time needs a number of seconds")?;
            secs = v
                .parse()
                .map_err(|_| format!("--time {v:?} is not a number of seconds"))?;
        } else {
            targets.push(a.as_str());
        }
    }
    if targets.is_empty() {
        targets = FUZZ_TARGETS.to_vec();
    }
    let cargo_bin = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let have_fuzz = Command::new(&cargo_bin)
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have_fuzz {
        cargo(&["install", "cargo-fuzz", "--locked"])?;
    }
    for t in targets {
        let new_corpus = format!("target/new-corpus/{t}");
        std::fs::create_dir_all(format!("fuzz/{new_corpus}"))
            .map_err(|e| format!("cannot create fuzz/{new_corpus}: {e}"))?;
        let max_time = format!("-max_total_time={secs}");
        let corpus = format!("corpus/{t}");
        let fuzz_args = [
            "fuzz",
            "run",
            "--sanitizer",
            "none",
            t,
            new_corpus.as_str(),
            corpus.as_str(),
            "--",
            max_time.as_str(),
            "-timeout=10",
            "-dict=dict/protocol.dict",
            "-print_final_stats=1",
        ];
        eprintln!("$ (cd fuzz && cargo {})", fuzz_args.join(" "));
        let status = Command::new(&cargo_bin)
            .current_dir("fuzz")
            .args(fuzz_args)
            .status()
            .map_err(|e| format!("could not run cargo fuzz: {e}"))?;
        if !status.success() {
            return Err(format!(
                "fuzz target {t} failed ({status}); see fuzz/artifacts/{t}/"
            ));
        }
    }
    Ok(())
}
