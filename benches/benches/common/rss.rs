//! Resident memory: `VmRSS` / `VmHWM` from `/proc`, and a sampler, for the memory example and
//! the throughput bench.

#![allow(dead_code)] // each user needs a different part

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// `VmRSS` and `VmHWM` of this process, in KiB (0 where unreadable).
pub fn rss_kib() -> (u64, u64) {
    rss_of("/proc/self/status")
}

/// `VmRSS` and `VmHWM` from a `/proc/<pid>/status` file, in KiB (0 where unreadable).
pub fn rss_of(path: &str) -> (u64, u64) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Samples `VmRSS` every 10 ms on a thread until dropped; keeps the peak and the samples.
pub struct RssSampler {
    peak: Arc<AtomicU64>,
    samples: Arc<std::sync::Mutex<Vec<u64>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl RssSampler {
    /// Starts sampling.
    pub fn start() -> RssSampler {
        let peak = Arc::new(AtomicU64::new(0));
        let samples = Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (p, s, st) = (peak.clone(), samples.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                let (rss, _) = rss_kib();
                p.fetch_max(rss, Ordering::Relaxed);
                if let Ok(mut v) = s.lock() {
                    v.push(rss);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        RssSampler {
            peak,
            samples,
            stop,
            thread: Some(thread),
        }
    }

    /// Stops sampling: `(peak KiB, samples)`.
    pub fn finish(mut self) -> (u64, Vec<u64>) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let samples = self.samples.lock().map(|v| v.clone()).unwrap_or_default();
        (self.peak.load(Ordering::Relaxed), samples)
    }
}
