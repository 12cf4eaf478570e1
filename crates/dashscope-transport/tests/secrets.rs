//! The key scrubber over arbitrary bytes: it never panics, and no form of the key survives,
//! whether a text is scrubbed whole or arrives as a stream cut anywhere.

use base64::Engine as _;
use dashscope_transport::secrets::{REDACTED, Secrets, StreamScrubber};
use proptest::prelude::*;

const KEY: &str = "sk-0123456789abcdef0123456789abcdef";

/// What a gateway might echo: the key as it is, percent-encoded, JSON-escaped in part, inside
/// the base64 of a `Basic` credential, and inside a JSON string inside a JSON string.
fn forms() -> Vec<Vec<u8>> {
    let percent: String = KEY.bytes().map(|b| format!("%{b:02X}")).collect();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("user:{KEY}"));
    let nested = serde_json::to_string(&serde_json::to_string(KEY).unwrap()).unwrap();
    [
        KEY.to_owned(),
        percent,
        format!("\\u0073{}", &KEY[1..]),
        format!("Basic {basic}"),
        nested,
    ]
    .into_iter()
    .map(String::into_bytes)
    .collect()
}

/// Arbitrary bytes, line ends and escape starts among them, with forms of the key mixed in.
fn text() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        3 => prop::collection::vec(any::<u8>(), 0..24),
        2 => prop::collection::vec(prop::sample::select(b"\\%un\r\n\"sk-0aZ=+/".to_vec()), 0..12),
        2 => (0..forms().len()).prop_map(|i| forms()[i].clone()),
    ];
    prop::collection::vec(piece, 0..12).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn no_form_of_the_key_survives_whole_or_streamed(
        text in text(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let secrets = Secrets::new([KEY]);
        let whole = secrets.scrub(&text, REDACTED).into_owned();
        prop_assert!(!secrets.leaks(&whole), "whole: {}", String::from_utf8_lossy(&whole));

        let mut at: Vec<usize> = cuts.iter().map(|i| i.index(text.len() + 1)).collect();
        at.sort_unstable();
        let mut stream = StreamScrubber::new(secrets.clone());
        let (mut out, mut from) = (Vec::new(), 0);
        for to in at.into_iter().chain([text.len()]) {
            out.extend_from_slice(stream.push(&text[from..to]));
            from = to;
        }
        out.extend(stream.finish());
        prop_assert!(!secrets.leaks(&out), "streamed: {}", String::from_utf8_lossy(&out));
        // Lines this short are scrubbed line by line exactly as the whole text is.
        prop_assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(&whole));
    }
}
