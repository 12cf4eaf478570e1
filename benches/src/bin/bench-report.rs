//! Prints the results of the last `cargo bench -p dashscope-benches` run as Markdown tables with
//! the ratios BENCHMARKS.md reports.
//!
//! ```sh
//! cargo run --release -p dashscope-benches --bin bench-report [-- <criterion dir>]
//! ```
//!
//! It reads criterion's `new/benchmark.json` and `new/estimates.json` under the criterion
//! directory (default `target/criterion`, or `$CARGO_TARGET_DIR/criterion`) and uses the median.
//! Events per second come from the event counts of the (deterministic) workloads.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use dashscope_benches::streams::{Dialect, StreamWorkload};
use serde_json::Value;

/// One measured benchmark.
struct Row {
    function: String,
    value: Option<String>,
    bytes: Option<u64>,
    median_ns: f64,
}

fn read_json(path: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

/// Every `new/benchmark.json` under `dir`, grouped by criterion group id.
fn collect(dir: &Path, out: &mut BTreeMap<String, Vec<Row>>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        if path.file_name().is_some_and(|n| n == "new") {
            let (Some(bench), Some(est)) = (
                read_json(&path.join("benchmark.json")),
                read_json(&path.join("estimates.json")),
            ) else {
                continue;
            };
            let (Some(group), Some(function), Some(median)) = (
                bench["group_id"].as_str(),
                bench["function_id"].as_str(),
                est["median"]["point_estimate"].as_f64(),
            ) else {
                continue;
            };
            out.entry(group.to_owned()).or_default().push(Row {
                function: function.to_owned(),
                value: bench["value_str"].as_str().map(str::to_owned),
                bytes: bench["throughput"]["Bytes"].as_u64(),
                median_ns: median,
            });
        } else {
            collect(&path, out);
        }
    }
}

fn mib_per_s(bytes: u64, ns: f64) -> f64 {
    bytes as f64 / (ns / 1e9) / (1024.0 * 1024.0)
}

fn human_time(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

/// The row the others are compared with: our client or pipeline, or the mock server as
/// configured by default.
fn is_ours(function: &str) -> bool {
    function == "dashscope" || function == "dashscope-mock"
}

fn main() -> ExitCode {
    let dir = std::env::args().nth(1).map_or_else(
        || {
            std::env::var_os("CARGO_TARGET_DIR")
                .map_or_else(|| PathBuf::from("target"), PathBuf::from)
                .join("criterion")
        },
        PathBuf::from,
    );
    let mut groups = BTreeMap::new();
    collect(&dir, &mut groups);
    if groups.is_empty() {
        eprintln!(
            "no criterion results under {}: run `cargo bench -p dashscope-benches` first",
            dir.display()
        );
        return ExitCode::FAILURE;
    }
    let events: BTreeMap<String, usize> = Dialect::ALL
        .iter()
        .map(|d| {
            (
                format!("stream_parse/{}", d.name()),
                StreamWorkload::standard(*d).events,
            )
        })
        .collect();

    for (group, rows) in &mut groups {
        rows.sort_by(|a, b| (&a.value, &a.function).cmp(&(&b.value, &b.function)));
        let n_events = events.get(group.as_str()).copied();
        println!("\n### {group}\n");
        if n_events.is_some() {
            println!("| bench | piece | median | MiB/s | events/s | their time / ours |");
            println!("|---|---|---|---|---|---|");
        } else {
            println!("| bench | payload | median | MiB/s | their time / ours |");
            println!("|---|---|---|---|---|");
        }
        for row in rows.iter() {
            let ours = rows
                .iter()
                .find(|r| is_ours(&r.function) && r.value == row.value)
                .map(|r| r.median_ns);
            // > 1: we are faster than this row by that factor.
            let ratio = match ours {
                Some(o) if !is_ours(&row.function) => format!("{:.2}x", row.median_ns / o),
                _ => "1".to_owned(),
            };
            let thrpt = row.bytes.map_or_else(
                || "-".to_owned(),
                |b| format!("{:.1}", mib_per_s(b, row.median_ns)),
            );
            let value = row.value.as_deref().unwrap_or("-");
            match n_events {
                Some(n) => println!(
                    "| {} | {value} | {} | {thrpt} | {:.0} | {ratio} |",
                    row.function,
                    human_time(row.median_ns),
                    n as f64 / (row.median_ns / 1e9)
                ),
                None => println!(
                    "| {} | {value} | {} | {thrpt} | {ratio} |",
                    row.function,
                    human_time(row.median_ns)
                ),
            }
        }
    }

    // Per-byte comparison of the dialects' streaming parse with compat.
    let compat = groups.get("stream_parse/compat");
    if let Some(compat) = compat {
        println!("\n### stream_parse per byte, relative to compat (dashscope)\n");
        println!("| dialect | piece | MiB/s | compat MiB/s | compat / dialect |");
        println!("|---|---|---|---|---|");
        for d in [Dialect::Native, Dialect::Responses] {
            let Some(rows) = groups.get(&format!("stream_parse/{}", d.name())) else {
                continue;
            };
            for row in rows.iter().filter(|r| r.function == "dashscope") {
                let base = compat
                    .iter()
                    .find(|r| r.function == "dashscope" && r.value == row.value);
                if let (Some(base), Some(b), Some(bb)) =
                    (base, row.bytes, base.and_then(|r| r.bytes))
                {
                    let (ours, theirs) =
                        (mib_per_s(b, row.median_ns), mib_per_s(bb, base.median_ns));
                    println!(
                        "| {} | {} | {ours:.1} | {theirs:.1} | {:.2}x |",
                        d.name(),
                        row.value.as_deref().unwrap_or("-"),
                        theirs / ours
                    );
                }
            }
        }
    }
    ExitCode::SUCCESS
}
