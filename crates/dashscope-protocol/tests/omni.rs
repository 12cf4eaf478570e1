//! Omni spoken output (protocol notes §2.6), from a stream built on the documented example
//! (`tests/data/omni-audio-stream.sse`: the 2025 `delta.audio.transcript` pieces and the 2026
//! `delta.content` text in one stream, base64 audio pieces, the last two padded one by one,
//! `service_tier: null` in every chunk): decoded, accumulated, read into the unified model.

use dashscope_protocol::chat::{
    self, Audio, AudioOutput, ChatAccumulator, ChatChunk, ChatRequest, ChatStreamDecoder, Message,
    Modality,
};
use dashscope_protocol::native::{GenerationRequest, GenerationResponse, NativeAccumulator};
use dashscope_protocol::sse::Decoder;
use dashscope_protocol::stream::{Accumulate, StreamDecode, StreamItem};
use dashscope_protocol::unified::{
    ChatEventReader, NativeEventReader, UnifiedEvent, UnifiedResponse,
};
use serde_json::json;

const STREAM: &str = include_str!("data/omni-audio-stream.sse");

/// The audio the stream carries: 36 samples of 16-bit little-endian mono PCM.
fn pcm() -> Vec<u8> {
    (0..36)
        .flat_map(|i: i32| i16::try_from(i * 997 % 4096 - 2048).unwrap().to_le_bytes())
        .collect()
}

/// The stream's chunks, each checked to take the fast path (all but the usage chunk).
fn chunks() -> Vec<ChatChunk> {
    let mut sse = Decoder::new();
    sse.feed(STREAM.as_bytes());
    sse.finish();
    let (mut decoder, mut out) = (ChatStreamDecoder::new(), Vec::new());
    while let Some(event) = sse.next_event() {
        let event = event.unwrap();
        match decoder.decode(&event).unwrap() {
            StreamItem::Chunk(c) => {
                let fast = chat::__decode_fast(event.data);
                assert_eq!(fast.is_some(), !c.is_usage_chunk(), "{}", event.data);
                assert!(fast.is_none_or(|f| f == c), "fast and serde differ");
                out.push(c);
            }
            StreamItem::End => assert!(decoder.is_finished()),
            other => panic!("{other:?}"),
        }
    }
    out
}

#[test]
fn chat_stream_audio_accumulates_to_the_documented_bytes() {
    let chunks = chunks();
    assert_eq!(chunks.len(), 10);
    let piece = chunks[3].choices[0].delta.audio.as_ref().unwrap();
    assert_eq!(piece.id.as_deref(), Some("audio_5b7c2d1e"));
    let mut acc = ChatAccumulator::new();
    chunks.iter().for_each(|c| acc.push(c));
    let done = acc.finish();
    let message = &done.choices[0].message;
    let audio = message.audio.as_ref().expect("message.audio");
    assert_eq!(audio.bytes().unwrap(), pcm());
    assert_eq!(audio.transcript.as_deref(), Some("我是通义千问。"));
    assert_eq!(
        (audio.id.as_deref(), audio.expires_at),
        (Some("audio_5b7c2d1e"), Some(1_757_651_479))
    );
    assert_eq!(done.text(), Some("我是通义千问。"));
    // Nothing lost: the unknown members every chunk (and the first delta) sent.
    assert_eq!(done.extra.get("service_tier"), Some(&json!(null)));
    assert_eq!(message.extra.get("refusal"), Some(&json!(null)));
    let details = done
        .usage
        .as_ref()
        .unwrap()
        .completion_tokens_details
        .as_ref();
    assert_eq!(details.and_then(|d| d.audio_tokens), Some(57));
    // The folded answer is a plain completion: it round-trips, `audio` as OpenAI shapes it.
    let wire = serde_json::to_value(&done).unwrap();
    assert_eq!(wire["service_tier"], json!(null));
    assert_eq!(
        wire["choices"][0]["message"]["audio"]["transcript"],
        "我是通义千问。"
    );
    let back: chat::ChatCompletion = serde_json::from_value(wire).unwrap();
    assert_eq!(back, done);
    // A snapshot in the middle has the pieces so far.
    let mut half = ChatAccumulator::new();
    chunks[..5].iter().for_each(|c| half.push(c));
    let snap = half.snapshot();
    let audio = snap.choices[0].message.audio.as_ref().unwrap();
    assert_eq!(audio.bytes().unwrap(), pcm()[..48]);
}

