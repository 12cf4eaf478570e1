//! The `dashscope-mock` binary: serves the embedded fixtures (plus `--fixtures` directories)
//! on `127.0.0.1:8089` by default, and answers the rest synthetically (unless `--strict`).
//!
//! ```sh
//! cargo run -p dashscope-mock -- --port 8089
//! # dashscope-mock listening on http://127.0.0.1:8089
//! ```
//!
//! Limits (see `--help`): request bodies (413 `BadRequest.TooLarge` in the request's dialect),
//! a body-read timeout (408), a budget of bytes for all requests in flight, request heads and
//! header counts (431), a header-read timeout for slow and idle connections, a cap on
//! connections, byte bounds on the journal and the stored responses. SIGTERM or Ctrl-C stops
//! accepting at once and lets open streams finish for `--shutdown-grace` seconds (default 10)
//! before cutting them; a second signal cuts them at once.
//!
//! The admin API (`/__mock/`) refuses cross-origin and DNS-rebinding requests, writes without
//! `Content-Type: application/json`, and, when `--api-key` or `--admin-key` is given, requests
//! without the key. Binding an address other than a loopback one prints a warning.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use dashscope_mock::{BuildError, Limits, MockServer, MockState, Synthetic, serve};
use tokio::io::AsyncReadExt as _;
use tokio::net::TcpListener;

/// The default port.
const DEFAULT_PORT: u16 = 8089;

/// A mock DashScope (Model Studio) server: replays recorded fixtures byte for byte, answers
/// other requests with deterministic synthetic answers, injects faults, keeps a journal
/// (admin API under /__mock/).
#[derive(Parser)]
#[command(name = "dashscope-mock", version, about, long_about = None)]
struct Args {
    /// The address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// The port to bind (0: any free port; the URL printed says which).
    #[arg(long, default_value_t = DEFAULT_PORT)]
    port: u16,
    /// A directory of cassettes (*.json, recursively) to load besides the embedded ones;
    /// repeatable. In record mode the first one receives the recorded cassettes.
    #[arg(long = "fixtures", value_name = "DIR")]
    fixtures: Vec<PathBuf>,
    /// Do not load the embedded fixtures.
    #[arg(long)]
    no_defaults: bool,
    /// Answer unmatched requests with a 404 listing the nearest cassettes.
    #[arg(long)]
    strict: bool,
    /// Delay every response by MS milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    latency: u64,
    /// Add MS milliseconds before every chunk after the first.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    chunk_delay: u64,
    /// Replay recorded chunk delays at FACTOR times the speed (0: no recorded delays).
    #[arg(long, value_name = "FACTOR", default_value_t = 1.0)]
    speed: f64,
    /// Seed for request ids and synthetic answers (default: from the clock).
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// An accepted API key; repeatable. Default: any non-empty Bearer key. Once given, the
    /// admin API (/__mock/, except health) needs one too.
    #[arg(long = "api-key", value_name = "KEY")]
    api_keys: Vec<String>,
    /// The Bearer key the admin API (/__mock/, except health) needs, instead of an --api-key.
    #[arg(long, value_name = "KEY")]
    admin_key: Option<String>,
    /// Record mode: forward every request to UPSTREAM (e.g. https://dashscope.aliyuncs.com)
    /// and write scrubbed cassettes (into the first --fixtures DIR, else ./recorded).
    #[arg(long, value_name = "UPSTREAM")]
    record: Option<String>,
    /// A global fault in the x-mock-fault grammar (e.g. "status=503;times=2"); repeatable.
    #[arg(long = "fault", value_name = "SPEC")]
    faults: Vec<String>,
    /// A model name the synthetic responder accepts (`*` matches any run of characters);
    /// repeatable, replaces the default list (qwen*, qwq*, qvq*, deepseek*, kimi*, moonshot*,
    /// glm*, chatglm*, minimax*, abab*, llama*, baichuan*, yi-*, farui*, tongyi*, gui-*).
    /// `--model '*'` accepts any name.
    #[arg(long = "model", value_name = "PATTERN")]
    models: Vec<String>,
    /// Reject request bodies over BYTES with 413 BadRequest.TooLarge, in the request's dialect
    /// (default 16 MiB).
    #[arg(long, value_name = "BYTES")]
    max_body_bytes: Option<usize>,
    /// Answer 408 to a request whose body has not all arrived MS milliseconds after its head.
    /// 0: no limit.
    #[arg(long, value_name = "MS", default_value_t = ms(Limits::default().body_read_timeout))]
    body_read_timeout: u64,
    /// The bytes all requests in flight may hold together: their bodies, and what parsing them
    /// as JSON costs (at least twice --max-body-bytes). Requests wait for their share; one whose
    /// body alone costs more gets 413.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_inflight_bytes)]
    max_inflight_bytes: usize,
    /// Keep at most about BYTES of stored Responses (GET /responses/{id}, previous_response_id);
    /// the oldest go first.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().store_max_bytes)]
    store_max_bytes: usize,
    /// Answer a request head (request line and headers) over BYTES with 431 and close the
    /// connection.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_header_bytes)]
    max_header_bytes: usize,
    /// Answer a request with more than N header fields with 431 and close the connection.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_headers)]
    max_headers: usize,
    /// Close a connection that does not send a complete request head within MS milliseconds
    /// (slow clients; idle keep-alive connections too). 0: no limit.
    #[arg(long, value_name = "MS", default_value_t = ms(Limits::default().header_read_timeout))]
    header_read_timeout: u64,
    /// Serve at most N connections at once; more wait in the listen backlog until one closes.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_connections)]
    max_connections: usize,
    /// On Ctrl-C / SIGTERM: stop accepting at once, let open requests and streams finish for
    /// at most SECS seconds, then cut them. A second signal cuts them at once.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    shutdown_grace: u64,
    /// Keep at most N requests in the journal (`/__mock/journal`; default 100000, at least 1).
    #[arg(long, value_name = "N")]
    journal_capacity: Option<usize>,
    /// Keep at most about BYTES of requests in the journal (default 64 MiB); the oldest go first.
    #[arg(long, value_name = "BYTES")]
    journal_max_bytes: Option<usize>,
    /// Stop (as on SIGTERM) when standard input reaches its end: a parent that starts the mock
    /// with a pipe on its stdin takes the mock down with it, even when killed.
    #[arg(long)]
    exit_on_stdin_eof: bool,
}

