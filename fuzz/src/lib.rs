//! The fuzz targets' bodies, as a library so that the targets (`fuzz_targets/*.rs`), the corpus
//! seeder (`examples/seed_corpus.rs`) and the CI-sized proptest stand-in
//! (`crates/dashscope-protocol/tests/fuzz_regressions.rs`, which includes `src/bodies.rs` with
//! `#[path]`) all run the same code.

pub mod bodies;
