//! The deterministic answer generator: a [`Prompt`] in, an [`Answer`] out, with no dialect in
//! sight. The renderers turn the same answer into each dialect's bytes, stream or not.
//!
//! * The answer is a pure function of the conversation ([`Prompt::fingerprint`]), the request's
//!   `seed` and the server's `--seed` (when one is set).
//! * Text is cut into tokens by a simple rule (a word of ASCII letters and digits with its
//!   leading space, at most 8 characters; any other character alone), and streamed in pieces
//!   of 1 to 3 tokens; every dialect streams the same pieces.
//! * Usage: input tokens count the messages (text tokens plus 4 per message), media (256 per
//!   image, 80 per audio clip, 64 per video frame or 512 per video file) and tool
//!   definitions; output tokens are reasoning plus text plus tool-call tokens, summed over the
//!   candidates.

use dashscope_protocol::unified::{self, FinishReason, ToolCall, UnifiedResponse};

use super::prompt::{Format, Media, MediaKind, Prompt, ToolChoice};
use crate::ids::splitmix64;
use crate::schema::{self, Rng};

/// A piece of streamed text and how many tokens it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Piece {
    pub(crate) text: String,
    pub(crate) tokens: u64,
}

/// A tool call the answer makes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Call {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) arguments: String,
    /// The arguments in streamed pieces.
    pub(crate) pieces: Vec<Piece>,
}

impl Call {
    pub(crate) fn tokens(&self) -> u64 {
        count_tokens(&self.name) + self.pieces.iter().map(|p| p.tokens).sum::<u64>()
    }
}

/// One answer (of `n`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Candidate {
    pub(crate) index: u32,
    pub(crate) reasoning: Vec<Piece>,
    pub(crate) text: Vec<Piece>,
    pub(crate) calls: Vec<Call>,
    pub(crate) finish: FinishReason,
}

impl Candidate {
    pub(crate) fn reasoning_text(&self) -> String {
        self.reasoning.iter().map(|p| p.text.as_str()).collect()
    }

    pub(crate) fn text(&self) -> String {
        self.text.iter().map(|p| p.text.as_str()).collect()
    }

    pub(crate) fn reasoning_tokens(&self) -> u64 {
        self.reasoning.iter().map(|p| p.tokens).sum()
    }

    pub(crate) fn output_tokens(&self) -> u64 {
        self.reasoning_tokens()
            + self.text.iter().map(|p| p.tokens).sum::<u64>()
            + self.calls.iter().map(Call::tokens).sum::<u64>()
    }
}

/// Token counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Usage {
    pub(crate) input: u64,
    pub(crate) output: u64,
    pub(crate) reasoning: u64,
    pub(crate) total: u64,
}

impl Usage {
    pub(crate) fn total(&self) -> u64 {
        self.total
    }
}

/// An answer laid out for rendering: its text cut into the pieces every dialect streams.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Answer {
    pub(crate) model: String,
    pub(crate) candidates: Vec<Candidate>,
    pub(crate) usage: Usage,
    /// Whether the prompt asked for thinking.
    pub(crate) thinking: bool,
}

/// Splits text into tokens (see the module docs); the tokens concatenate back to the text.
pub(crate) fn tokenize(text: &str) -> Vec<&str> {
    tokens(text).collect()
}

/// The tokens of `text`, one by one (nothing allocated): a space and the run of up to 8 ASCII
/// letters and digits after it, such a run alone, or any other single character.
fn tokens(text: &str) -> impl Iterator<Item = &str> {
    let b = text.as_bytes();
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= b.len() {
            return None;
        }
        let mut j = start;
        if b[j] == b' ' && b.get(j + 1).is_some_and(u8::is_ascii_alphanumeric) {
            j += 1;
        }
        if b[j].is_ascii_alphanumeric() {
            let run = b[j..]
                .iter()
                .take(8)
                .take_while(|c| c.is_ascii_alphanumeric())
                .count();
            j += run;
        } else {
            // One character: its UTF-8 length from its first byte.
            j += match b[j] {
                0..0x80 => 1,
                0xC0..0xE0 => 2,
                0xE0..0xF0 => 3,
                _ => 4,
            };
        }
        let token = &text[start..j.min(b.len())];
        start = j;
        Some(token)
    })
}

/// The number of tokens in `text`.
pub(crate) fn count_tokens(text: &str) -> u64 {
    tokens(text).count() as u64
}

