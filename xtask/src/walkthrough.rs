//! What a reader runs: the cookbook's examples and the README's tour, run as written against
//! the mock server, and the code excerpts in the Markdown pages checked against their files.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::cargo;

/// The cookbook: its `cargo run … --example …` commands are the examples run.
const COOKBOOK: &str = "docs/cookbook.md";
/// The directories whose every example the cookbook must run.
const EXAMPLE_DIRS: [&str; 2] = [
    "crates/dashscope-provider/examples",
    "crates/dashscope-transport/examples",
];
/// The pages whose code excerpts are checked.
const PAGES: [&str; 5] = [
    COOKBOOK,
    "crates/dashscope-protocol/README.md",
    "crates/dashscope-transport/README.md",
    "crates/dashscope-provider/README.md",
    "mock-server/README.md",
];
/// The marker of the README's runnable tour block (an HTML comment, so it does not render).
const TOUR_MARKER: &str = "<!-- runnable: cargo xtask tour -->";

/// The bound on one example's run (built beforehand; the slowest waits out a 1 s retry).
const EXAMPLE_TIMEOUT: Duration = Duration::from_secs(120);
/// The bound on one tour command or the mock's start, which may have to compile first.
const TOUR_TIMEOUT: Duration = Duration::from_secs(900);
/// Where the runs leave their output and the mock its log.
const LOG_DIR: &str = "target/xtask";

/// Every example the cookbook lists, run as written against one mock server: each must exit
/// successfully and print plain text (no ANSI escapes, no `Debug` output).
pub fn examples() -> Result<(), String> {
    excerpts()?;
    let page = read(COOKBOOK)?;
    let mut runs: Vec<String> = Vec::new();
    for command in fenced(&page)
        .filter(|b| b.info == "sh")
        .flat_map(|b| commands(&b.body))
    {
        if command.starts_with("cargo run -p dashscope-")
            && command.contains("--example ")
            && !runs.contains(&command)
        {
            runs.push(command);
        }
    }
    let commands = runs;
    for dir in EXAMPLE_DIRS {
        for example in rust_file_stems(dir)? {
            let listed = commands.iter().any(|c| {
                c.split_whitespace()
                    .collect::<Vec<_>>()
                    .windows(2)
                    .any(|w| w == ["--example", example.as_str()])
            });
            if !listed {
                return Err(format!(
                    "{COOKBOOK} has no `cargo run` line for {dir}/{example}.rs"
                ));
            }
        }
    }

    // Build first, so that the runs' timeouts bound the runs alone.
    let mut builds: Vec<String> = commands.iter().map(|c| build_command(c)).collect();
    builds.sort();
    builds.dedup();
    for build in &builds {
        sh(build, &[], None, TOUR_TIMEOUT)?;
    }
    cargo(&["build", "-p", "dashscope-mock"])?;
    let mock = Background::start("target/debug/dashscope-mock --port 0", "examples-mock")?;
    eprintln!("xtask examples: the mock server listens on {}", mock.url);

    let env = [
        ("DASHSCOPE_BASE_URL", mock.url.as_str()),
        ("DASHSCOPE_API_KEY", "sk-test"),
    ];
    let mut failures = Vec::new();
    for (i, command) in commands.iter().enumerate() {
        let out = Path::new(LOG_DIR).join(format!("example-{i}.out"));
        let status = sh(command, &env, Some(&out), EXAMPLE_TIMEOUT);
        let stdout = std::fs::read_to_string(&out).unwrap_or_default();
        let problem = match status {
            Err(e) => Some(e),
            Ok(()) => not_plain_text(&stdout).map(str::to_owned),
        };
        match problem {
            None => eprintln!("ok: {command} ({} lines)", stdout.lines().count()),
            Some(p) => {
                eprintln!("FAILED: {command}: {p}\n--- stdout ---\n{stdout}--- end ---");
                failures.push(command.clone());
            }
        }
    }
    drop(mock);
    if failures.is_empty() {
        eprintln!(
            "{} passed, 0 failed: every cookbook example",
            commands.len()
        );
        Ok(())
    } else {
        Err(format!(
            "{} example(s) failed: {}",
            failures.len(),
            failures.join("; ")
        ))
    }
}

