//! Float members keep the number text they were sent: an integer (`"fps": 2`) comes back as an
//! integer, not `2.0`; any other number comes back in serde_json's canonical form (shortest text
//! that reads back as the same `f64`, with `float_roundtrip` parsing).

use dashscope_protocol::{chat, native, responses};
use proptest::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Every float member of every wire type, as a JSON text with `N` where the number goes
/// (members in declaration order, so that the serialized text is comparable).
fn check_all(number: &str) {
    fn one<T: Serialize + DeserializeOwned>(template: &str, number: &str) {
        let canonical = serde_json::from_str::<serde_json::Value>(number)
            .unwrap()
            .to_string();
        let parsed: T = serde_json::from_str(&template.replace('N', number)).unwrap();
        let back = serde_json::to_string(&parsed).unwrap();
        assert_eq!(
            back,
            template.replace('N', &canonical),
            "{template} with {number}"
        );
        let integer = number
            .trim_start_matches('-')
            .bytes()
            .all(|b| b.is_ascii_digit());
        if integer && number.parse::<i64>().is_ok() && number != "-0" {
            assert_eq!(canonical, number, "an integer comes back as it was sent");
        }
    }
    for member in [
        "temperature",
        "top_p",
        "presence_penalty",
        "frequency_penalty",
        "repetition_penalty",
    ] {
        one::<chat::ChatRequest>(
            &format!(r#"{{"model":"m","messages":[],"{member}":N}}"#),
            number,
        );
    }
    one::<chat::ContentPart>(
        r#"{"type":"video_url","video_url":{"url":"u"},"fps":N}"#,
        number,
    );
    one::<chat::ContentPart>(r#"{"type":"video","video":["a"],"fps":N}"#, number);
    for member in [
        "temperature",
        "top_p",
        "repetition_penalty",
        "presence_penalty",
    ] {
        one::<native::Parameters>(&format!(r#"{{"{member}":N}}"#), number);
    }
    one::<native::ContentItem>(r#"{"video":"v","fps":N}"#, number);
    for member in ["temperature", "top_p"] {
        one::<responses::ResponseRequest>(
            &format!(r#"{{"model":"m","input":"hi","{member}":N}}"#),
            number,
        );
        one::<responses::Response>(&format!(r#"{{"id":"r","{member}":N}}"#), number);
    }
    one::<responses::ContentPart>(r#"{"type":"input_video","video_url":"v","fps":N}"#, number);
    one::<responses::OutputItem>(
        r#"{"type":"file_search_call","results":[{"score":N}]}"#,
        number,
    );
    one::<chat::TokenLogprob>(r#"{"logprob":N,"top_logprobs":[{"logprob":N}]}"#, number);
}

#[test]
fn an_integer_for_a_float_member_stays_an_integer() {
    for n in [
        "2",
        "0",
        "-3",
        "18446744073709551615",
        "2.0",
        "0.5",
        "1e2",
        "-0",
    ] {
        check_all(n);
    }
    let item: native::ContentItem = serde_json::from_str(r#"{"video":"v","fps":2}"#).unwrap();
    assert_eq!(
        serde_json::to_string(&item).unwrap(),
        r#"{"video":"v","fps":2}"#
    );
    // Setters take an `f64`; a non-finite one clears the member.
    let p = native::Parameters::default()
        .temperature(0.5)
        .top_p(f64::NAN);
    assert_eq!(serde_json::to_string(&p).unwrap(), r#"{"temperature":0.5}"#);
}

fn number_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        "-?[1-9][0-9]{19,24}",
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| f.to_string()),
        "-?(0|[1-9][0-9]{0,6})\\.[0-9]{1,8}([eE][-+]?[0-9]{1,2})?",
        "-?[1-9][0-9]{0,3}[eE][-+]?[0-9]{1,2}",
    ]
}

proptest! {
    #[test]
    fn any_number_text_round_trips(number in number_text()) {
        check_all(&number);
    }
}
