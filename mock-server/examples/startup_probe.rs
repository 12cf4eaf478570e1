use std::io::{Read, Write};
use std::time::{Duration, Instant};

const BODY: &str = r#"{"model":"qwen-plus","messages":[{"role":"user","content":"Hello!"}]}"#;

fn post(addr: std::net::SocketAddr) {
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.set_nodelay(true).unwrap();
    let head = format!(
        "POST /compatible-mode/v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\nauthorization: Bearer sk-bench\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        BODY.len()
    );
    tcp.write_all(head.as_bytes()).unwrap();
    tcp.write_all(BODY.as_bytes()).unwrap();
    let mut a = Vec::new();
    tcp.read_to_end(&mut a).unwrap();
    assert!(a.starts_with(b"HTTP/1.1 200"));
}

fn main() {
    let n = 300;
    let (mut build, mut start, mut req, mut drop_t, mut second) = (
        Duration::ZERO,
        Duration::ZERO,
        Duration::ZERO,
        Duration::ZERO,
        Duration::ZERO,
    );
    for i in 0..n + 20 {
        let t0 = Instant::now();
        let b = dashscope_mock::MockServer::builder();
        let state = b.build_state().unwrap();
        let t1 = Instant::now();
        drop(state);
        let t1b = Instant::now();
        let s = dashscope_mock::MockServer::builder().start().unwrap();
        let t2 = Instant::now();
        post(s.address());
        let t3a = Instant::now();
        post(s.address());
        let t3 = Instant::now();
        drop(s);
        let t4 = Instant::now();
        if i >= 20 {
            build += t1 - t0;
            start += t2 - t1b;
            req += t3a - t2;
            second += t3 - t3a;
            drop_t += t4 - t3;
        }
    }
    let per = |d: Duration| d / n;
    println!(
        "build_state {:?} start {:?} request {:?} second {:?} drop {:?}",
        per(build),
        per(start),
        per(req),
        per(second),
        per(drop_t)
    );
}
