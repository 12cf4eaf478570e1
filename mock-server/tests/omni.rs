//! Qwen-Omni spoken output over TCP (issue #16 item 4): a stream with `modalities` `audio`
//! carries `delta.audio` pieces whose base64 `data` concatenates to one valid WAV file, the
//! same for the same request; a non-stream Omni request is refused as the service does.

mod common;

use std::time::Duration;

use common::*;
use dashscope_mock::MockServer;
use dashscope_protocol::chat::{ChatAccumulator, ChatChunk};
use dashscope_protocol::sse::{Decoder, Mode};
use dashscope_protocol::stream::Accumulate;
use serde_json::{Value, json};

fn omni(prompt: &str) -> Value {
    json!({
        "model": "qwen3-omni-flash",
        "messages": [{"role": "user", "content": prompt}],
        "modalities": ["text", "audio"],
        "audio": {"voice": "Cherry", "format": "wav"},
        "stream": true,
        "stream_options": {"include_usage": true},
    })
}

/// The chunks of a chat stream.
fn chunks(raw: &Raw) -> Vec<ChatChunk> {
    assert_eq!(raw.status, 200, "{}", raw.text());
    let mut dec = Decoder::with_mode(Mode::Standard);
    dec.feed(&raw.body);
    dec.finish();
    let mut out = Vec::new();
    while let Some(ev) = dec.next_event() {
        let data = ev.expect("an SSE event").data.to_owned();
        if data != "[DONE]" {
            out.push(serde_json::from_str(&data).expect("a chat chunk"));
        }
    }
    out
}

/// Reads a WAV header: (channels, rate, bits per sample, data bytes), checking the sizes.
fn wav(bytes: &[u8]) -> (u16, u32, u16, usize) {
    let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
    let u32_at = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().unwrap());
    assert_eq!(&bytes[..4], b"RIFF");
    assert_eq!(u32_at(4) as usize, bytes.len() - 8, "the RIFF size");
    assert_eq!(&bytes[8..16], b"WAVEfmt ");
    assert_eq!((u32_at(16), u16_at(20)), (16, 1), "a PCM fmt chunk");
    let (channels, rate, bits) = (u16_at(22), u32_at(24), u16_at(34));
    assert_eq!(
        u32_at(28),
        rate * u32::from(channels * bits / 8),
        "bytes per second"
    );
    assert_eq!(&bytes[36..40], b"data");
    assert_eq!(u32_at(40) as usize, bytes.len() - 44, "the data size");
    (channels, rate, bits, bytes.len() - 44)
}

#[test]
fn an_omni_stream_speaks_one_valid_wav() {
    within(Duration::from_secs(60), || {
        let s = MockServer::builder().no_defaults().start().expect("server");
        let audio = |prompt: &str| {
            let chunks = chunks(&post(s.address(), CHAT, &[], &omni(prompt)));
            let pieces: Vec<String> = chunks
                .iter()
                .flat_map(|c| c.choices.iter())
                .filter_map(|c| c.delta.audio.as_ref()?.data.clone())
                .collect();
            // Whole 3-byte groups: no padding but in the last piece.
            let (last, rest) = pieces.split_last().expect("audio pieces");
            assert!(rest.iter().all(|p| p.len() % 4 == 0 && !p.contains('=')));
            assert!(!last.is_empty() && !last.trim_end_matches('=').contains('='));
            let mut acc = ChatAccumulator::new();
            chunks.iter().for_each(|c| acc.push(c));
            let done = acc.finish();
            let message = &done.choices[0].message;
            let audio = message.audio.clone().expect("the folded audio");
            assert_eq!(audio.data.as_deref(), Some(pieces.concat().as_str()));
            // The transcript says what the text says.
            let text = done.text().expect("text").to_owned();
            assert_eq!(audio.transcript.as_deref(), Some(text.as_str()));
            assert!(done.usage.is_some());
            audio.bytes().expect("base64")
        };
        let bytes = audio("Tell me a short story.");
        let (channels, rate, bits, data) = wav(&bytes);
        assert_eq!((channels, rate, bits), (1, 24_000, 16));
        assert!(data > 0 && data <= 4 * 48_000, "{data} bytes of audio");
        assert!(bytes[44..].iter().any(|&b| b != 0), "not silence");
        // Deterministic: the same request speaks the same bytes; other words, other sounds.
        assert_eq!(audio("Tell me a short story."), bytes);
        assert_ne!(audio("Sing me a song."), bytes);
    });
}

#[test]
fn omni_answers_in_a_stream_only() {
    within(Duration::from_secs(30), || {
        let s = MockServer::builder().no_defaults().start().expect("server");
        // Non-stream: refused like the service, for an Omni model or a request for audio.
        for (model, stream) in [("qwen3-omni-flash", Some(false)), ("qwen-omni-turbo", None)] {
            let mut body = omni("Hello");
            body["model"] = json!(model);
            match stream {
                Some(s) => body["stream"] = json!(s),
                None => drop(body.as_object_mut().unwrap().remove("stream")),
            }
            body.as_object_mut().unwrap().remove("stream_options");
            let r = post(s.address(), CHAT, &[], &body);
            assert_eq!(r.status, 400, "{}", r.text());
            let e = &r.json()["error"];
            assert_eq!(
                e["message"],
                format!("{model} only support with stream=true")
            );
            assert_eq!(e["type"], "invalid_request_error");
        }
        let mut body = omni("Hello");
        body["model"] = json!("qwen-plus");
        body["stream"] = json!(false);
        body.as_object_mut().unwrap().remove("stream_options");
        assert_eq!(post(s.address(), CHAT, &[], &body).status, 400);
        // An Omni stream asking for text only: no audio.
        let mut body = omni("Hello");
        body.as_object_mut().unwrap().remove("modalities");
        let chunks = chunks(&post(s.address(), CHAT, &[], &body));
        let audio = chunks.iter().flat_map(|c| c.choices.iter());
        assert!(audio.clone().all(|c| c.delta.audio.is_none()));
        assert!(
            audio
                .clone()
                .any(|c| c.delta.content.as_deref().is_some_and(|t| !t.is_empty()))
        );
    });
}
