//! Request ids: UUID-shaped, from a seeded generator so a seeded server is deterministic.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Hands out request ids (`xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`, version-4 shaped).
///
/// With a seed, the n-th id is a pure function of the seed and n.
#[derive(Debug)]
pub struct IdGen {
    seed: u64,
    counter: AtomicU64,
}

/// SplitMix64: a small, well-mixed 64-bit generator step.
pub(crate) fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl IdGen {
    /// A generator; `None` seeds from the clock and the process id.
    pub fn new(seed: Option<u64>) -> Self {
        let seed = seed.unwrap_or_else(|| {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            splitmix64(nanos ^ (u64::from(std::process::id()) << 32))
        });
        IdGen {
            seed,
            counter: AtomicU64::new(0),
        }
    }

    /// The seed in use.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The next id.
    pub fn next_id(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let hi = splitmix64(self.seed ^ splitmix64(n.wrapping_mul(2)));
        let lo = splitmix64(self.seed ^ splitmix64(n.wrapping_mul(2).wrapping_add(1)));
        format_uuid(hi, lo)
    }

    /// Starts the sequence again (the same ids come out again for the same seed).
    pub fn reset(&self) {
        self.counter.store(0, Ordering::Relaxed);
    }
}

fn format_uuid(hi: u64, lo: u64) -> String {
    // Version 4, RFC 4122 variant.
    let hi = (hi & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000;
    let lo = (lo & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xFFFF,
        hi & 0xFFFF,
        lo >> 48,
        lo & 0xFFFF_FFFF_FFFF
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_ids_repeat_and_look_like_uuids() {
        let a = IdGen::new(Some(7));
        let b = IdGen::new(Some(7));
        let first = a.next_id();
        assert_eq!(first, b.next_id());
        assert_ne!(first, a.next_id());
        assert_eq!(first.len(), 36);
        let parts: Vec<&str> = first.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'));
        assert!(matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'));
        a.reset();
        assert_eq!(a.next_id(), first);
    }
}
