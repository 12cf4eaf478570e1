//! Embeds every `fixtures/**/*.json` file in the library: generates
//! `$OUT_DIR/embedded_fixtures.rs`, a sorted table of `(relative path, include_str!(…))`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs, io};

fn main() {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let fixtures = manifest_dir.join("fixtures");
    // A directory given to rerun-if-changed is scanned recursively for changes.
    println!("cargo:rerun-if-changed={}", fixtures.display());
    println!("cargo:rerun-if-changed=build.rs");

    let mut files = Vec::new();
    if fixtures.is_dir() {
        if let Err(e) = walk(&fixtures, &mut files) {
            println!(
                "cargo:warning=dashscope-mock: cannot read {}: {e}",
                fixtures.display()
            );
        }
    }
    files.sort();

    let mut out = String::from(
        "/// Every embedded fixture: its path under `fixtures/` (with `/` separators) and its text.\n\
         pub static EMBEDDED: &[(&str, &str)] = &[\n",
    );
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
        let rel = file
            .strip_prefix(&fixtures)
            .unwrap_or(file)
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        let abs = file.to_string_lossy().into_owned();
        let _ = writeln!(out, "    ({rel:?}, include_str!({abs:?})),");
    }
    out.push_str("];\n");

    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out_dir.join("embedded_fixtures.rs"), out).expect("OUT_DIR is writable");
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, files)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            files.push(path);
        }
    }
    Ok(())
}
