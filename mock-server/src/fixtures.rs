//! Cassette files: the set embedded at build time from `mock-server/fixtures/**/*.json`, and
//! directories loaded at run time.
//!
//! Both kinds of cassette load here: wire cassettes (one dialect's bytes) and unified
//! cassettes (`fixtures/unified/`: one answer in the unified model, replayed in every dialect;
//! see [`dashscope_protocol::cassette`]). A unified cassette comes as a [`Fixture`] like any
//! other; its `cassette` is its *stand-in* ([`stand_in`]: the Chat Completions non-stream
//! exchange it gives, which is what code that knows only wire cassettes sees, and what the mock
//! answers that exact request with), and its `raw` JSON is the unified cassette, from which
//! the mock's [`CassetteSet`](crate::matching::CassetteSet) answers every dialect.

use std::path::{Path, PathBuf};

use dashscope_protocol::cassette::{
    self, Cassette, CassetteError, Dialect, RecordedRequest, UnifiedCassette,
};
use serde_json::{Value, json};

use crate::endpoint::Endpoint;

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
    /// The cassette (for a unified cassette: its [`stand_in`]).
    pub cassette: Cassette,
    /// Its JSON.
    pub raw: Value,
}

impl Fixture {
    /// The unified cassette, when this is one.
    pub fn unified(&self) -> Option<UnifiedCassette> {
        if !cassette::is_unified(&self.raw) {
            return None;
        }
        UnifiedCassette::from_value(&self.raw).ok()
    }

    /// A fixture of a unified cassette (its `cassette` is the [`stand_in`]).
    pub fn from_unified(origin: &str, unified: &UnifiedCassette) -> Self {
        Fixture {
            origin: origin.to_owned(),
            cassette: stand_in(unified),
            raw: serde_json::to_value(unified).unwrap_or_default(),
        }
    }
}

/// The wire cassette that stands in for a unified cassette where only wire cassettes are
/// understood: the Chat Completions non-stream request of its conversation, and the answer
/// the mock renders for exactly that request ([`render_unified_cassette`](crate::synth::render_unified_cassette)).
/// Same name, description, source, priority and `once`.
pub fn stand_in(unified: &UnifiedCassette) -> Cassette {
    let mut conv = unified.request.clone();
    conv.stream = None;
    conv.include_usage = None;
    let body = conv
        .to_chat()
        .ok()
        .and_then(|r| serde_json::to_value(r).ok())
        .unwrap_or_else(|| {
            let text = cassette::last_user_text(&conv).unwrap_or_default();
            json!({"model": conv.model, "messages": [{"role": "user", "content": text}]})
        });
    let endpoint = Endpoint::ChatCompletions;
    let response = crate::synth::render_unified_cassette(endpoint, &body, false, unified);
    Cassette {
        version: unified.version,
        name: unified.name.clone(),
        description: unified.description.clone(),
        source: unified.source.clone(),
        dialect: Dialect::Chat,
        request: RecordedRequest {
            method: "POST".to_owned(),
            path: endpoint.path().to_owned(),
            headers: Default::default(),
            body: Some(body),
        },
        matcher: None,
        priority: unified.priority,
        once: unified.once,
        response,
    }
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

/// Parses one cassette (wire or unified) from its JSON text.
///
/// # Errors
///
/// [`FixtureError::Cassette`] when the text is not a cassette of a supported version.
pub fn parse(origin: &str, text: &str) -> Result<Fixture, FixtureError> {
    let wrap = |source| FixtureError::Cassette {
        origin: origin.to_owned(),
        source,
    };
    let raw: Value = serde_json::from_str(text).map_err(|e| wrap(CassetteError::Json(e)))?;
    if cassette::is_unified(&raw) {
        let unified = UnifiedCassette::from_value(&raw).map_err(wrap)?;
        return Ok(Fixture {
            origin: origin.to_owned(),
            cassette: stand_in(&unified),
            raw,
        });
    }
    let cassette = Cassette::from_json(text).map_err(wrap)?;
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
