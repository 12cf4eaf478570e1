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
        self.next_request_id().as_str().to_owned()
    }

    /// The next id, without allocating (the same sequence as [`next_id`](Self::next_id)).
    pub fn next_request_id(&self) -> RequestId {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let hi = splitmix64(self.seed ^ splitmix64(n.wrapping_mul(2)));
        let lo = splitmix64(self.seed ^ splitmix64(n.wrapping_mul(2).wrapping_add(1)));
        RequestId::from_parts(hi, lo)
    }

    /// Starts the sequence again (the same ids come out again for the same seed).
    pub fn reset(&self) {
        self.counter.store(0, Ordering::Relaxed);
    }
}

/// A request id (`xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`), held inline: handing one out
/// allocates nothing. It derefs to `&str`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestId([u8; 36]);

impl RequestId {
    /// The id of the two 64-bit halves (version 4, RFC 4122 variant bits set).
    fn from_parts(hi: u64, lo: u64) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let hi = (hi & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000;
        let lo = (lo & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
        let mut out = [b'-'; 36];
        // The 32 hex digits, most significant first, around the dashes at 8, 13, 18, 23.
        let mut digit = 0;
        for (pos, byte) in out.iter_mut().enumerate() {
            if matches!(pos, 8 | 13 | 18 | 23) {
                continue;
            }
            let nibble = if digit < 16 {
                (hi >> (60 - 4 * digit)) & 0xF
            } else {
                (lo >> (60 - 4 * (digit - 16))) & 0xF
            };
            *byte = HEX[nibble as usize];
            digit += 1;
        }
        RequestId(out)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits and dashes are ever written.
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl std::ops::Deref for RequestId {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Debug for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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

    #[test]
    fn inline_ids_match_the_formatted_layout() {
        for (hi, lo) in [
            (0, 0),
            (u64::MAX, u64::MAX),
            (0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210),
        ] {
            let h = (hi & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000;
            let l = (lo & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
            let want = format!(
                "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
                h >> 32,
                (h >> 16) & 0xFFFF,
                h & 0xFFFF,
                l >> 48,
                l & 0xFFFF_FFFF_FFFF
            );
            assert_eq!(RequestId::from_parts(hi, lo).as_str(), want);
        }
        let a = IdGen::new(Some(9));
        let b = IdGen::new(Some(9));
        assert_eq!(a.next_request_id().as_str(), b.next_id());
    }
}