/// FNV-1a, 64 bits.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Groups tokens into pieces of 1 to 3 tokens.
fn pieces(text: &str, rng: &mut Rng) -> Vec<Piece> {
    let toks = tokenize(text);
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let n = (1 + rng.below(3)).min(toks.len() - i);
        out.push(Piece {
            text: toks[i..i + n].concat(),
            tokens: n as u64,
        });
        i += n;
    }
    out
}

/// The first `max` tokens of `text`.
fn first_tokens(text: &str, max: u64) -> String {
    tokenize(text)
        .into_iter()
        .take(usize::try_from(max).unwrap_or(usize::MAX))
        .collect()
}

/// At most `max` characters of `text` on one line, with an ellipsis when cut.
fn snippet(text: &str, max: usize) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let one_line = one_line.trim();
    if one_line.chars().count() <= max {
        one_line.to_owned()
    } else {
        let mut s: String = one_line.chars().take(max).collect();
        s.push('…');
        s
    }
}

const OPENERS: [&str; 5] = [
    "Sure.",
    "Happy to help.",
    "Here is my answer.",
    "Good question.",
    "Of course.",
];

const SENTENCES: [&str; 10] = [
    "This answer was written by the dashscope-mock synthetic responder.",
    "The same conversation and seed always give the same words.",
    "Streaming and non-streaming requests receive exactly this text.",
    "Chat Completions, Responses and the native API all tell the same story.",
    "The token counts in the usage add up.",
    "Nothing here comes from a real model.",
    "Set a different seed to hear a different answer.",
    "Record a cassette when you need a real model's words.",
    "Every piece of this reply is deterministic.",
    "Tool calls, thinking and JSON output are supported too.",
];

const THOUGHTS: [&str; 5] = [
    "I should answer clearly and briefly.",
    "There is nothing ambiguous here.",
    "A short, direct reply fits best.",
    "Let me put the answer together.",
    "The question is straightforward.",
];

/// How a media part is named in an answer: its file name, or "inline" for a `data:` URI.
fn media_name(m: &Media) -> String {
    let what = m.kind.noun();
    if m.url.starts_with("data:") || m.url.is_empty() {
        return format!("an inline {what}");
    }
    let path = m.url.split(['?', '#']).next().unwrap_or("");
    let name = path.rsplit('/').next().unwrap_or(path);
    let name = if name.is_empty() {
        m.url.as_str()
    } else {
        name
    };
    if m.kind == MediaKind::Video && m.frames > 0 {
        format!(
            "a video of {} frames starting with {}",
            m.frames,
            snippet(name, 60)
        )
    } else {
        format!("the {what} {}", snippet(name, 60))
    }
}

fn media_sentence(media: &[&Media]) -> Option<String> {
    if media.is_empty() {
        return None;
    }
    let names: Vec<String> = media.iter().map(|m| media_name(m)).collect();
    Some(format!("I received {}.", names.join(", ")))
}

/// The seed all choices of an answer derive from.
pub(crate) fn base_seed(prompt: &Prompt, server_seed: Option<u64>) -> u64 {
    let fp = fnv1a(prompt.fingerprint().as_bytes());
    splitmix64(fp ^ server_seed.map_or(0, |s| splitmix64(s).rotate_left(17)))
}

/// Which tools the answer calls, if any.
fn chosen_tools(prompt: &Prompt, base: u64) -> Vec<usize> {
    if prompt.tools.is_empty() {
        return Vec::new();
    }
    let last_is_user = prompt.last().is_some_and(|m| m.role == "user");
    match &prompt.tool_choice {
        ToolChoice::None => return Vec::new(),
        ToolChoice::Function(name) => {
            return prompt
                .tools
                .iter()
                .position(|t| &t.name == name)
                .into_iter()
                .collect();
        }
        ToolChoice::Auto if !last_is_user => return Vec::new(),
        ToolChoice::Auto | ToolChoice::Required => {}
    }
    let asked = prompt
        .last_user()
        .map(|m| m.text.to_lowercase())
        .unwrap_or_default();
    let mentioned: Vec<usize> = prompt
        .tools
        .iter()
        .enumerate()
        .filter(|(_, t)| {
            let name = t.name.to_lowercase();
            asked.contains(&name) || asked.contains(&name.replace('_', " "))
        })
        .map(|(i, _)| i)
        .collect();
    match (mentioned.first(), prompt.parallel_tool_calls) {
        (Some(_), true) => mentioned.into_iter().take(4).collect(),
        (Some(&first), false) => vec![first],
        (None, _) => vec![(base % prompt.tools.len() as u64) as usize],
    }
}

