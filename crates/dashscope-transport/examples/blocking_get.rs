//! Streams a response body to stdout with the blocking transport, from a plain `fn main` with
//! no async runtime.
//!
//! ```sh
//! cargo run -p dashscope-transport --no-default-features --features blocking \
//!     --example blocking_get -- http://127.0.0.1:8080/health
//! ```

use std::io::Write;

use bytes::Bytes;
use dashscope_transport::{BlockingTransport, UreqTransport};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args().nth(1).ok_or("usage: blocking_get <url>")?;
    let transport = UreqTransport::new();
    let req = http::Request::get(url).body(Bytes::new())?;
    let res = transport.send(req)?;
    eprintln!("{:?} {}", res.version(), res.status());
    for (name, value) in res.headers() {
        eprintln!("{name}: {}", value.to_str().unwrap_or("<binary>"));
    }
    let mut out = std::io::stdout().lock();
    for chunk in res.into_body() {
        out.write_all(&chunk?)?;
        out.flush()?;
    }
    Ok(())
}
