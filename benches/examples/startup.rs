//! The mock's start-up as a test suite pays it, phase by phase: `MockServer::start()`, one
//! non-stream request (a blocking socket, `Connection: close`), drop; N times in a row. Prints,
//! per block of iterations, the median of each phase and the sockets in TIME_WAIT at the
//! block's end (from `/proc/net/tcp`), so the cost can be told apart from the state of the
//! machine's port space, which thousands of closed connections a minute fill.
//!
//! ```sh
//! cargo run --release -p dashscope-benches --example startup -- 20000 2000   # iterations, block
//! ```

use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const BODY: &str = r#"{"model":"qwen-plus","messages":[{"role":"user","content":"Hello!"}]}"#;

fn post(addr: SocketAddr) {
    let mut tcp = std::net::TcpStream::connect(addr).expect("connect to 127.0.0.1");
    tcp.set_nodelay(true).expect("nodelay");
    let head = format!(
        "POST /compatible-mode/v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\n\
         content-type: application/json\r\nauthorization: Bearer sk-bench\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        BODY.len()
    );
    tcp.write_all(head.as_bytes()).expect("write request");
    tcp.write_all(BODY.as_bytes()).expect("write request");
    let mut answer = Vec::new();
    tcp.read_to_end(&mut answer).expect("read answer");
    assert!(answer.starts_with(b"HTTP/1.1 200"), "not a 200");
}

/// Sockets in TIME_WAIT (state 06) in `/proc/net/tcp` and `/proc/net/tcp6`.
fn time_wait() -> usize {
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|t| {
            t.lines()
                .skip(1)
                .filter(|l| l.split_whitespace().nth(3) == Some("06"))
                .count()
        })
        .sum()
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let total: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let block: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2_000);
    println!("| iterations | start | request | drop | total | TIME_WAIT after |");
    println!("|---|---|---|---|---|---|");
    let mut done = 0;
    while done < total {
        let n = block.min(total - done);
        let (mut start, mut request, mut stop, mut all) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..n {
            let t0 = Instant::now();
            let mock = dashscope_mock::MockServer::start();
            let t1 = Instant::now();
            post(mock.address());
            let t2 = Instant::now();
            drop(mock);
            let t3 = Instant::now();
            start.push(t1 - t0);
            request.push(t2 - t1);
            stop.push(t3 - t2);
            all.push(t3 - t0);
        }
        println!(
            "| {}–{} | {:?} | {:?} | {:?} | {:?} | {} |",
            done + 1,
            done + n,
            median(&mut start),
            median(&mut request),
            median(&mut stop),
            median(&mut all),
            time_wait()
        );
        done += n;
    }
}