fn reasoning_for(prompt: &Prompt, rng: &mut Rng, calls: &[String]) -> String {
    let question = prompt
        .last_user()
        .map(|m| snippet(&m.text, 80))
        .unwrap_or_default();
    let mut r = if question.is_empty() {
        "The user sent a message without text.".to_owned()
    } else {
        format!("The user asks: \"{question}\".")
    };
    if prompt.last().is_some_and(|m| m.role == "tool") {
        r.push_str(" A tool has answered, so I can reply from its result.");
    } else if !calls.is_empty() {
        r.push_str(&format!(
            " I should call {} to answer.",
            calls.join(" and ")
        ));
    }
    if let Some(m) = media_sentence(&prompt.recent_media()) {
        r.push(' ');
        r.push_str(&m);
    }
    r.push(' ');
    r.push_str(rng.pick(&THOUGHTS).copied().unwrap_or(THOUGHTS[0]));
    r
}

fn plain_answer(prompt: &Prompt, rng: &mut Rng) -> String {
    let mut parts: Vec<String> = Vec::new();
    let last = prompt.last();
    if last.is_some_and(|m| m.role == "assistant" && m.partial) {
        // Partial mode: continue the prefix, without repeating it.
        parts.push(format!(
            " {}",
            rng.pick(&SENTENCES).copied().unwrap_or(SENTENCES[0])
        ));
        return parts.concat();
    }
    parts.push(rng.pick(&OPENERS).copied().unwrap_or(OPENERS[0]).to_owned());
    if let Some(tool) = last.filter(|m| m.role == "tool") {
        let name = tool
            .name
            .clone()
            .or_else(|| {
                let id = tool.tool_call_id.as_deref()?;
                prompt
                    .messages
                    .iter()
                    .flat_map(|m| m.tool_calls.iter())
                    .find(|c| c.id == id)
                    .map(|c| c.name.clone())
            })
            .unwrap_or_else(|| "the tool".to_owned());
        parts.push(format!("{name} returned: \"{}\".", snippet(&tool.text, 80)));
    } else if let Some(user) = prompt.last_user() {
        let q = snippet(&user.text, 80);
        if !q.is_empty() {
            parts.push(format!("You asked: \"{q}\"."));
        }
        // Multi-turn: recall the user's previous turn.
        let earlier = prompt
            .messages
            .iter()
            .filter(|m| m.role == "user" && !m.text.is_empty())
            .rev()
            .nth(1);
        if let Some(e) = earlier {
            parts.push(format!("Earlier you said: \"{}\".", snippet(&e.text, 80)));
        }
    }
    if let Some(m) = media_sentence(&prompt.recent_media()) {
        parts.push(m);
    }
    let first = rng.below(SENTENCES.len());
    let second = (first + 1 + rng.below(SENTENCES.len() - 1)) % SENTENCES.len();
    parts.push(SENTENCES[first].to_owned());
    parts.push(SENTENCES[second].to_owned());
    parts.join(" ")
}

fn format_answer(prompt: &Prompt, rng: &mut Rng, seed: u64) -> String {
    match &prompt.format {
        Format::Text => plain_answer(prompt, rng),
        Format::JsonObject => {
            let question = prompt
                .last_user()
                .map(|m| snippet(&m.text, 80))
                .unwrap_or_default();
            let answer = rng.pick(&SENTENCES).copied().unwrap_or(SENTENCES[0]);
            let v = serde_json::json!({"answer": answer, "question": question});
            serde_json::to_string_pretty(&v).unwrap_or_else(|_| "{}".to_owned())
        }
        Format::JsonSchema(s) => {
            let v = schema::instance(s, seed);
            serde_json::to_string(&v).unwrap_or_else(|_| "{}".to_owned())
        }
    }
}

/// The input token count of a prompt.
fn input_tokens(prompt: &Prompt) -> u64 {
    let mut n = 0;
    for m in &prompt.messages {
        n += 4 + count_tokens(&m.text);
        for c in &m.tool_calls {
            n += count_tokens(&c.name) + count_tokens(&c.arguments);
        }
        for media in &m.media {
            let t = match media.kind {
                MediaKind::Image => 256,
                MediaKind::Audio => 80,
                MediaKind::Video if media.frames > 0 => 64 * media.frames as u64,
                MediaKind::Video => 512,
            };
            n += t;
        }
    }
    for t in &prompt.tools {
        n += 8 + count_tokens(&t.name) + count_tokens(&t.parameters.to_string());
    }
    n.max(1)
}