/// A timeout in milliseconds (0: none).
fn ms(d: Option<Duration>) -> u64 {
    d.map_or(0, |d| d.as_millis() as u64)
}

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("dashscope_mock=info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();

    let args = Args::parse();
    let mut limits = Limits::default();
    let timeout = |ms: u64| (ms > 0).then(|| Duration::from_millis(ms));
    limits.body_read_timeout = timeout(args.body_read_timeout);
    limits.max_inflight_bytes = args.max_inflight_bytes;
    limits.store_max_bytes = args.store_max_bytes;
    limits.max_header_bytes = args.max_header_bytes;
    limits.max_headers = args.max_headers;
    limits.header_read_timeout = timeout(args.header_read_timeout);
    limits.max_connections = args.max_connections;
    limits.shutdown_grace = Duration::from_secs(args.shutdown_grace);
    limits.max_body_bytes = args.max_body_bytes.unwrap_or(limits.max_body_bytes);
    limits.journal_capacity = args.journal_capacity.unwrap_or(limits.journal_capacity);
    limits.journal_max_bytes = args.journal_max_bytes.unwrap_or(limits.journal_max_bytes);
    let mut builder = MockServer::builder()
        .defaults(!args.no_defaults)
        .strict(args.strict)
        .latency(Duration::from_millis(args.latency))
        .chunk_delay(Duration::from_millis(args.chunk_delay))
        .speed(args.speed)
        .limits(limits.clone());
    for dir in &args.fixtures {
        builder = builder.fixtures_dir(dir);
    }
    if let Some(seed) = args.seed {
        builder = builder.seed(seed);
    }
    let keyed = !args.api_keys.is_empty() || args.admin_key.is_some();
    for key in args.api_keys {
        builder = builder.api_key(key);
    }
    for spec in args.faults {
        builder = builder.fault(spec);
    }
    if !args.models.is_empty() {
        builder = builder.responder(Synthetic::models(args.models));
    }
    if let Some(key) = args.admin_key {
        builder = builder.admin_key(key);
    }
    if let Some(upstream) = &args.record {
        let dir = args.fixtures.first().cloned();
        builder = builder.record(upstream.clone(), dir.unwrap_or_else(|| "recorded".into()));
    }
    let state = match builder.build_state() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("dashscope-mock: {e}");
            // A flag's value out of range is a usage error, as clap's own.
            let usage = matches!(e, BuildError::Config(_) | BuildError::Fault(_));
            return ExitCode::from(if usage { 2 } else { 1 });
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("dashscope-mock: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let served = runtime.block_on(run(
        &args.host,
        args.port,
        state,
        limits,
        keyed,
        args.exit_on_stdin_eof,
    ));
    // The connections are drained and every cassette written (record mode writes one before
    // the answer's last bytes). What may still run is the blocking read of standard input
    // (`--exit-on-stdin-eof`), which never returns while the parent holds the pipe open, so a
    // plain runtime drop would wait for it forever: leave it behind.
    runtime.shutdown_background();
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dashscope-mock: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(
    host: &str,
    port: u16,
    state: MockState,
    limits: Limits,
    keyed: bool,
    stdin: bool,
) -> std::io::Result<()> {
    let listener = TcpListener::bind((host, port)).await?;
    let addr = listener.local_addr()?;
    if !addr.ip().is_loopback() {
        let admin = if keyed {
            "the admin API needs a key"
        } else {
            "the admin API (/__mock/) is open to anyone who can reach it: give --api-key or --admin-key"
        };
        eprintln!(
            "dashscope-mock: warning: listening on {addr}, not a loopback address: other machines can reach this mock; {admin}"
        );
    }
    // Listening for the signals before the URL shows: a signal sent as soon as a parent reads
    // the URL stops the server gracefully instead of killing it.
    let mut stop = Stop::listen()?;
    println!("dashscope-mock listening on http://{addr}");

    let grace = limits.shutdown_grace;
    let (first_tx, first_rx) = tokio::sync::oneshot::channel::<()>();
    let (second_tx, second_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        tokio::select! {
            () = stop.next() => {}
            () = stdin_eof(stdin) => {}
        }
        tracing::info!(
            "shutting down: no new connections; open requests have {}s to finish",
            grace.as_secs_f64()
        );
        let _ = first_tx.send(());
        stop.next().await;
        let _ = second_tx.send(());
    });
    let serving = serve(listener, state, limits, async move {
        let _ = first_rx.await;
    });
    // Shutting down, within the grace period; a second signal cuts what is open now.
    tokio::select! {
        r = serving => r,
        Ok(()) = second_rx => {
            tracing::warn!("second signal: cutting open connections now");
            Ok(())
        }
    }
}

/// Ctrl-C and SIGTERM, listened to from when it is made.
struct Stop {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl Stop {
    fn listen() -> std::io::Result<Stop> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Stop {
                terminate: signal(SignalKind::terminate())?,
                interrupt: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Stop {})
    }

    /// The next Ctrl-C or SIGTERM.
    async fn next(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.terminate.recv() => {}
            _ = self.interrupt.recv() => {}
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// The end of standard input, with `--exit-on-stdin-eof`; never without.
async fn stdin_eof(enabled: bool) {
    if !enabled {
        return std::future::pending().await;
    }
    let mut input = tokio::io::stdin();
    let mut buf = [0u8; 1024];
    while input.read(&mut buf).await.is_ok_and(|n| n > 0) {}
    tracing::info!("standard input ended");
}