/// The README's tour, as written: its first set-up command (the mock server) started in the
/// background, then every command of the tour block with `bash -e`, each of which must succeed.
/// Should the tour's port be taken on this machine, a free one is used in its place.
pub fn tour() -> Result<(), String> {
    let readme = read("README.md")?;
    let setup = section(&readme, "## Set-up commands")
        .and_then(|s| fenced(s).find(|b| b.info == "sh"))
        .and_then(|b| commands(&b.body).into_iter().next())
        .ok_or("README.md: no sh block under \"## Set-up commands\"")?;
    let tour = readme
        .split_once(TOUR_MARKER)
        .and_then(|(_, rest)| fenced(rest).next())
        .filter(|b| b.info == "sh")
        .ok_or_else(|| format!("README.md: no sh block after {TOUR_MARKER}"))?;
    let mut steps = commands(&tour.body);
    if steps.is_empty() {
        return Err("README.md: the tour block has no command".to_owned());
    }

    let mut setup = setup;
    if let Some(port) = setup
        .split_whitespace()
        .skip_while(|w| *w != "--port")
        .nth(1)
        .map(str::to_owned)
        && TcpListener::bind(("127.0.0.1", port.parse::<u16>().unwrap_or(0))).is_err()
    {
        let free = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port()
            .to_string();
        eprintln!("xtask tour: port {port} is taken here; the tour runs on {free} instead");
        setup = setup.replace(&format!("--port {port}"), &format!("--port {free}"));
        for step in &mut steps {
            *step = step.replace(&format!("127.0.0.1:{port}"), &format!("127.0.0.1:{free}"));
        }
    }

    eprintln!("$ {setup} &");
    let mock = Background::start(&setup, "tour-mock")?;
    eprintln!("xtask tour: the mock server listens on {}", mock.url);
    for step in &steps {
        eprintln!("$ {step}");
        sh(step, &[], None, TOUR_TIMEOUT)?;
        println!();
    }
    drop(mock);
    eprintln!("{} passed, 0 failed: the README's tour", steps.len());
    Ok(())
}

/// Checks that every code block marked `<!-- excerpt: PATH -->` is an excerpt of `PATH`: its
/// lines appear in the file in the same order (leading whitespace aside).
pub fn excerpts() -> Result<(), String> {
    let mut checked = 0;
    for page in PAGES {
        let text = read(page)?;
        for block in fenced(&text) {
            let Some(path) = block
                .before
                .trim()
                .strip_prefix("<!-- excerpt:")
                .and_then(|s| s.strip_suffix("-->"))
                .map(str::trim)
            else {
                continue;
            };
            let source = read(path)?;
            let mut lines = source.lines().map(str::trim);
            for wanted in block.body.lines().map(str::trim).filter(|l| !l.is_empty()) {
                if !lines.any(|l| l == wanted) {
                    return Err(format!(
                        "{page}: the excerpt of {path} has a line that is not in it (or out of order): {wanted}"
                    ));
                }
            }
            checked += 1;
        }
    }
    eprintln!("xtask: {checked} code excerpts match their files");
    Ok(())
}

/// A fenced code block: its info string, its text, and the last non-empty line before it.
struct Block<'a> {
    info: &'a str,
    body: String,
    before: &'a str,
}

/// The fenced code blocks of a Markdown text, in order.
fn fenced(text: &str) -> impl Iterator<Item = Block<'_>> {
    let mut lines = text.lines();
    let mut before = "";
    std::iter::from_fn(move || {
        loop {
            let line = lines.next()?;
            if let Some(info) = line.trim_start().strip_prefix("```") {
                let mut body = String::new();
                for l in lines.by_ref() {
                    if l.trim_start().starts_with("```") {
                        break;
                    }
                    body.push_str(l);
                    body.push('\n');
                }
                let block = Block {
                    info: info.trim(),
                    body,
                    before,
                };
                before = "";
                return Some(block);
            }
            if !line.trim().is_empty() {
                before = line;
            }
        }
    })
}

/// The text from `heading` to the next heading of any level.
fn section<'a>(text: &'a str, heading: &str) -> Option<&'a str> {
    let start = text.find(&format!("\n{heading}\n"))? + heading.len() + 2;
    let rest = &text[start..];
    Some(rest.find("\n#").map_or(rest, |end| &rest[..end]))
}

