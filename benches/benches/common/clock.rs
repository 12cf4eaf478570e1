//! The clock the benches measure with, chosen at run time.
//!
//! `DASHSCOPE_BENCH_CLOCK=cpu` measures the benchmark thread's CPU time
//! (`CLOCK_THREAD_CPUTIME_ID`) instead of wall-clock time. The benches are single-threaded and
//! never block, so on an idle machine both clocks agree; on a shared machine (CI, or other
//! builds running) CPU time leaves out the time the thread spent descheduled, which otherwise
//! dominates the noise.

use std::time::Duration;

use criterion::Criterion;
use criterion::measurement::{Measurement, ValueFormatter, WallTime};

/// The wall clock, kept for its formatter (nanoseconds, the same units and throughput scaling).
static WALL: WallTime = WallTime;

/// The benchmark thread's CPU time.
pub struct ThreadCpuTime;

impl Measurement for ThreadCpuTime {
    type Intermediate = cpu_time::ThreadTime;
    type Value = Duration;

    fn start(&self) -> Self::Intermediate {
        cpu_time::ThreadTime::now()
    }

    fn end(&self, start: Self::Intermediate) -> Self::Value {
        start.elapsed()
    }

    fn add(&self, a: &Self::Value, b: &Self::Value) -> Self::Value {
        *a + *b
    }

    fn zero(&self) -> Self::Value {
        Duration::ZERO
    }

    fn to_f64(&self, value: &Self::Value) -> f64 {
        value.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        WALL.formatter()
    }
}

/// Whether `DASHSCOPE_BENCH_CLOCK=cpu` asks for CPU time.
pub fn use_cpu_time() -> bool {
    std::env::var("DASHSCOPE_BENCH_CLOCK").is_ok_and(|v| v.eq_ignore_ascii_case("cpu"))
}

/// Defines `main`: runs `targets` with the chosen clock, `samples` samples per benchmark, and
/// the warm-up and measurement times (seconds) as defaults the command line may override.
macro_rules! bench_main {
    ($samples:expr, $warm_up:expr, $measurement:expr; $($target:path),+ $(,)?) => {
        fn main() {
            let (samples, warm_up, measurement) = (
                $samples,
                std::time::Duration::from_secs($warm_up),
                std::time::Duration::from_secs($measurement),
            );
            if clock::use_cpu_time() {
                let mut c = clock::settings(
                    criterion::Criterion::default().with_measurement(clock::ThreadCpuTime),
                    samples,
                    warm_up,
                    measurement,
                )
                .configure_from_args();
                $( $target(&mut c); )+
                c.final_summary();
            } else {
                let mut c =
                    clock::settings(criterion::Criterion::default(), samples, warm_up, measurement)
                        .configure_from_args();
                $( $target(&mut c); )+
                c.final_summary();
            }
        }
    };
}
pub(crate) use bench_main;

/// Applies the benches' default settings (the command line may override them).
pub fn settings<M: Measurement>(
    c: Criterion<M>,
    samples: usize,
    warm_up: Duration,
    measurement: Duration,
) -> Criterion<M> {
    c.sample_size(samples)
        .warm_up_time(warm_up)
        .measurement_time(measurement)
}
