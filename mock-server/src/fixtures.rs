//! Cassette files: the set embedded at build time from `mock-server/fixtures/**/*.json`, and
//! directories loaded at run time.

use std::path::{Path, PathBuf};

use dashscope_protocol::cassette::{Cassette, CassetteError};
use serde_json::Value;

mod generated {
    include!(concat!(env!("OUT_DIR"), "/embedded_fixtures.rs"));
}

/// Every fixture embedded at build time: `(path under fixtures/, JSON text)`, sorted by path.
pub fn embedded_files() -> &'static [(&'static str, &'static str)] {
    generated::EMBEDDED
}

/// A cassette read from a file, with its raw JSON (for the mock's matcher extensions).
#[derive(Clone, Debug)]
pub struct Fixture {
    /// Where it came from (a path under `fixtures/`, a file path, or `admin`).
    pub origin: String,
    /// The cassette.
    pub cassette: Cassette,
    /// Its JSON.
    pub raw: Value,
}

/// A cassette file that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    /// The file or directory could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The text is not a cassette.
    #[error("{origin}: {source}")]
    Cassette {
        /// Where the text came from.
        origin: String,
        /// Why it is not a cassette.
        #[source]
        source: CassetteError,
    },
}

/// Parses one cassette from its JSON text.
///
/// # Errors
///
/// [`FixtureError::Cassette`] when the text is not a cassette of a supported version.
pub fn parse(origin: &str, text: &str) -> Result<Fixture, FixtureError> {
    let wrap = |source| FixtureError::Cassette {
        origin: origin.to_owned(),
        source,
    };
    let cassette = Cassette::from_json(text).map_err(wrap)?;
    let raw: Value = serde_json::from_str(text).map_err(|e| wrap(CassetteError::Json(e)))?;
    Ok(Fixture {
        origin: origin.to_owned(),
        cassette,
        raw,
    })
}

/// Parses every embedded fixture; the ones that do not parse come back as errors.
pub fn embedded() -> (Vec<Fixture>, Vec<FixtureError>) {
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for (path, text) in embedded_files() {
        match parse(path, text) {
            Ok(f) => ok.push(f),
            Err(e) => bad.push(e),
        }
    }
    (ok, bad)
}

/// Loads every `*.json` file under `dir` (recursively, in path order).
///
/// # Errors
///
/// The first file or directory that cannot be read, or the first file that is not a cassette.
pub fn load_dir(dir: &Path) -> Result<Vec<Fixture>, FixtureError> {
    let mut files = Vec::new();
    walk(dir, &mut files)?;
    files.sort();
    files
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).map_err(|source| FixtureError::Io {
                path: path.clone(),
                source,
            })?;
            parse(&path.display().to_string(), &text)
        })
        .collect()
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), FixtureError> {
    let io = |source| FixtureError::Io {
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            walk(&path, files)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            files.push(path);
        }
    }
    Ok(())
}
