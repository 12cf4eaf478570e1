//! The blocking backend alone must not pull in tokio: runs `cargo tree` on the crate built with
//! `--no-default-features --features blocking` and checks its normal dependencies.

use std::process::Command;

#[test]
fn blocking_only_tree_has_no_tokio() {
    let output = Command::new(env!("CARGO"))
        .args([
            "tree",
            "-p",
            "dashscope-transport",
            "--no-default-features",
            "--features",
            "blocking",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo tree");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "cargo tree failed: {stderr}");
    let crates: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    // The command really listed the blocking backend's tree.
    assert!(
        crates.contains(&"dashscope-transport"),
        "unexpected output: {stdout}"
    );
    assert!(
        crates.contains(&"ureq"),
        "ureq missing from the blocking tree: {stdout}"
    );
    let tokio: Vec<&&str> = crates.iter().filter(|c| c.starts_with("tokio")).collect();
    assert!(
        tokio.is_empty(),
        "the blocking-only tree has {tokio:?}:\n{stdout}"
    );
    assert!(
        !crates.contains(&"reqwest") && !crates.contains(&"hyper"),
        "{stdout}"
    );
}
