//! Byte bounds on what requests hold while they are read and answered.
//!
//! One budget (`--max-inflight-bytes`,
//! [`MockServerBuilder::max_inflight_bytes`](crate::MockServerBuilder::max_inflight_bytes)) is
//! shared by every request in flight. A body takes its bytes from it piece by piece as they arrive (and twice
//! its length more when it holds escapes, for the views the journal's key scrubbing decodes);
//! a JSON body then takes, before it is parsed, what its parsed tree may cost (an upper bound
//! read from the text); a Responses request that continues a stored conversation takes five times
//! what the conversation holds (the copies the synthetic responder and the store make); a
//! journal read takes the entry it is writing out. All of it goes back when the request is
//! answered. A request that finds the budget spent waits (its connection is not read
//! meanwhile) within the body-read timeout, then gets 408; one whose cost alone is over the
//! whole budget gets 413 at once.
//!
//! The costs are upper bounds of what `serde_json` allocates (measured with glibc's allocator:
//! a `Value` slot is 32 bytes, a `Vec` grows by doubling, a `BTreeMap` node holds 11 entries in
//! about 650 bytes, the smallest allocation takes 32), so the budget bounds real memory:
//! `[{"a":0},…]` costs about 90 times its length, `[0,0,…]` up to 32 times, a body of long
//! strings about once its length.

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::handler::BodyError;

/// How many copies of a stored conversation a request that continues it makes: the synthetic
/// responder reads it through a request, a typed request, a unified conversation and a prompt,
/// and storing the answer copies it once more.
pub(crate) const HISTORY_COPIES: usize = 5;

/// The smallest heap allocation (glibc: 32-byte chunks).
const MIN_ALLOC: usize = 32;
/// A `Value` (its slot in an array, an object or the root).
const SLOT: usize = 32;
/// A non-empty array: the first allocation (capacity 4).
const ARRAY_FIRST: usize = 4 * SLOT + 16;
/// Each array element: capacity at most twice the length.
const ARRAY_ELEMENT: usize = 2 * SLOT;
/// A non-empty object: its first B-tree leaf (11 keys of 24 bytes, 11 values of 32, links).
const OBJECT_FIRST: usize = 648;
/// Each further object entry: leaves are at least half full (5 entries), plus internal nodes.
const OBJECT_ENTRY: usize = 160;
/// An array's (first, further entry) costs, and an object's.
const COSTS: [(usize, usize); 2] = [(ARRAY_FIRST, ARRAY_ELEMENT), (OBJECT_FIRST, OBJECT_ENTRY)];

/// An upper bound on what `serde_json` allocates to parse `text` into a [`Value`] (whatever the
/// text is; a text that does not parse costs no more). Linear in the text, no allocation.
pub(crate) fn json_text_cost(text: &[u8]) -> usize {
    // Whether each open container is an object (bit set) or an array, up to serde_json's
    // nesting limit of 128 (deeper texts do not parse).
    let mut kinds: u128 = 0;
    let mut depth: u32 = 0;
    // The innermost container was just opened and holds nothing yet.
    let mut fresh = false;
    let mut cost = SLOT;
    let mut i = 0;
    while i < text.len() {
        let b = text[i];
        i += 1;
        let in_object = (1..=128).contains(&depth) && kinds >> (depth - 1) & 1 == 1;
        // What the innermost container's first and each further entry cost.
        let (opening, entry) = COSTS[usize::from(in_object)];
        // The first thing in a container makes it allocate.
        let mut first = || {
            if std::mem::take(&mut fresh) {
                cost += opening;
            }
        };
        match b {
            b'"' => {
                first();
                let start = i;
                while i < text.len() {
                    match text[i] {
                        b'\\' => i += 2,
                        b'"' => break,
                        _ => i += 1,
                    }
                }
                cost += (i.min(text.len()) - start).max(MIN_ALLOC);
                i += 1;
            }
            b'[' | b'{' => {
                first();
                if depth < 128 {
                    let bit = 1u128 << depth;
                    kinds = if b == b'{' { kinds | bit } else { kinds & !bit };
                }
                depth += 1;
                fresh = true;
            }
            b']' | b'}' => {
                depth = depth.saturating_sub(1);
                fresh = false;
            }
            b',' => cost += entry,
            b' ' | b'\t' | b'\n' | b'\r' | b':' => {}
            // A number or a literal.
            _ => first(),
        }
    }
    cost
}

