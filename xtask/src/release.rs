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

/// `cargo publish --dry-run --workspace` (what crates.io would check of each package), then
/// every `.crate` unpacked and tested from its package (`cargo test` in a workspace of the
/// unpacked packages), the siblings resolved to their unpacked packages. The packages' build is not verified twice: the dry run skips it (`--no-verify`)
/// because testing the unpacked packages builds each of them from its package anyway. The tests
/// share the workspace's target directory, so the dependencies the earlier CI steps compiled are
/// reused (the unpacked crates themselves build apart: their paths differ).
///
/// With `test_unpacked` false, the dry run alone (seconds; the tests of the unpacked packages
/// build the four crates a second time, about 3.5 minutes on two cores once the dependencies
/// are built).
pub fn package(test_unpacked: bool) -> Result<(), String> {
    if !test_unpacked {
        return publish_dry_run();
    }
    let root = std::env::current_dir().map_err(|e| e.to_string())?;
    // Outside the repository: under it, cargo would take each package for a stray member of
    // the workspace.
    let check =
        std::env::temp_dir().join(format!("dashscope-package-check-{}", std::process::id()));
    remove_dir(&check)?;
    std::fs::create_dir_all(&check).map_err(|e| format!("{}: {e}", check.display()))?;
    let result = publish_and_test(&root.join("target"), &check);
    remove_dir(&check)?;
    result
}

/// `--allow-dirty` so that the check runs on a working tree too (CI's clone is clean).
fn publish_dry_run() -> Result<(), String> {
    cargo(&[
        "publish",
        "--dry-run",
        "--workspace",
        "--no-verify",
        "--allow-dirty",
    ])
}

fn publish_and_test(target: &Path, unpacked: &Path) -> Result<(), String> {
    publish_dry_run()?;
    // The `.crate` files, where `cargo package` documents them: `target/package/`.
    let mut args = vec!["package", "--no-verify", "--allow-dirty"];
    for name in PUBLISHED {
        args.extend(["-p", name]);
    }
    cargo(&args)?;

    let version = workspace_version()?;
    let mut dirs: Vec<(&str, PathBuf)> = Vec::new();
    for name in PUBLISHED {
        let file = target.join(format!("package/{name}-{version}.crate"));
        if !file.is_file() {
            return Err(format!("{} was not packaged", file.display()));
        }
        // `-m`: the files get the time of unpacking, not the packaged one. Cargo hashes the
        // packages relative to their workspace, so with the packaged times an earlier check's
        // test binaries would look fresh in the shared target directory, and they carry the
        // (since deleted) directory they were built in (`CARGO_MANIFEST_DIR`, which the fixture
        // tests read).
        run(Command::new("tar")
            .arg("-xmzf")
            .arg(&file)
            .arg("-C")
            .arg(unpacked))?;
        dirs.push((name, unpacked.join(format!("{name}-{version}"))));
    }

    // One workspace of the unpacked packages, tested in one run (each package is compiled
    // once, the tests in parallel): the siblings are not on crates.io, so each resolves to its
    // unpacked package; the repository's lock file keeps the dependencies' versions, and so
    // what the earlier CI steps compiled.
    let mut manifest = String::from("[workspace]\nresolver = \"3\"\nmembers = [\n");
    for (_, dir) in &dirs {
        manifest.push_str(&format!("    {:?},\n", dir.display()));
    }
    manifest.push_str("]\n\n[patch.crates-io]\n");
    for (name, dir) in &dirs {
        manifest.push_str(&format!("{name} = {{ path = {:?} }}\n", dir.display()));
    }
    std::fs::write(unpacked.join("Cargo.toml"), manifest).map_err(|e| e.to_string())?;
    std::fs::copy("Cargo.lock", unpacked.join("Cargo.lock")).map_err(|e| e.to_string())?;
    // A config file (not `--target-dir`) so that cargo run by a test inside a package uses it.
    let cargo_dir = unpacked.join(".cargo");
    std::fs::create_dir_all(&cargo_dir).map_err(|e| e.to_string())?;
    let config = format!("[build]\ntarget-dir = {:?}\n", target.display());
    std::fs::write(cargo_dir.join("config.toml"), config).map_err(|e| e.to_string())?;

    eprintln!("xtask package: testing the unpacked packages");
    cargo_in(
        Some(unpacked),
        &["test", "--workspace", "--all-features"],
        &[],
    )
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
