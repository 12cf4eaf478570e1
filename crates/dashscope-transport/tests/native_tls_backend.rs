//! The async backend's tests (`reqwest_backend.rs`) on reqwest built with the platform's
//! TLS library: CI runs this target with `--no-default-features --features native-tls`.

#[path = "reqwest_backend.rs"]
mod suite;