/// Cuts `text` before the first stop string it holds; whether it did.
fn apply_stop(text: &mut String, stop: &[String]) -> bool {
    let cut = stop.iter().filter_map(|s| text.find(s.as_str())).min();
    match cut {
        Some(at) => {
            text.truncate(at);
            true
        }
        None => false,
    }
}

/// A generated answer, in unified form, and the seed its stream pieces are cut with.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Generated {
    pub(crate) response: UnifiedResponse,
    pub(crate) thinking: bool,
    pub(crate) layout_seed: u64,
}

impl Generated {
    /// The answer laid out for rendering.
    pub(crate) fn layout(&self) -> Answer {
        layout(&self.response, self.thinking, self.layout_seed)
    }
}

/// Generates the answer. `server_seed` is the configured `--seed`, if any.
pub(crate) fn generate(prompt: &Prompt, server_seed: Option<u64>) -> Generated {
    let base = base_seed(prompt, server_seed);
    let tools = chosen_tools(prompt, base);
    let call_names: Vec<String> = tools
        .iter()
        .map(|&i| prompt.tools[i].name.clone())
        .collect();
    let n = prompt.n.max(1);
    let mut candidates = Vec::new();
    let mut output = 0;
    let mut reasoning_total = 0;
    for index in 0..n {
        let seed = splitmix64(base ^ u64::from(index).wrapping_mul(0x9E37_79B9));
        let mut rng = Rng::new(seed);
        let mut reasoning = if prompt.thinking {
            reasoning_for(prompt, &mut rng, &call_names)
        } else {
            String::new()
        };
        if let Some(budget) = prompt.thinking_budget {
            if count_tokens(&reasoning) > budget {
                reasoning = first_tokens(&reasoning, budget);
            }
        }
        let mut calls = Vec::new();
        let mut text = String::new();
        let mut finish = FinishReason::Stop;
        if tools.is_empty() {
            text = format_answer(prompt, &mut rng, seed);
            apply_stop(&mut text, &prompt.stop);
        } else {
            for (k, &i) in tools.iter().enumerate() {
                let tool = &prompt.tools[i];
                let args_seed = splitmix64(seed ^ fnv1a(tool.name.as_bytes()) ^ k as u64);
                let place = prompt.last_user().and_then(|m| schema::place_in(&m.text));
                let args =
                    schema::instance_with_place(&tool.parameters, args_seed, place.as_deref());
                let arguments = serde_json::to_string(&args).unwrap_or_else(|_| "{}".to_owned());
                let id = format!(
                    "call_{:016x}{:08x}",
                    rng.next_u64(),
                    rng.next_u64() & 0xFFFF_FFFF
                );
                calls.push(ToolCall::new(id, tool.name.clone(), arguments));
            }
            finish = FinishReason::ToolCalls;
        }
        if let Some(max) = prompt.max_tokens {
            let r = count_tokens(&reasoning);
            let t = count_tokens(&text);
            if r + t > max {
                finish = FinishReason::Length;
                if r >= max {
                    reasoning = first_tokens(&reasoning, max);
                    text.clear();
                } else {
                    text = first_tokens(&text, max - r);
                }
            }
        }
        let r = count_tokens(&reasoning);
        reasoning_total += r;
        output += r
            + count_tokens(&text)
            + calls
                .iter()
                .map(|c| count_tokens(&c.name) + count_tokens(&c.arguments))
                .sum::<u64>();
        candidates.push(unified::Candidate {
            index,
            text,
            reasoning,
            tool_calls: calls,
            audio: None,
            finish_reason: Some(finish),
        });
    }
    let input = input_tokens(prompt);
    let usage = unified::Usage {
        reasoning_tokens: prompt.thinking.then_some(reasoning_total),
        cached_tokens: Some(0),
        ..unified::Usage::new(input, output)
    };
    Generated {
        response: UnifiedResponse {
            model: Some(prompt.model.clone()),
            candidates,
            usage: Some(usage),
            ..Default::default()
        },
        thinking: prompt.thinking,
        layout_seed: base,
    }
}

