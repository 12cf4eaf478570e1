//! A tiny hostile HTTP server on raw TCP: it reads a request, then writes whatever bytes a
//! scenario says, as slowly or as endlessly as it likes, each connection on its own thread.
//! Every scenario is bounded (a byte budget or a deadline), so a client that fails to stop it
//! cannot take the test machine down.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The head of a chunked `200 text/event-stream` response.
pub const STREAM_HEAD: &str = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
                               transfer-encoding: chunked\r\nx-request-id: hostile-1\r\n\r\n";

/// A good Chat Completions chunk saying `Hel`.
pub const GOOD_CHAT_EVENT: &str = "data: {\"id\":\"chatcmpl-h\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n";

/// How long any scenario may keep a connection busy.
pub const SCENARIO_LIMIT: Duration = Duration::from_secs(60);

/// What a scenario can do with its connection.
pub struct Conn {
    stream: TcpStream,
    sent: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    started: Instant,
}

impl Conn {
    /// Writes `bytes` raw. `Err` once the client has gone (or the server is stopping).
    pub fn raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if self.stop.load(Ordering::Relaxed) || self.started.elapsed() > SCENARIO_LIMIT {
            return Err(std::io::Error::other("the scenario is over"));
        }
        self.stream.write_all(bytes)?;
        self.sent.fetch_add(
            u64::try_from(bytes.len()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        Ok(())
    }

    /// Writes `bytes` as one chunk of a chunked body.
    pub fn chunk(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let mut frame = format!("{:x}\r\n", bytes.len()).into_bytes();
        frame.extend_from_slice(bytes);
        frame.extend_from_slice(b"\r\n");
        self.raw(&frame)
    }

    /// Keeps the connection open, writing nothing, until the client hangs up or the scenario
    /// limit passes.
    pub fn hold(&mut self) {
        let _ = self
            .stream
            .set_read_timeout(Some(Duration::from_millis(100)));
        let mut buf = [0u8; 1024];
        while !self.stop.load(Ordering::Relaxed) && self.started.elapsed() < SCENARIO_LIMIT {
            match self.stream.read(&mut buf) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return,
            }
        }
    }
}

/// A running hostile server; dropping it stops it.
pub struct Hostile {
    addr: SocketAddr,
    sent: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Hostile {
    /// Starts a server that reads each request and hands the connection to `scenario`.
    pub fn start(scenario: impl Fn(&mut Conn) + Send + Sync + 'static) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let addr = listener.local_addr().expect("the address");
        let sent = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let scenario = Arc::new(scenario);
        let (s, st) = (sent.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("hostile-server".into())
            .spawn(move || {
                let mut conns = Vec::new();
                while !st.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let (scenario, sent, stop) = (scenario.clone(), s.clone(), st.clone());
                            conns.push(std::thread::spawn(move || {
                                let _ = stream.set_nonblocking(false);
                                let mut conn = Conn {
                                    stream,
                                    sent,
                                    stop,
                                    started: Instant::now(),
                                };
                                if read_request(&mut conn.stream) {
                                    scenario(&mut conn);
                                }
                            }));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
                for c in conns {
                    let _ = c.join();
                }
            })
            .expect("the server thread");
        Hostile {
            addr,
            sent,
            stop,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn uri(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many bytes the scenarios have written so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads one request: the head, then `content-length` bytes. `false` if the client went away.
fn read_request(stream: &mut TcpStream) -> bool {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut tmp) {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut have = buf.len() - head_end;
    while have < len {
        match stream.read(&mut tmp) {
            Ok(0) | Err(_) => return false,
            Ok(n) => have += n,
        }
    }
    true
}
