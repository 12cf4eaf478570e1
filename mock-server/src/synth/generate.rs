//! The deterministic answer generator: a [`Conversation`] in, a [`UnifiedResponse`] out, with
//! no dialect in sight.
//!
//! * The answer is a pure function of the conversation (its [`fingerprint`]), the request's
//!   `seed` and the server's `--seed` (when one is set).
//! * Text is cut into tokens by a simple rule (a word of ASCII letters and digits with its
//!   leading space, at most 8 characters; any other character alone); see [`tokens`].
//! * Usage: input tokens count the messages (text tokens plus 4 per message), media (256 per
//!   image, 80 per audio clip, 64 per video frame or 512 per video file) and tool definitions;
//!   output tokens are reasoning plus text plus tool-call tokens, summed over the candidates.

use base64::Engine as _;
use dashscope_protocol::cassette::last_user_text;
use dashscope_protocol::unified::{
    Audio, Candidate, Conversation, FinishReason, Message, Part, ReasoningEffort, ResponseFormat,
    Role, Tool, ToolCall, ToolChoice, UnifiedResponse, Usage, VideoSource,
};
use serde_json::{Value, json};

use super::schema::{self, Rng};
use crate::state::splitmix64;

/// The tokens of `text`, one by one (nothing allocated): a space and the run of up to 8 ASCII
/// letters and digits after it, such a run alone, or any other single character. They
/// concatenate back to the text.
pub(crate) fn tokens(text: &str) -> impl Iterator<Item = &str> {
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
            j += b[j..]
                .iter()
                .take(8)
                .take_while(|c| c.is_ascii_alphanumeric())
                .count();
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
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The first `max` tokens of `text`.
fn first_tokens(text: &str, max: u64) -> String {
    tokens(text)
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
        return one_line.to_owned();
    }
    let mut s: String = one_line.chars().take(max).collect();
    s.push('…');
    s
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

/// A role as the generator reads it (`developer` is `system`).
fn role(m: &Message) -> &str {
    match &m.role {
        Role::Unknown(r) if r == "developer" => "system",
        r => r.as_str(),
    }
}

/// A media part: its noun, where it is, and how many frames (a video given as frames).
fn media(p: &Part) -> Option<(&'static str, String, usize)> {
    match p {
        Part::Text(_) => None,
        Part::Image(i) => Some(("image", i.url.clone(), 0)),
        Part::Audio(a) => Some(("audio clip", a.url.clone(), 0)),
        Part::Video(v) => Some(match &v.source {
            VideoSource::Url(url) => ("video", url.clone(), 0),
            VideoSource::Frames(f) => ("video", f.first().cloned().unwrap_or_default(), f.len()),
        }),
        // A part only one dialect has (a Responses `input_file`): its URL if it has one.
        Part::Dialect(d) => {
            let v = d.to_json();
            let url = ["file_url", "file_id", "image_url"]
                .iter()
                .find_map(|k| v.get(*k)?.as_str());
            url.map(|u| ("image", u.to_owned(), 0))
        }
    }
}

/// The functions a conversation offers, with their parameter schemas.
fn functions(conv: &Conversation) -> Vec<(&str, Value)> {
    let schema = |p: &Option<Value>| {
        p.clone()
            .unwrap_or_else(|| json!({"type": "object", "properties": {}}))
    };
    conv.tools
        .iter()
        .filter_map(|t| match t {
            Tool::Function(f) => Some((f.name.as_str(), schema(&f.parameters))),
            Tool::Dialect(_) => None,
        })
        .collect()
}

/// Whether the answer thinks: asked for, or a thinking-only model.
pub(crate) fn thinks(conv: &Conversation) -> bool {
    let effort = conv.thinking.effort.as_ref();
    let by_effort =
        effort.is_some_and(|e| !matches!(e, ReasoningEffort::None | ReasoningEffort::Minimal));
    let m = conv.model.to_ascii_lowercase();
    let always = ["qwq", "qvq", "deepseek-r1"]
        .iter()
        .any(|p| m.starts_with(p))
        || m.contains("-thinking");
    conv.thinking.enabled.unwrap_or(by_effort) || always
}

/// The canonical text of everything the answer depends on (hashed for determinism): the
/// model, the messages, the tools and the settings, but not `n`, `stop` or the token limits,
/// which only shape the same underlying answer.
pub(crate) fn fingerprint(conv: &Conversation) -> String {
    let mut out = String::new();
    let mut push = |k: &str, v: &str| {
        out.push_str(k);
        out.push('\u{1f}');
        out.push_str(v);
        out.push('\u{1e}');
    };
    push("model", &conv.model);
    for m in &conv.messages {
        push("role", role(m));
        push("text", &m.joined_text());
        for (noun, url, _) in m.parts.iter().filter_map(media) {
            push(noun, &url);
        }
        for c in &m.tool_calls {
            push(
                "call",
                &format!("{}\u{1f}{}\u{1f}{}", c.id, c.name, c.arguments),
            );
        }
        if let Some(id) = &m.tool_call_id {
            push("tool_call_id", id);
        }
        if m.partial {
            push("partial", "true");
        }
    }
    for (name, parameters) in functions(conv) {
        push("tool", name);
        push("parameters", &parameters.to_string());
    }
    push(
        "tool_choice",
        &format!(
            "{:?}",
            conv.tool_choice.as_ref().unwrap_or(&ToolChoice::Auto)
        ),
    );
    push(
        "format",
        &format!(
            "{:?}",
            conv.response_format
                .as_ref()
                .unwrap_or(&ResponseFormat::Text)
        ),
    );
    push("thinking", if thinks(conv) { "on" } else { "off" });
    if let Some(seed) = conv.sampling.seed {
        push("seed", &seed.to_string());
    }
    out
}

/// The seed all choices of an answer derive from.
pub(crate) fn base_seed(conv: &Conversation, server_seed: Option<u64>) -> u64 {
    let fp = fnv1a(fingerprint(conv).as_bytes());
    splitmix64(fp ^ server_seed.map_or(0, |s| splitmix64(s).rotate_left(17)))
}

/// The last user message's text, on one line, cut at 80 characters.
fn question(conv: &Conversation) -> String {
    last_user_text(conv).map_or_else(String::new, |t| snippet(&t, 80))
}

/// "I received …." for the media of the user messages since the last assistant turn.
fn media_sentence(conv: &Conversation) -> Option<String> {
    let start = conv
        .messages
        .iter()
        .rposition(|m| m.role == Role::Assistant)
        .map_or(0, |i| i + 1);
    let named: Vec<String> = conv.messages[start..]
        .iter()
        .filter(|m| m.role == Role::User)
        .flat_map(|m| m.parts.iter().filter_map(media))
        .map(|(noun, url, frames)| {
            if url.starts_with("data:") || url.is_empty() {
                return format!("an inline {noun}");
            }
            let path = url.split(['?', '#']).next().unwrap_or("");
            let name = path
                .rsplit('/')
                .next()
                .filter(|n| !n.is_empty())
                .unwrap_or(&url);
            if frames > 0 {
                format!(
                    "a video of {frames} frames starting with {}",
                    snippet(name, 60)
                )
            } else {
                format!("the {noun} {}", snippet(name, 60))
            }
        })
        .collect();
    (!named.is_empty()).then(|| format!("I received {}.", named.join(", ")))
}

/// Which functions the answer calls, if any.
fn chosen_tools(conv: &Conversation, tools: &[(&str, Value)], base: u64) -> Vec<usize> {
    if tools.is_empty() {
        return Vec::new();
    }
    let last_is_user = conv.messages.last().is_some_and(|m| m.role == Role::User);
    match conv.tool_choice.as_ref().unwrap_or(&ToolChoice::Auto) {
        ToolChoice::None => return Vec::new(),
        ToolChoice::Function(name) => {
            return tools.iter().position(|t| t.0 == name).into_iter().collect();
        }
        ToolChoice::Auto if !last_is_user => return Vec::new(),
        ToolChoice::Auto | ToolChoice::Required => {}
    }
    let asked = last_user_text(conv).unwrap_or_default().to_lowercase();
    let mentioned: Vec<usize> = (0..tools.len())
        .filter(|&i| {
            let name = tools[i].0.to_lowercase();
            asked.contains(&name) || asked.contains(&name.replace('_', " "))
        })
        .collect();
    match (mentioned.first(), conv.parallel_tool_calls == Some(true)) {
        (Some(_), true) => mentioned.into_iter().take(4).collect(),
        (Some(&first), false) => vec![first],
        (None, _) => vec![(base % tools.len() as u64) as usize],
    }
}

fn reasoning_for(conv: &Conversation, rng: &mut Rng, calls: &[&str]) -> String {
    let question = question(conv);
    let mut r = if question.is_empty() {
        "The user sent a message without text.".to_owned()
    } else {
        format!("The user asks: \"{question}\".")
    };
    if conv.messages.last().is_some_and(|m| m.role == Role::Tool) {
        r.push_str(" A tool has answered, so I can reply from its result.");
    } else if !calls.is_empty() {
        r.push_str(&format!(
            " I should call {} to answer.",
            calls.join(" and ")
        ));
    }
    if let Some(m) = media_sentence(conv) {
        r.push(' ');
        r.push_str(&m);
    }
    r.push(' ');
    r.push_str(rng.pick(&THOUGHTS).copied().unwrap_or(THOUGHTS[0]));
    r
}

fn plain_answer(conv: &Conversation, rng: &mut Rng) -> String {
    let last = conv.messages.last();
    if last.is_some_and(|m| m.role == Role::Assistant && m.partial) {
        // Partial mode: continue the prefix, without repeating it.
        return format!(" {}", rng.pick(&SENTENCES).copied().unwrap_or(SENTENCES[0]));
    }
    let mut parts = vec![rng.pick(&OPENERS).copied().unwrap_or(OPENERS[0]).to_owned()];
    if let Some(tool) = last.filter(|m| m.role == Role::Tool) {
        let called = |id: &str| {
            let calls = conv.messages.iter().flat_map(|m| m.tool_calls.iter());
            calls.clone().find(|c| c.id == id).map(|c| c.name.clone())
        };
        let name = tool
            .name
            .clone()
            .or_else(|| called(tool.tool_call_id.as_deref()?));
        let name = name.unwrap_or_else(|| "the tool".to_owned());
        parts.push(format!(
            "{name} returned: \"{}\".",
            snippet(&tool.joined_text(), 80)
        ));
    } else if let Some(text) = last_user_text(conv) {
        let q = snippet(&text, 80);
        if !q.is_empty() {
            parts.push(format!("You asked: \"{q}\"."));
        }
        // Multi-turn: recall the user's previous turn.
        let users = conv
            .messages
            .iter()
            .filter(|m| m.role == Role::User)
            .map(Message::joined_text);
        if let Some(e) = users
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .iter()
            .rev()
            .nth(1)
        {
            parts.push(format!("Earlier you said: \"{}\".", snippet(e, 80)));
        }
    }
    parts.extend(media_sentence(conv));
    let first = rng.below(SENTENCES.len());
    let second = (first + 1 + rng.below(SENTENCES.len() - 1)) % SENTENCES.len();
    parts.push(SENTENCES[first].to_owned());
    parts.push(SENTENCES[second].to_owned());
    parts.join(" ")
}

fn format_answer(conv: &Conversation, rng: &mut Rng, seed: u64) -> String {
    match conv.response_format.as_ref() {
        None | Some(ResponseFormat::Text) => plain_answer(conv, rng),
        Some(ResponseFormat::JsonObject) => {
            let answer = rng.pick(&SENTENCES).copied().unwrap_or(SENTENCES[0]);
            let v = json!({"answer": answer, "question": question(conv)});
            serde_json::to_string_pretty(&v).unwrap_or_default()
        }
        Some(ResponseFormat::JsonSchema(j)) => {
            let object = json!({"type": "object"});
            let v = schema::instance(j.schema.as_ref().unwrap_or(&object), seed, None);
            v.to_string()
        }
    }
}

/// The sample rate of synthetic speech: 16-bit mono PCM at 24 kHz, as the Omni docs read it.
const RATE: u32 = 24_000;

/// Synthetic speech has half a second of sound per sentence, for at most this many sentences
/// (so at most 4 s: a WAV of 192 KB, 256 KB of base64).
const MAX_SENTENCES: usize = 8;

/// `text` spoken: a WAV file (RIFF, PCM 16-bit mono, 24 kHz), base64, with half a second of a
/// triangle tone per sentence at a pitch picked by `rng`, and `text` as its transcript.
fn speech(text: &str, rng: &mut Rng) -> Audio {
    let sentences = text.split_inclusive(['.', '!', '?', '。', '！', '？']);
    let samples = (sentences.count().clamp(1, MAX_SENTENCES) as u32) * RATE / 2;
    // RIFF, WAVE, a `fmt ` chunk (PCM, mono, the rate, bytes per second, per sample, bits per
    // sample), the `data` chunk.
    let len = 2 * samples;
    let mut wav = [
        b"RIFF" as &[u8],
        &(36 + len).to_le_bytes(),
        b"WAVEfmt ",
        &[16, 0, 0, 0, 1, 0, 1, 0],
        &RATE.to_le_bytes(),
        &(2 * RATE).to_le_bytes(),
        &[2, 0, 16, 0],
        b"data",
        &len.to_le_bytes(),
    ]
    .concat();
    let mut period = 0;
    for i in 0..samples as i32 {
        if i % (RATE as i32 / 2) == 0 {
            period = 40 + rng.below(80) as i32; // 200 to 600 Hz
        }
        let v = 6_000 * (4 * (i % period) - 2 * period).abs() / period - 6_000;
        wav.extend_from_slice(&(v as i16).to_le_bytes());
    }
    Audio {
        data: Some(base64::engine::general_purpose::STANDARD.encode(wav)),
        transcript: Some(text.to_owned()),
        ..Default::default()
    }
}

/// The input token count of a conversation.
fn input_tokens(conv: &Conversation, tools: &[(&str, Value)]) -> u64 {
    let mut n = 0;
    for m in &conv.messages {
        n += 4 + count_tokens(&m.joined_text());
        n += m
            .tool_calls
            .iter()
            .map(|c| count_tokens(&c.name) + count_tokens(&c.arguments))
            .sum::<u64>();
        for (noun, _, frames) in m.parts.iter().filter_map(media) {
            n += match (noun, frames) {
                ("image", _) => 256,
                ("audio clip", _) => 80,
                (_, 0) => 512,
                (_, frames) => 64 * frames as u64,
            };
        }
    }
    n += tools
        .iter()
        .map(|(name, p)| 8 + count_tokens(name) + count_tokens(&p.to_string()))
        .sum::<u64>();
    n.max(1)
}

/// The answer to `conv`, and the seed its stream pieces are cut with. `server_seed` is the
/// configured `--seed`, if any.
pub(crate) fn generate(conv: &Conversation, server_seed: Option<u64>) -> (UnifiedResponse, u64) {
    let base = base_seed(conv, server_seed);
    let tools = functions(conv);
    let chosen = chosen_tools(conv, &tools, base);
    let names: Vec<&str> = chosen.iter().map(|&i| tools[i].0).collect();
    let thinking = thinks(conv);
    // Spoken output: a chat request's `modalities` has `audio` (Omni models).
    let speaks = conv.kept.as_deref().and_then(|k| k.chat());
    let speaks = speaks.is_some_and(|r| r.wants_audio());
    let s = &conv.sampling;
    let stops: Vec<&String> = s.stop.iter().flatten().filter(|t| !t.is_empty()).collect();
    let mut candidates = Vec::new();
    let (mut output, mut reasoning_total) = (0, 0);
    for index in 0..s.n.map_or(1, |n| n.clamp(1, 4)) {
        let seed = splitmix64(base ^ u64::from(index).wrapping_mul(0x9E37_79B9));
        let mut rng = Rng::new(seed);
        let mut reasoning = if thinking {
            reasoning_for(conv, &mut rng, &names)
        } else {
            String::new()
        };
        if let Some(budget) = conv.thinking.budget.map(u64::from) {
            reasoning = first_tokens(&reasoning, budget);
        }
        let mut calls = Vec::new();
        let mut text = String::new();
        let mut finish = FinishReason::Stop;
        if chosen.is_empty() {
            text = format_answer(conv, &mut rng, seed);
            // `stop`: cut before the first stop string the text holds.
            if let Some(at) = stops.iter().filter_map(|t| text.find(t.as_str())).min() {
                text.truncate(at);
            }
        } else {
            let said = last_user_text(conv);
            for (k, &i) in chosen.iter().enumerate() {
                let (name, parameters) = &tools[i];
                let args_seed = splitmix64(seed ^ fnv1a(name.as_bytes()) ^ k as u64);
                let args = schema::instance(parameters, args_seed, said.as_deref());
                let id = format!(
                    "call_{:016x}{:08x}",
                    rng.next_u64(),
                    rng.next_u64() & 0xFFFF_FFFF
                );
                calls.push(ToolCall::new(id, *name, args.to_string()));
            }
            finish = FinishReason::ToolCalls;
        }
        if let Some(max) = s.max_completion_tokens.or(s.max_tokens) {
            let (r, t) = (count_tokens(&reasoning), count_tokens(&text));
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
        let audio = (speaks && !text.is_empty()).then(|| speech(&text, &mut rng));
        candidates.push(Candidate {
            index,
            text,
            reasoning,
            tool_calls: calls,
            audio,
            finish_reason: Some(finish),
        });
    }
    let usage = Usage {
        reasoning_tokens: thinking.then_some(reasoning_total),
        cached_tokens: Some(0),
        ..Usage::new(input_tokens(conv, &tools), output)
    };
    let answer = UnifiedResponse {
        model: Some(conv.model.clone()),
        candidates,
        usage: Some(usage),
        ..Default::default()
    };
    (answer, base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_concatenate_back() {
        for t in [
            "Hello, world!  It's 2026.",
            "你好，世界",
            " leading",
            "averyveryverylongword and\nnew lines",
            "",
        ] {
            assert_eq!(tokens(t).collect::<String>(), t);
        }
        assert_eq!(tokens("Hi there").collect::<Vec<_>>(), ["Hi", " there"]);
        assert_eq!(count_tokens("你好"), 2);
    }
}