/// Lays a unified answer out for rendering: text, reasoning and tool-call arguments cut into
/// pieces of 1 to 3 tokens (the same pieces for every dialect, given the seed). `thinking`
/// says whether the dialects' reasoning members are written even when empty.
pub(crate) fn layout(resp: &UnifiedResponse, thinking: bool, seed: u64) -> Answer {
    let candidates: Vec<Candidate> = resp
        .candidates
        .iter()
        .map(|c| {
            let mut rng =
                Rng::new(seed ^ 0x5EED_C0DE ^ u64::from(c.index).wrapping_mul(0x9E37_79B9));
            let reasoning = pieces(&c.reasoning, &mut rng);
            let text = pieces(&c.text, &mut rng);
            let calls = c
                .tool_calls
                .iter()
                .map(|t| Call {
                    id: t.id.clone(),
                    name: t.name.clone(),
                    arguments: t.arguments.clone(),
                    pieces: pieces(&t.arguments, &mut rng),
                })
                .collect();
            Candidate {
                index: c.index,
                reasoning,
                text,
                calls,
                finish: c.finish_reason.clone().unwrap_or(FinishReason::Stop),
            }
        })
        .collect();
    let counted: u64 = candidates.iter().map(Candidate::output_tokens).sum();
    let usage = match &resp.usage {
        Some(u) => Usage {
            input: u.input_tokens,
            output: u.output_tokens,
            reasoning: u.reasoning_tokens.unwrap_or(0),
            total: u.total_tokens,
        },
        None => Usage {
            input: 0,
            output: counted,
            reasoning: candidates.iter().map(Candidate::reasoning_tokens).sum(),
            total: counted,
        },
    };
    Answer {
        model: resp.model.clone().unwrap_or_default(),
        candidates,
        usage,
        thinking: thinking || resp.candidates.iter().any(|c| !c.reasoning.is_empty()),
    }
}

