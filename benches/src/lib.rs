//! criterion benches for the DashScope workspace live in `benches/`; this library holds the
//! shared workload generators they use.
