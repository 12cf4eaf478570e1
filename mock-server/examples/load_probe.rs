//! Temporary: keep-alive load against ADDR for N requests over C connections.
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};

const UNARY: &str = r#"{"model":"qwen-plus","messages":[{"role":"user","content":"Hello!"}]}"#;
const STREAM: &str =
    r#"{"model":"qwen-plus","messages":[{"role":"user","content":"Hello!"}],"stream":true}"#;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let addr: std::net::SocketAddr = args[1].parse().unwrap();
    let n: usize = args[2].parse().unwrap();
    let conns: usize = args[3].parse().unwrap();
    let body = if args.get(4).is_some_and(|a| a == "stream") {
        STREAM
    } else {
        UNARY
    };
    let t = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..conns {
        set.spawn(async move {
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            tcp.set_nodelay(true).unwrap();
            let (mut send, conn) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
                    .await
                    .unwrap();
            tokio::spawn(conn);
            for _ in 0..n / conns {
                send.ready().await.unwrap();
                let req = http::Request::post("/compatible-mode/v1/chat/completions")
                    .header("host", "127.0.0.1")
                    .header("content-type", "application/json")
                    .header("authorization", "Bearer sk-bench")
                    .body(Full::new(Bytes::from_static(body.as_bytes())))
                    .unwrap();
                let resp = send.send_request(req).await.unwrap();
                assert_eq!(resp.status(), 200);
                let _ = resp.into_body().collect().await.unwrap();
            }
        });
    }
    while set.join_next().await.is_some() {}
    println!("{} req/s", n as f64 / t.elapsed().as_secs_f64());
}
