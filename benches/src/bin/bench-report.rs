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
//!
//! The end-to-end and mock groups (`loopback/…`, `mock/…`) are printed as one table each: a
//! line per parameter (consumer pattern, connection count), a column per client or server,
//! and ours against each of the others: speed (their time / ours: above 1, ours is faster;
//! for `mock/startup`, time: ours / theirs). Where the bench recorded the server's CPU per
//! request (`server-cpu/*.json`, written by `mock_throughput`), a second table gives it, with
//! the ratio ours / theirs (below 1, ours costs less).

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
    elements: Option<u64>,
    median_ns: f64,
}

/// A row's server CPU, from `server-cpu/*.json`: `(group, function, value)` → ns per request.
type ServerCpu = BTreeMap<(String, String, String), f64>;

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
                elements: bench["throughput"]["Elements"].as_u64(),
                median_ns: median,
            });
        } else {
            collect(&path, out);
        }
    }
}

/// The server CPU records under `dir/server-cpu`.
fn server_cpu(dir: &Path) -> ServerCpu {
    let mut out = ServerCpu::new();
    let Ok(entries) = std::fs::read_dir(dir.join("server-cpu")) else {
        return out;
    };
    for entry in entries.flatten() {
        let Some(v) = read_json(&entry.path()) else {
            continue;
        };
        let (Some(g), Some(f), Some(val), Some(req), Some(ns)) = (
            v["group"].as_str(),
            v["function"].as_str(),
            v["value"].as_str(),
            v["requests"].as_u64(),
            v["cpu_ns"].as_u64(),
        ) else {
            continue;
        };
        if req > 0 {
            out.insert(
                (g.to_owned(), f.to_owned(), val.to_owned()),
                ns as f64 / req as f64,
            );
        }
    }
    out
}

/// Sort key of a parameter: its leading number (`32conn`), then the text.
fn value_key(v: &Option<String>) -> (u64, String) {
    let v = v.as_deref().unwrap_or("");
    let digits: String = v.chars().take_while(char::is_ascii_digit).collect();
    (digits.parse().unwrap_or(0), v.to_owned())
}

/// Column order: ours, our other variants, then the peers by name.
fn function_key(f: &str) -> (u8, &str) {
    let rank = if is_ours(f) {
        0
    } else if f.starts_with("dashscope") {
        1
    } else {
        2
    };
    (rank, f)
}

/// Prints a Markdown table: a line per parameter, a column per function, then ours against
/// each of the others; `cell` gives a function's figure, `ratio` ours against a peer.
fn table(
    head: &str,
    values: &[&Option<String>],
    functions: &[&str],
    cell: impl Fn(&str, &Option<String>) -> Option<String>,
    ratio: impl Fn(&str, &Option<String>) -> Option<f64>,
    ratio_name: &str,
) {
    let (ours, peers) = (functions[0], &functions[1..]);
    println!("{head}\n");
    let mut cols = vec![String::new()];
    cols.extend(functions.iter().map(|f| (*f).to_owned()));
    cols.extend(peers.iter().map(|p| format!("{ours} / {p}, {ratio_name}")));
    println!("| {} |", cols.join(" | "));
    println!("|{}", "---|".repeat(cols.len()));
    for v in values {
        let mut line = vec![v.as_deref().unwrap_or("-").to_owned()];
        line.extend(functions.iter().map(|f| cell(f, v).unwrap_or_default()));
        line.extend(
            peers
                .iter()
                .map(|p| ratio(p, v).map_or_else(String::new, |r| format!("**{r:.2}x**"))),
        );
        println!("| {} |", line.join(" | "));
    }
}

/// The tables of a `loopback/…` or `mock/…` group: medians, and the server's CPU per request
/// where the bench recorded it.
fn pivot(group: &str, rows: &[Row], cpu: &ServerCpu) {
    let mut functions: Vec<&str> = rows.iter().map(|r| r.function.as_str()).collect();
    functions.sort_by_key(|f| function_key(f));
    functions.dedup();
    let mut values: Vec<&Option<String>> = rows.iter().map(|r| &r.value).collect();
    values.sort_by_key(|v| value_key(v));
    values.dedup();
    let Some(ours) = functions.first().copied().filter(|f| is_ours(f)) else {
        return;
    };
    let row = |f: &str, v: &Option<String>| {
        rows.iter()
            .find(|r| r.function == f && &r.value == v)
            .map(|r| (r.median_ns, r.elements))
    };
    let by_time = group.ends_with("/startup");
    let unit = if group.starts_with("loopback/stream") {
        "chunks"
    } else {
        "requests"
    };
    println!("\n### {group}\n");
    let head = if rows.iter().any(|r| r.elements.is_some()) {
        format!("Median time per iteration ({unit} per second in brackets).")
    } else {
        "Median time per iteration.".to_owned()
    };
    table(
        &head,
        &values,
        &functions,
        |f, v| {
            row(f, v).map(|(ns, n)| match n {
                Some(n) => format!("{} ({:.0})", human_time(ns), n as f64 / (ns / 1e9)),
                None => human_time(ns),
            })
        },
        |p, v| {
            let (o, t) = (row(ours, v)?.0, row(p, v)?.0);
            Some(if by_time { o / t } else { t / o })
        },
        if by_time { "time" } else { "speed" },
    );
    let cpu_of = |f: &str, v: &Option<String>| {
        cpu.get(&(
            group.to_owned(),
            f.to_owned(),
            v.clone().unwrap_or_default(),
        ))
        .copied()
    };
    if values
        .iter()
        .any(|v| functions.iter().any(|f| cpu_of(f, v).is_some()))
    {
        println!();
        table(
            "Server CPU per request, µs (`utime + stime` of the server process).",
            &values,
            &functions,
            |f, v| cpu_of(f, v).map(|ns| format!("{:.1}", ns / 1e3)),
            |p, v| Some(cpu_of(ours, v)? / cpu_of(p, v)?),
            "CPU",
        );
    }
}

fn mib_per_s(bytes: u64, ns: f64) -> f64 {
    bytes as f64 / (ns / 1e9) / (1024.0 * 1024.0)
}

fn human_time(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
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
    let cpu = server_cpu(&dir);
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
        if group.starts_with("loopback/") || group.starts_with("mock/") {
            pivot(group, rows, &cpu);
            continue;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_put_ours_first_and_lines_sort_connection_counts_by_number() {
        let mut f = [
            "wiremock",
            "bare-axum",
            "dashscope-nosnap",
            "async-openai",
            "dashscope",
        ];
        f.sort_by_key(|f| function_key(f));
        assert_eq!(
            f,
            [
                "dashscope",
                "dashscope-nosnap",
                "async-openai",
                "bare-axum",
                "wiremock"
            ]
        );
        let mut v: Vec<Option<String>> = ["256conn", "1conn", "32conn"]
            .map(|s| Some(s.to_owned()))
            .to_vec();
        v.sort_by_key(value_key);
        assert_eq!(
            v,
            ["1conn", "32conn", "256conn"].map(|s| Some(s.to_owned()))
        );
    }

    #[test]
    fn server_cpu_records_are_read_per_request() {
        let dir = std::env::temp_dir().join(format!("bench-report-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("server-cpu")).expect("temp dir");
        let record = r#"{"group":"mock/unary","function":"wiremock","value":"32conn","requests":4,"cpu_ns":2000}"#;
        std::fs::write(dir.join("server-cpu/a.json"), record).expect("write");
        let cpu = server_cpu(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        let key = ("mock/unary".into(), "wiremock".into(), "32conn".into());
        assert_eq!(cpu.get(&key), Some(&500.0));
    }
}
