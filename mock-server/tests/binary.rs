//! The `dashscope-mock` binary: prints its URL, honours its flags, and on SIGTERM lets an open
//! stream finish before it exits.

#![cfg(unix)]

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

#[test]
fn the_binary_serves_and_shuts_down_gracefully() {
    within(Duration::from_secs(60), || {
        let dir = std::env::temp_dir().join(format!("dashscope-mock-bin-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("chat")).unwrap();
        std::fs::write(
            dir.join("chat/slow.json"),
            chat_stream("chat/slow", "slow", 5, 200).to_string(),
        )
        .unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_dashscope-mock"));
        command
            .args([
                "--port",
                "0",
                "--no-defaults",
                "--strict",
                "--seed",
                "3",
                "--api-key",
                "good-key",
            ])
            .args([
                "--fault",
                "status=503;times=1;dialect=native",
                "--shutdown-grace",
                "5",
                "--journal-capacity",
                "2",
                "--journal-max-bytes",
                "1000000",
            ])
            .arg("--fixtures")
            .arg(&dir);
        let (mut child, addr) = listening(&mut command);

        let health = send(addr, "GET", "/__mock/health", &[], b"");
        assert_eq!(health.json()["cassettes"], 1);
        assert_eq!(health.json()["seed"], 3);
        let h = [
            ("authorization", "Bearer good-key"),
            ("content-type", "application/json"),
        ];
        let wrong = [
            ("authorization", "Bearer other"),
            ("content-type", "application/json"),
        ];
        assert_eq!(
            send(addr, "POST", NATIVE, &wrong, b"{\"model\":\"m\"}").status,
            503,
            "faults come first"
        );
        assert_eq!(
            send(addr, "POST", NATIVE, &wrong, b"{\"model\":\"m\"}").status,
            401
        );
        assert_eq!(
            send(addr, "POST", NATIVE, &h, b"{\"model\":\"m\"}").status,
            404
        );

        // The journal keeps the last two requests only (--journal-capacity 2). With --api-key,
        // the admin API needs one of the keys.
        assert_eq!(send(addr, "GET", "/__mock/journal", &[], b"").status, 401);
        let admin = [("authorization", "Bearer good-key")];
        let journal = send(addr, "GET", "/__mock/journal", &admin, b"").json();
        let entries = journal.as_array().expect("an array of entries");
        assert_eq!(entries.len(), 2, "{journal}");
        assert_eq!(entries[1]["status"], 404, "{journal}");

        // A slow stream (5 chunks 200 ms apart), then SIGTERM while it runs.
        let body = json!({"model": "slow", "stream": true}).to_string();
        let streaming = std::thread::spawn(move || send(addr, "POST", CHAT, &h, body.as_bytes()));
        std::thread::sleep(Duration::from_millis(300));
        let killed = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let raw = streaming.join().unwrap();
        assert!(raw.complete, "the open stream was cut: {:?}", raw.text());
        assert!(raw.text().ends_with("data: [DONE]\n\n"));
        let status = exit_within(&mut child, 10, "the binary did not exit");
        assert!(status.success());
        let _ = std::fs::remove_dir_all(&dir);
    });
}

#[test]
fn bad_flags_fail_fast() {
    let out = Command::new(env!("CARGO_BIN_EXE_dashscope-mock"))
        .args(["--port", "0", "--fault", "nonsense"])
        .output()
        .expect("run the binary");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid fault spec"));
    let out = Command::new(env!("CARGO_BIN_EXE_dashscope-mock"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout).into_owned();
    for flag in [
        "--host",
        "--port",
        "--fixtures",
        "--no-defaults",
        "--strict",
        "--latency",
        "--chunk-delay",
        "--speed",
        "--seed",
        "--api-key",
        "--record",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
    assert!(help.contains("8089"));
}

/// `--exit-on-stdin-eof`: the binary stops when its standard input ends (a parent holding the
/// pipe died); `--record` creates a `--fixtures` directory that does not exist yet.
#[test]
fn the_binary_stops_when_its_stdin_ends_and_record_mode_creates_its_directory() {
    within(Duration::from_secs(60), || {
        let dir =
            std::env::temp_dir().join(format!("dashscope-mock-eof-{}/new", std::process::id()));
        let mut command = Command::new(env!("CARGO_BIN_EXE_dashscope-mock"));
        command
            .args([
                "--port",
                "0",
                "--exit-on-stdin-eof",
                "--record",
                "http://127.0.0.1:9",
            ])
            .arg("--fixtures")
            .arg(&dir);
        let (mut child, _) = listening(&mut command);
        assert!(dir.is_dir(), "record mode creates its directory");
        drop(child.stdin.take());
        let status = exit_within(&mut child, 30, "still running 30 s after stdin ended");
        assert!(status.success());
        let _ = std::fs::remove_dir_all(dir.parent().unwrap());
    });
}

/// `--exit-on-stdin-eof` with the pipe still open (a parent that is alive, as the Python
/// package's `MockServer`): SIGTERM stops the binary by itself. The blocking read of standard
/// input must not keep the runtime from shutting down (it did: the parent had to SIGKILL it).
#[cfg(unix)]
#[test]
fn sigterm_stops_the_binary_while_its_stdin_is_still_open() {
    within(Duration::from_secs(60), || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_dashscope-mock"));
        command.args(["--port", "0", "--exit-on-stdin-eof"]);
        let (mut child, _) = listening(&mut command);
        let killed = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let status = exit_within(
            &mut child,
            30,
            "still running 30 s after SIGTERM, its stdin open",
        );
        // Held until here: the pipe stays open the whole time.
        drop(child.stdin.take());
        assert!(status.success(), "{status:?}");
    });
}

/// The child's exit status; panics with `stuck` if it is still running `secs` seconds on.
fn exit_within(
    child: &mut std::process::Child,
    secs: u64,
    stuck: &str,
) -> std::process::ExitStatus {
    let t = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(t.elapsed() < Duration::from_secs(secs), "{stuck}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