/// The JSON the arguments of `call` parse to (for tests).
#[cfg(test)]
pub(crate) fn call_args(call: &Call) -> serde_json::Value {
    serde_json::from_str(&call.arguments).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::prompt::{FnTool, Msg};
    use serde_json::json;

    fn user(text: &str) -> Prompt {
        Prompt {
            model: "qwen-plus".into(),
            messages: vec![Msg {
                role: "user".into(),
                text: text.into(),
                ..Msg::default()
            }],
            ..Prompt::default()
        }
    }

    #[test]
    fn tokens_concatenate_back() {
        for t in [
            "Hello, world!  It's 2026.",
            "你好，世界",
            " leading",
            "averyveryverylongword and\nnew lines",
            "",
        ] {
            assert_eq!(tokenize(t).concat(), t);
        }
        assert_eq!(tokenize("Hi there"), ["Hi", " there"]);
        assert_eq!(count_tokens("你好"), 2);
    }

    /// The byte-wise tokenizer splits as the character-wise one it replaced (which held a
    /// 16-byte entry per character of the text).
    #[test]
    fn tokens_split_as_before() {
        fn by_chars(text: &str) -> Vec<&str> {
            let chars: Vec<(usize, char)> = text.char_indices().collect();
            let mut out = Vec::new();
            let mut k = 0;
            while k < chars.len() {
                let start = chars[k].0;
                let mut j = k;
                if chars[j].1 == ' '
                    && chars
                        .get(j + 1)
                        .is_some_and(|c| c.1.is_ascii_alphanumeric())
                {
                    j += 1;
                }
                if chars[j].1.is_ascii_alphanumeric() {
                    let mut n = 0;
                    while j < chars.len() && chars[j].1.is_ascii_alphanumeric() && n < 8 {
                        j += 1;
                        n += 1;
                    }
                } else {
                    j += 1;
                }
                out.push(&text[start..chars.get(j).map_or(text.len(), |c| c.0)]);
                k = j;
            }
            out
        }
        for t in [
            "Hello, world!  It's 2026.",
            "你好，世界 a1 b2c3d4e5f6g7h8i9 ",
            "  x  yz \u{1F600}\u{1F600} é é9 9é",
            " ",
            "a",
            "averyveryverylongword and\nnew lines\r\n\t",
        ] {
            assert_eq!(tokenize(t), by_chars(t), "{t:?}");
        }
    }

    #[test]
    fn answers_are_deterministic_and_seed_dependent() {
        let p = user("What is the capital of France?");
        let a = generate(&p, None).layout();
        assert_eq!(a, generate(&p, None).layout());
        assert!(a.candidates[0].text().contains("capital of France"));
        let mut seeded = p.clone();
        seeded.seed = Some(9);
        assert_ne!(
            generate(&seeded, None).layout().candidates[0].text(),
            a.candidates[0].text()
        );
        assert_ne!(
            generate(&p, Some(1)).layout().candidates[0].text(),
            a.candidates[0].text()
        );
        let u = a.usage;
        assert_eq!(u.output, count_tokens(&a.candidates[0].text()));
        assert_eq!(u.total(), u.input + u.output);
        let g = generate(&p, None);
        assert_eq!(layout(&g.response, g.thinking, g.layout_seed), g.layout());
    }

    #[test]
    fn limits_stop_and_n() {
        let p = user("Tell me something.");
        let full = generate(&p, None).layout().candidates[0].text();
        let mut limited = p.clone();
        limited.max_tokens = Some(3);
        let a = generate(&limited, None).layout();
        assert_eq!(a.candidates[0].finish, FinishReason::Length);
        assert_eq!(a.usage.output, 3);
        assert!(full.starts_with(&a.candidates[0].text()));
        let word = full.split(' ').nth(3).unwrap().to_owned();
        let mut stopped = p.clone();
        stopped.stop = vec![word.clone()];
        let s = generate(&stopped, None).layout().candidates[0].text();
        assert_eq!(s, &full[..full.find(&word).unwrap()]);
        let mut many = p.clone();
        many.n = 3;
        let m = generate(&many, None).layout();
        assert_eq!(m.candidates.len(), 3);
        assert_eq!(
            m.candidates[0].text(),
            full,
            "the first of n is the n=1 answer"
        );
        assert_eq!(
            m.usage.output,
            m.candidates
                .iter()
                .map(Candidate::output_tokens)
                .sum::<u64>()
        );
    }

    #[test]
    fn tools_thinking_and_json() {
        let mut p = user("What's the weather in Hangzhou? use get_weather");
        p.tools = vec![
            FnTool {
                name: "lookup".into(),
                parameters: json!({"type": "object", "properties": {"q": {"type": "string"}}}),
            },
            FnTool {
                name: "get_weather".into(),
                parameters: json!({"type": "object", "properties": {"location": {"type": "string"}, "days": {"type": "integer", "minimum": 1, "maximum": 3}}, "required": ["location"]}),
            },
        ];
        p.thinking = true;
        let a = generate(&p, None).layout();
        let c = &a.candidates[0];
        assert_eq!(c.finish, FinishReason::ToolCalls);
        assert_eq!(c.calls[0].name, "get_weather");
        assert!(schema::check(&p.tools[1].parameters, &call_args(&c.calls[0])).is_ok());
        assert!(c.reasoning_text().contains("get_weather"));
        assert_eq!(
            c.calls[0]
                .pieces
                .iter()
                .map(|p| p.text.as_str())
                .collect::<String>(),
            c.calls[0].arguments
        );
        // After the tool's result: text.
        p.messages.push(Msg {
            role: "assistant".into(),
            tool_calls: vec![super::super::prompt::PastCall {
                id: c.calls[0].id.clone(),
                name: "get_weather".into(),
                arguments: c.calls[0].arguments.clone(),
            }],
            ..Msg::default()
        });
        p.messages.push(Msg {
            role: "tool".into(),
            text: "Sunny, 25°C".into(),
            tool_call_id: Some(c.calls[0].id.clone()),
            ..Msg::default()
        });
        let b = generate(&p, None).layout();
        assert!(b.candidates[0].calls.is_empty());
        assert!(
            b.candidates[0]
                .text()
                .contains("get_weather returned: \"Sunny, 25°C\"")
        );
        // tool_choice required calls even after a tool result; none never calls.
        p.tool_choice = ToolChoice::Required;
        assert_eq!(generate(&p, None).layout().candidates[0].calls.len(), 1);
        p.tool_choice = ToolChoice::None;
        assert!(generate(&p, None).layout().candidates[0].calls.is_empty());
        let mut j = user("Answer in json");
        j.format = Format::JsonObject;
        let text = generate(&j, None).layout().candidates[0].text();
        assert!(
            serde_json::from_str::<serde_json::Value>(&text)
                .unwrap()
                .is_object()
        );
        let schema = json!({"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]});
        j.format = Format::JsonSchema(schema.clone());
        let text = generate(&j, None).layout().candidates[0].text();
        assert!(schema::check(&schema, &serde_json::from_str(&text).unwrap()).is_ok());
    }
}
