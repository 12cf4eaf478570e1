//! One model turn, independent of the dialect: a thinking phase, an answer, parallel tool calls.
//!
//! [`Conversation`] holds every delta in order; [`crate::streams`] renders it in each dialect's
//! stream shape, and [`crate::payloads`] turns it into non-stream responses.

use crate::text::{self, Flavor, Rng};

/// How big a generated turn is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scale {
    /// Reasoning deltas.
    pub reasoning: usize,
    /// Answer deltas.
    pub answer: usize,
    /// Parallel tool calls.
    pub tool_calls: usize,
    /// Argument fragments per tool call (besides the opening one that carries id and name, and
    /// the closing empty one).
    pub fragments_per_call: usize,
}

impl Scale {
    /// The benchmark workload: about 10,000 events in every dialect.
    pub const STANDARD: Scale = Scale {
        reasoning: 3_000,
        answer: 5_500,
        tool_calls: 2,
        fragments_per_call: 750,
    };

    /// A small turn for quick checks.
    pub const SMALL: Scale = Scale {
        reasoning: 12,
        answer: 30,
        tool_calls: 2,
        fragments_per_call: 6,
    };
}

/// One tool call of the turn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolCallScript {
    /// `call_<24 hex>`.
    pub call_id: String,
    /// The function name.
    pub name: String,
    /// The argument pieces in order; joined they are the arguments JSON.
    pub fragments: Vec<String>,
}

impl ToolCallScript {
    /// The whole arguments JSON text.
    pub fn arguments(&self) -> String {
        self.fragments.concat()
    }
}

/// One assistant turn, as the deltas a stream would carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conversation {
    /// The request id (a UUID), which every dialect's ids are built from.
    pub request_id: String,
    /// The model name.
    pub model: String,
    /// Unix seconds.
    pub created: i64,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// The thinking deltas.
    pub reasoning: Vec<String>,
    /// The answer deltas.
    pub answer: Vec<String>,
    /// The tool calls made after the answer.
    pub tool_calls: Vec<ToolCallScript>,
}

impl Conversation {
    /// The turn of [`Scale::STANDARD`] from the benchmark seed.
    pub fn standard() -> Self {
        Self::generate(0x5EED_0001, Scale::STANDARD)
    }

    /// A turn of the given size; the same seed and scale give the same turn.
    pub fn generate(seed: u64, scale: Scale) -> Self {
        let mut rng = Rng::new(seed);
        let request_id = rng.uuid();
        let reasoning = (0..scale.reasoning)
            .map(|_| text::delta(&mut rng, Flavor::Reasoning))
            .collect();
        let answer = (0..scale.answer)
            .map(|_| text::delta(&mut rng, Flavor::Answer))
            .collect();
        let cities = ["杭州市", "上海市", "北京市", "Paris", "深圳市"];
        let tool_calls = (0..scale.tool_calls)
            .map(|i| {
                let call_id = format!("call_{}", rng.hex(24));
                let mut note = String::new();
                for _ in 0..scale.fragments_per_call * 2 {
                    note.push_str(&text::delta(&mut rng, Flavor::Answer));
                }
                let args = serde_json::json!({
                    "location": cities[i % cities.len()],
                    "unit": "celsius",
                    "note": note,
                });
                ToolCallScript {
                    call_id,
                    name: if i % 2 == 0 {
                        "get_current_weather".to_owned()
                    } else {
                        "search_knowledge_base".to_owned()
                    },
                    fragments: split_chars(&args.to_string(), scale.fragments_per_call),
                }
            })
            .collect();
        Conversation {
            request_id,
            model: "qwen3.6-plus".to_owned(),
            created: 1_782_800_450,
            input_tokens: 1_030,
            reasoning,
            answer,
            tool_calls,
        }
    }

    /// All thinking text.
    pub fn reasoning_text(&self) -> String {
        self.reasoning.concat()
    }

    /// All answer text.
    pub fn answer_text(&self) -> String {
        self.answer.concat()
    }

    /// Reasoning tokens (one per delta).
    pub fn reasoning_tokens(&self) -> u64 {
        self.reasoning.len() as u64
    }

    /// Output tokens (one per delta, argument fragments included).
    pub fn output_tokens(&self) -> u64 {
        (self.reasoning.len()
            + self.answer.len()
            + self
                .tool_calls
                .iter()
                .map(|c| c.fragments.len())
                .sum::<usize>()) as u64
    }
}

/// Splits `s` into `n` pieces of nearly equal character counts (never splitting a character).
fn split_chars(s: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let n = n.clamp(1, chars.len().max(1));
    let (base, extra) = (chars.len() / n, chars.len() % n);
    let mut out = Vec::with_capacity(n);
    let mut at = 0;
    for i in 0..n {
        let len = base + usize::from(i < extra);
        out.push(chars[at..at + len].iter().collect());
        at += len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_sized() {
        let a = Conversation::generate(3, Scale::SMALL);
        assert_eq!(a, Conversation::generate(3, Scale::SMALL));
        assert_ne!(a, Conversation::generate(4, Scale::SMALL));
        assert_eq!(a.reasoning.len(), 12);
        assert_eq!(a.answer.len(), 30);
        assert_eq!(a.tool_calls.len(), 2);
        for call in &a.tool_calls {
            assert_eq!(call.fragments.len(), 6);
            let v: serde_json::Value = serde_json::from_str(&call.arguments()).unwrap();
            assert!(v["note"].as_str().is_some_and(|n| !n.is_empty()));
        }
    }

    #[test]
    fn split_keeps_every_char() {
        let s = "ab杭州市cd😊e";
        let parts = split_chars(s, 4);
        assert_eq!(parts.len(), 4);
        assert_eq!(parts.concat(), s);
        assert_eq!(split_chars("", 3), vec![String::new()]);
    }
}
