//! Release checks: the docs build without warnings, and the packages work as published.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{cargo, cargo_in, run};

/// The crates published to crates.io, in dependency order.
const PUBLISHED: [&str; 4] = [
    "dashscope-protocol",
    "dashscope-transport",
    "dashscope-mock",
    "dashscope-provider",
];

/// `cargo doc` with `-D warnings` for default and all features, then as docs.rs builds the
/// published crates (all features, `--cfg docsrs`: the `doc(cfg)` badges; `RUSTC_BOOTSTRAP`
/// lets the stable toolchain take the nightly attribute docs.rs uses).
pub fn docs() -> Result<(), String> {
    let deny = [("RUSTDOCFLAGS", "-D warnings")];
    cargo_in(None, &["doc", "--no-deps", "--workspace"], &deny)?;
    cargo_in(
        None,
        &["doc", "--no-deps", "--workspace", "--all-features"],
        &deny,
    )?;
    let mut args = vec!["doc", "--no-deps", "--all-features"];
    for name in PUBLISHED {
        args.extend(["-p", name]);
    }
    cargo_in(
        None,
        &args,
        &[
            ("RUSTDOCFLAGS", "-D warnings --cfg docsrs"),
            ("RUSTC_BOOTSTRAP", "1"),
        ],
    )
}

/// `cargo publish --dry-run --workspace` (packages, verifies each builds from its package, and
/// checks what crates.io would), then every `.crate` unpacked and tested on its own: the
/// siblings resolved to their unpacked packages, one target directory for all of it
/// (`target/package-check/`), removed at the end.
pub fn package() -> Result<(), String> {
    let root = std::env::current_dir().map_err(|e| e.to_string())?;
    let check = root.join("target/package-check");
    let target = check.join("target");
    let unpacked = check.join("crates");
    remove_dir(&check)?;
    std::fs::create_dir_all(&unpacked).map_err(|e| format!("{}: {e}", unpacked.display()))?;

    let result = publish_and_test(&target, &unpacked);
    // The check's build is large and of no use afterwards.
    remove_dir(&check)?;
    result
}

fn publish_and_test(target: &Path, unpacked: &Path) -> Result<(), String> {
    // `--allow-dirty` so that the check runs on a working tree too (CI's clone is clean).
    cargo(&[
        "publish",
        "--dry-run",
        "--workspace",
        "--allow-dirty",
        "--target-dir",
        &target.display().to_string(),
    ])?;

    let version = workspace_version()?;
    let mut dirs: Vec<(&str, PathBuf)> = Vec::new();
    for name in PUBLISHED {
        let file = target.join(format!("package/{name}-{version}.crate"));
        if !file.is_file() {
            return Err(format!("{} was not packaged", file.display()));
        }
        run(Command::new("tar")
            .arg("-xzf")
            .arg(&file)
            .arg("-C")
            .arg(unpacked))?;
        dirs.push((name, unpacked.join(format!("{name}-{version}"))));
    }

    // The siblings are not on crates.io: each resolves to its unpacked package. A config file
    // (not `--config`) so that cargo run by a test inside a package sees it too.
    let mut config = String::from("[patch.crates-io]\n");
    for (name, dir) in &dirs {
        config.push_str(&format!("{name} = {{ path = {:?} }}\n", dir.display()));
    }
    config.push_str(&format!("\n[build]\ntarget-dir = {:?}\n", target.display()));
    let cargo_dir = unpacked.join(".cargo");
    std::fs::create_dir_all(&cargo_dir).map_err(|e| e.to_string())?;
    std::fs::write(cargo_dir.join("config.toml"), config).map_err(|e| e.to_string())?;

    for (name, dir) in &dirs {
        eprintln!("xtask package: testing the unpacked {name}");
        cargo_in(Some(dir), &["test", "--all-features"], &[])?;
    }
    Ok(())
}

/// The workspace's `version` (every published crate inherits it).
fn workspace_version() -> Result<String, String> {
    let manifest = std::fs::read_to_string("Cargo.toml").map_err(|e| e.to_string())?;
    let section = manifest
        .split("[workspace.package]")
        .nth(1)
        .ok_or("Cargo.toml has no [workspace.package]")?;
    section
        .lines()
        .find_map(|line| {
            let value = line.strip_prefix("version")?.trim().strip_prefix('=')?;
            Some(value.trim().trim_matches('"').to_owned())
        })
        .ok_or_else(|| "[workspace.package] has no version".to_owned())
}

fn remove_dir(dir: &Path) -> Result<(), String> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("removing {}: {e}", dir.display())),
    }
}