#[test]
fn chat_stream_audio_reads_into_the_unified_model() {
    let chunks = chunks();
    let mut acc = ChatAccumulator::new();
    chunks.iter().for_each(|c| acc.push(c));
    let answer = UnifiedResponse::from_chat(&acc.finish());
    let audio = answer.audio().expect("the candidate's audio");
    assert_eq!(audio.bytes().unwrap(), pcm());
    assert_eq!(answer.text(), "我是通义千问。");

    let (mut reader, mut events) = (ChatEventReader::new(), Vec::new());
    chunks.into_iter().for_each(|c| reader.read(c, &mut events));
    let pieces = events
        .iter()
        .filter(|e| matches!(e, UnifiedEvent::AudioDelta { .. }));
    assert_eq!(pieces.count(), 6);
    assert_eq!(
        UnifiedResponse::from_events(&events).audio(),
        answer.audio()
    );
    // The event serializes with its type tag and reads back.
    let e = &events
        .iter()
        .find(|e| matches!(e, UnifiedEvent::AudioDelta { .. }))
        .unwrap();
    let text = serde_json::to_string(e).unwrap();
    assert!(text.starts_with(r#"{"type":"audio_delta""#), "{text}");
    assert_eq!(&serde_json::from_str::<UnifiedEvent>(&text).unwrap(), *e);
}

#[test]
fn native_output_audio_accumulates_and_reads() {
    let chunks: Vec<GenerationResponse> = [
        json!({"output": {"finish_reason": "null", "audio": {"data": "APjl+8r/rwOUB3n7Xv9DAygHDfvy/tcC", "expires_at": null}}, "request_id": "r", "service_tier": null}),
        json!({"output": {"finish_reason": "null", "audio": {"data": "vAah+ob+awJQBjX6Gv7/AeQFyfmu/ZMB"}}, "request_id": "r", "service_tier": null}),
        json!({"output": {"finish_reason": "stop", "audio": {"data": "", "id": "audio_r", "url": "https://example.com/a.wav", "expires_at": 1757651479}}, "request_id": "r", "service_tier": null}),
    ]
    .into_iter()
    .map(|v| serde_json::from_value(v).unwrap())
    .collect();
    let mut acc = NativeAccumulator::incremental();
    chunks.iter().for_each(|c| acc.push(c));
    let done = acc.finish();
    let audio = done.output.as_ref().unwrap().audio.as_ref().unwrap();
    assert_eq!(audio.bytes().unwrap(), pcm()[..48]);
    assert_eq!(audio.url.as_deref(), Some("https://example.com/a.wav"));
    assert_eq!(
        (audio.id.as_deref(), audio.expires_at),
        (Some("audio_r"), Some(1_757_651_479))
    );
    assert_eq!(done.extra.get("service_tier"), Some(&json!(null)));

    let answer = UnifiedResponse::from_native(&done);
    assert_eq!(answer.audio(), Some(audio));
    let (mut reader, mut events) = (NativeEventReader::new(true), Vec::new());
    chunks.into_iter().for_each(|c| reader.read(c, &mut events));
    assert_eq!(
        UnifiedResponse::from_events(&events).audio(),
        answer.audio()
    );
}

#[test]
fn audio_bytes_take_pieces_padded_one_by_one_and_report_bad_data() {
    let mut a = Audio::default();
    for piece in ["YQ==", "Yg==", "Y2Q="] {
        a.push(&Audio {
            data: Some(piece.into()),
            ..Default::default()
        });
    }
    assert_eq!(a.data.as_deref(), Some("YQ==Yg==Y2Q="));
    assert_eq!(a.bytes().unwrap(), b"abcd");
    assert_eq!(Audio::default().bytes().unwrap(), b"");
    let bad = Audio {
        data: Some("not base64!".into()),
        ..Default::default()
    };
    assert!(bad.bytes().unwrap_err().to_string().contains("base64"));
}

#[test]
fn the_documented_request_is_built_with_setters() {
    let req = ChatRequest::new("qwen3-omni-flash", vec![Message::user("你是谁")])
        .modalities(vec![Modality::Text, Modality::Audio])
        .audio(AudioOutput::new("Cherry", "wav"))
        .stream(true)
        .include_usage(true);
    assert!(req.wants_audio() && req.is_stream());
    assert_eq!(
        serde_json::to_value(&req).unwrap(),
        json!({"model": "qwen3-omni-flash", "messages": [{"role": "user", "content": "你是谁"}],
               "stream": true, "stream_options": {"include_usage": true},
               "modalities": ["text", "audio"], "audio": {"voice": "Cherry", "format": "wav"}})
    );
    let text_only = ChatRequest::new("qwen3-omni-flash", vec![]).modalities(vec![Modality::Text]);
    assert!(!text_only.wants_audio());
    // Native `parameters.modalities` is the same typed list.
    let native =
        GenerationRequest::new("qwen3-omni-flash", vec![]).modalities(vec![Modality::Audio]);
    assert_eq!(
        serde_json::to_value(&native).unwrap()["parameters"]["modalities"],
        json!(["audio"])
    );
}