/// The commands of a shell block: comment lines and blank lines dropped, lines ending in `\`
/// joined with the next.
fn commands(block: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in block.lines() {
        if current.is_empty() && (line.trim().is_empty() || line.trim_start().starts_with('#')) {
            continue;
        }
        current.push_str(line);
        if line.ends_with('\\') {
            current.push('\n');
        } else {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// `cargo run ARGS [-- PROGRAM ARGS]` as `cargo build ARGS`.
fn build_command(run: &str) -> String {
    let args = run.split(" -- ").next().unwrap_or(run);
    args.replacen("cargo run", "cargo build", 1)
}

/// Why `stdout` is not plain text, if it is not.
fn not_plain_text(stdout: &str) -> Option<&'static str> {
    if stdout.trim().is_empty() {
        return Some("it printed nothing");
    }
    if stdout.contains("\x1b[") {
        return Some("it printed an ANSI escape sequence");
    }
    if ["Some(", "Ok(", "Err(", "None,", "None)"]
        .iter()
        .any(|p| stdout.contains(p))
    {
        return Some("it printed Rust Debug output (`Some(`, `Ok(`, …)");
    }
    // `Name { field: …`: a struct's Debug output.
    let debug_struct = stdout.match_indices(" { ").any(|(i, _)| {
        let name = stdout[..i]
            .rsplit(|c: char| !c.is_alphanumeric() && c != '_')
            .next();
        let field = stdout[i + 3..]
            .split(|c: char| !c.is_alphanumeric() && c != '_')
            .next();
        name.is_some_and(|n| n.starts_with(|c: char| c.is_ascii_uppercase()))
            && field.is_some_and(|f| !f.is_empty() && stdout[i + 3 + f.len()..].starts_with(':'))
    });
    debug_struct.then_some("it printed a struct's Debug output (`Name { field: …`)")
}

/// The names of the `*.rs` files in `dir`, without the extension, sorted.
fn rust_file_stems(dir: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| format!("{dir}: {e}"))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().is_some_and(|e| e == "rs")
            && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
        {
            out.push(stem.to_owned());
        }
    }
    out.sort();
    Ok(out)
}

fn read(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))
}

/// Runs `command` with `bash -e` in its own process group, with `env` added and the other
/// `DASHSCOPE_*` variables removed; its stdout goes to `stdout` when given. Killed (the whole
/// group) after `timeout`.
fn sh(
    command: &str,
    env: &[(&str, &str)],
    stdout: Option<&Path>,
    timeout: Duration,
) -> Result<(), String> {
    let mut cmd = Command::new("bash");
    cmd.args(["-e", "-c", command]).process_group(0);
    for (name, _) in std::env::vars() {
        if name.starts_with("DASHSCOPE_") {
            cmd.env_remove(name);
        }
    }
    cmd.envs(env.iter().copied());
    if let Some(path) = stdout {
        std::fs::create_dir_all(LOG_DIR).map_err(|e| e.to_string())?;
        cmd.stdout(File::create(path).map_err(|e| format!("{}: {e}", path.display()))?);
    }
    let mut child = cmd.spawn().map_err(|e| format!("bash: {e}"))?;
    let status = wait(&mut child, timeout)
        .ok_or_else(|| format!("`{command}` did not finish within {} s", timeout.as_secs()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{command}` failed ({status})"))
    }
}

/// Waits for `child` up to `timeout`; past it, kills its process group and gives `None`.
fn wait(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            _ => {
                kill_group(child, "KILL");
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// Signals the process group `child` leads (it was started with `process_group(0)`).
fn kill_group(child: &Child, signal: &str) {
    // `--`, or procps' kill reads the negative group id as an option and signals nothing.
    let _ = Command::new("kill")
        .args(["-s", signal, "--"])
        .arg(format!("-{}", child.id()))
        .stderr(Stdio::null())
        .status();
}

/// A mock server started with a shell command in its own process group; stopped (the group)
/// when dropped.
struct Background {
    child: Child,
    url: String,
}

impl Background {
    /// Starts `command` and waits for the mock's first line, `… listening on URL`. Its stderr
    /// goes to `target/xtask/NAME.log`.
    fn start(command: &str, name: &str) -> Result<Background, String> {
        std::fs::create_dir_all(LOG_DIR).map_err(|e| e.to_string())?;
        let log_path = Path::new(LOG_DIR).join(format!("{name}.log"));
        let log = File::create(&log_path).map_err(|e| e.to_string())?;
        let mut child = Command::new("bash")
            .args(["-c", command])
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("bash: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut background = Background {
            child,
            url: String::new(),
        };
        // Read the lines on a thread (and keep draining them, so the pipe never fills).
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + TOUR_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some((_, url)) = line.split_once("listening on ") {
                        background.url = url.trim().to_owned();
                        return Ok(background);
                    }
                }
                Err(_) => {
                    return Err(format!(
                        "`{command}` never said where it listens (its log: {})",
                        log_path.display()
                    ));
                }
            }
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        kill_group(&self.child, "TERM");
        if wait(&mut self.child, Duration::from_secs(20)).is_none() {
            eprintln!("xtask: the mock server was killed after it ignored SIGTERM for 20 s");
        }
    }
}
