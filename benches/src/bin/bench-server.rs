//! One server of the `mock_throughput` bench, in its own process so that the bench can read
//! the server's CPU time from `/proc/<pid>/stat` without counting the load generator's.
//!
//! ```sh
//! bench-server <mock|axum|axum-frames|wiremock> [PORT]
//! ```
//!
//! Serves [`Answers::compat`]`(200)` on `127.0.0.1:PORT` (default 0: any free port), prints
//! `port <N>` on stdout once it accepts, and stops when its stdin closes (so it never outlives
//! the bench that started it).
//!
//! * `mock`: `dashscope-mock` as a test starts it, at speed 0 (2-worker runtime), with the
//!   stream cassette added ([`serve::start_mock`]).
//! * `axum`: the bare axum server (2-worker runtime, like the mock), the stream as one body
//!   ([`Delivery::Whole`]).
//! * `axum-frames`: the same, the stream as one HTTP chunk per event, all ready at once: the
//!   mock's body shape ([`Delivery::Frames`]).
//! * `wiremock`: wiremock-rs as it ships (its server thread runs a current-thread runtime),
//!   the stream as one body.

use std::io::{Read as _, Write as _};
use std::process::ExitCode;

use dashscope_benches::serve::{self, Answers, BareServer, Delivery};

/// Stream chunks per answer.
const CHUNKS: usize = 200;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let kind = args.next().unwrap_or_default();
    let port: u16 = match args.next().map(|p| p.parse()) {
        None => 0,
        Some(Ok(p)) => p,
        Some(Err(e)) => {
            eprintln!("bench-server: bad port: {e}");
            return ExitCode::from(2);
        }
    };
    let answers = Answers::compat(CHUNKS);
    // Each arm keeps its server alive until stdin closes.
    match kind.as_str() {
        "mock" => {
            let mock = serve::start_mock(&answers, port);
            ready(mock.address().port());
            drop(mock);
        }
        "axum" | "axum-frames" => {
            let delivery = if kind == "axum" {
                Delivery::Whole
            } else {
                Delivery::Frames
            };
            let server = BareServer::start(answers, delivery, 2, port);
            ready(server.addr().port());
            drop(server);
        }
        "wiremock" => {
            // wiremock-rs starts from an async context; its server runs on its own thread.
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let server = rt.block_on(async {
                let listener =
                    std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind 127.0.0.1");
                let server = wiremock::MockServer::builder()
                    .listener(listener)
                    .start()
                    .await;
                serve::stream_mock(&answers).mount(&server).await;
                serve::unary_mock(&answers).mount(&server).await;
                server
            });
            ready(server.address().port());
            rt.block_on(async move { drop(server) });
        }
        _ => {
            eprintln!("usage: bench-server <mock|axum|axum-frames|wiremock> [PORT]");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}

/// Announces the port, then blocks until stdin closes.
fn ready(port: u16) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "port {port}");
    let _ = out.flush();
    drop(out);
    let _ = std::io::stdin().lock().read_to_end(&mut Vec::new());
}