/// About what a parsed [`Value`] holds on the heap, counted as [`json_text_cost`] counts it
/// (so never more than that of its text), for the stores that keep values.
pub(crate) fn value_cost(v: &Value) -> usize {
    fn heap(v: &Value) -> usize {
        match v {
            Value::String(s) if !s.is_empty() => s.len().max(MIN_ALLOC),
            Value::Array(a) if !a.is_empty() => {
                ARRAY_FIRST + (a.len() - 1) * ARRAY_ELEMENT + a.iter().map(heap).sum::<usize>()
            }
            Value::Object(o) if !o.is_empty() => {
                OBJECT_FIRST
                    + (o.len() - 1) * OBJECT_ENTRY
                    + o.iter()
                        .map(|(k, v)| k.len().max(MIN_ALLOC) + heap(v))
                        .sum::<usize>()
            }
            _ => 0,
        }
    }
    SLOT + heap(v)
}

/// The shared budget of bytes held by requests in flight (see the module docs).
#[derive(Clone, Debug)]
pub(crate) struct Budget {
    bytes: Arc<Semaphore>,
    capacity: usize,
}

/// Bytes taken from the [`Budget`]; they go back when this is dropped.
#[derive(Debug, Default)]
pub(crate) struct Held(Option<OwnedSemaphorePermit>);

impl Budget {
    /// A budget of `capacity` bytes (at least 1).
    pub(crate) fn new(capacity: usize) -> Self {
        let capacity = capacity.clamp(1, Semaphore::MAX_PERMITS);
        Budget {
            bytes: Arc::new(Semaphore::new(capacity)),
            capacity,
        }
    }

    /// Takes `n` more bytes into `held`, waiting (at most until `deadline`) for them: the
    /// request's body is then too large when they are more than the whole budget, and timed
    /// out when the deadline passes while others hold them.
    pub(crate) async fn take(
        &self,
        held: &mut Held,
        n: usize,
        deadline: Option<Instant>,
    ) -> Result<(), BodyError> {
        let already = held.0.as_ref().map_or(0, OwnedSemaphorePermit::num_permits);
        if n > self.capacity.saturating_sub(already) {
            return Err(BodyError::TooLarge);
        }
        let mut left = n;
        while left > 0 {
            let piece = left.min(u32::MAX as usize);
            let acquire = Arc::clone(&self.bytes).acquire_many_owned(piece as u32);
            let permit = match deadline {
                Some(d) => tokio::time::timeout_at(d, acquire)
                    .await
                    .map_err(|_| BodyError::TimedOut)?,
                None => acquire.await,
            }
            // The semaphore is never closed.
            .map_err(|_| BodyError::TooLarge)?;
            match &mut held.0 {
                Some(p) => p.merge(permit),
                None => held.0 = Some(permit),
            }
            left -= piece;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text cost bounds what the tree is said to cost, for shapes from the cheapest to
    /// the most expensive per byte, and stays close for text-heavy bodies.
    #[test]
    fn text_cost_bounds_value_cost() {
        let shapes = [
            "[0,0,0,0,0,0,0,0,0]".to_owned(),
            "[{},{},{}]".to_owned(),
            "[[0],[0],[0],[1,2]]".to_owned(),
            "[{\"a\":0},{\"a\":0},{\"b\":[1]}]".to_owned(),
            "{\"a\":{\"b\":{\"c\":[\"x\",\"y\"]}},\"d\":\"e\\\"f\"}".to_owned(),
            format!(
                "{{\"model\":\"qwen-plus\",\"messages\":[{{\"role\":\"user\",\"content\":\"{}\"}}]}}",
                "long text ".repeat(1000)
            ),
        ];
        for text in &shapes {
            let v: Value = serde_json::from_str(text).unwrap();
            let (est, tree) = (json_text_cost(text.as_bytes()), value_cost(&v));
            assert!(est >= tree, "{text}: {est} < {tree}");
        }
        let long = &shapes[5];
        assert!(json_text_cost(long.as_bytes()) < 2 * long.len());
        // Not JSON, cut short, unbalanced: no panic, a finite cost.
        for bad in ["\"", "\"\\", "]]]]", "{{{{", "[\"a", "x"] {
            let _ = json_text_cost(bad.as_bytes());
        }
        assert!(json_text_cost(&vec![b'['; 100_000]) < 100_000 * 200);
    }

    #[tokio::test]
    async fn the_budget_is_shared_and_given_back() {
        let b = Budget::new(100);
        let mut a = Held::default();
        b.take(&mut a, 60, None).await.unwrap();
        b.take(&mut a, 40, None).await.unwrap();
        assert_eq!(
            b.take(&mut a, 1, None).await,
            Err(BodyError::TooLarge),
            "over the whole budget"
        );
        let mut other = Held::default();
        let soon = Instant::now() + std::time::Duration::from_millis(20);
        assert_eq!(
            b.take(&mut other, 10, Some(soon)).await,
            Err(BodyError::TimedOut)
        );
        drop(a);
        b.take(&mut other, 100, None).await.unwrap();
    }
}
