//! A hand-written decoder for the hot Responses stream events.
//!
//! [`decode_fast`] reads the `data:` payload of a text event (`response.output_text.delta`,
//! `response.reasoning_text.delta`, `response.reasoning_summary_text.delta`,
//! `response.function_call_arguments.delta`, which make up nearly all of a stream, and the
//! matching `.done` events, which repeat the whole text) straight into its
//! [`ResponseStreamEvent`] variant, without serde. It is a shortcut, not a second definition of
//! the format (the contract of [`chat::fast`](crate::chat), which it follows): whenever it
//! returns `Some(event)`, `event` equals what `serde_json::from_str::<ResponseStreamEvent>` gives
//! for the same payload (the same variant, members, `extra` and `nulls`), and whenever serde
//! fails it returns `None`. Anything it does not handle exactly also gives `None`, and the
//! caller runs the serde path:
//!
//! * any other event type (or none, or a `type` that is not a plain string);
//! * a repeated `type` with another value (an error on the serde path);
//! * a `logprobs` array with entries (only `null` and `[]` are read here);
//! * a number that is not a plain non-negative integer in range for its member;
//! * a key with an escape (including an escaped `type`);
//! * an unknown member nested more than [`MAX_UNKNOWN_DEPTH`](crate::fast::MAX_UNKNOWN_DEPTH)
//!   deep.
//!
//! The variant is the one the first member names when it is `type` (as the service and our own
//! serializer write it); when `type` comes later, the SSE `event:` name (`hint`) stands in for
//! it, and every `type` member must then repeat that name. Members before the tag are buffered
//! by the serde path and replayed into the variant, the last occurrence winning even over an
//! earlier one of the wrong type; here every member must decode in its own right, so such a
//! payload gives `None` instead of a different answer. Otherwise duplicates follow
//! `wire_struct!`: the last one wins, a value clears the member's `null` bit and a `null` sets
//! its default and the bit.

use std::borrow::Cow;

use crate::fast::{Parser, keys_are, set_null};
use crate::wire::{Extra, Nulls, name_index};

use super::response::Logprob;

use super::events::{
    FunctionCallArgumentsDeltaEvent, FunctionCallArgumentsDoneEvent, OutputTextDeltaEvent,
    OutputTextDoneEvent, ReasoningSummaryTextDeltaEvent, ReasoningSummaryTextDoneEvent,
    ReasoningTextDeltaEvent, ReasoningTextDoneEvent, ResponseStreamEvent,
};

const OUTPUT_TEXT: &str = "response.output_text.delta";
const REASONING_TEXT: &str = "response.reasoning_text.delta";
const SUMMARY_TEXT: &str = "response.reasoning_summary_text.delta";
const ARGUMENTS: &str = "response.function_call_arguments.delta";
const OUTPUT_TEXT_DONE: &str = "response.output_text.done";
const REASONING_TEXT_DONE: &str = "response.reasoning_text.done";
const SUMMARY_TEXT_DONE: &str = "response.reasoning_summary_text.done";
const ARGUMENTS_DONE: &str = "response.function_call_arguments.done";

/// The tag's key, for [`Parser::which_key`].
const TYPE_KEY: [&[u8]; 1] = [b"\"type\""];

// Each type's keys as they appear on the wire (quoted), in `WIRE_MEMBERS` order, so that a key's
// position is its `nulls` bit. A member added to one of these types fails the checks below
// until this decoder handles it.
const OUTPUT_TEXT_KEYS: [&[u8]; 6] = [
    b"\"item_id\"",
    b"\"output_index\"",
    b"\"content_index\"",
    b"\"delta\"",
    b"\"logprobs\"",
    b"\"sequence_number\"",
];
const REASONING_TEXT_KEYS: [&[u8]; 5] = [
    b"\"item_id\"",
    b"\"output_index\"",
    b"\"content_index\"",
    b"\"delta\"",
    b"\"sequence_number\"",
];
const SUMMARY_TEXT_KEYS: [&[u8]; 5] = [
    b"\"item_id\"",
    b"\"output_index\"",
    b"\"summary_index\"",
    b"\"delta\"",
    b"\"sequence_number\"",
];
const ARGUMENTS_KEYS: [&[u8]; 4] = [
    b"\"item_id\"",
    b"\"output_index\"",
    b"\"delta\"",
    b"\"sequence_number\"",
];

const _: () = assert!(keys_are(
    &OUTPUT_TEXT_KEYS,
    OutputTextDeltaEvent::WIRE_MEMBERS
));
const _: () = assert!(keys_are(
    &REASONING_TEXT_KEYS,
    ReasoningTextDeltaEvent::WIRE_MEMBERS
));
const _: () = assert!(keys_are(
    &SUMMARY_TEXT_KEYS,
    ReasoningSummaryTextDeltaEvent::WIRE_MEMBERS
));
const _: () = assert!(keys_are(
    &ARGUMENTS_KEYS,
    FunctionCallArgumentsDeltaEvent::WIRE_MEMBERS
));

const OUTPUT_TEXT_DONE_KEYS: [&[u8]; 6] = [
    b"\"item_id\"",
    b"\"output_index\"",
    b"\"content_index\"",
    b"\"text\"",
    b"\"logprobs\"",
    b"\"sequence_number\"",
];
const REASONING_TEXT_DONE_KEYS: [&[u8]; 5] = [
    b"\"item_id\"",
    b"\"output_index\"",
    b"\"content_index\"",
    b"\"text\"",
    b"\"sequence_number\"",
];
const SUMMARY_TEXT_DONE_KEYS: [&[u8]; 5] = [
    b"\"item_id\"",
    b"\"output_index\"",
    b"\"summary_index\"",
    b"\"text\"",
    b"\"sequence_number\"",
];
const ARGUMENTS_DONE_KEYS: [&[u8]; 5] = [
    b"\"item_id\"",
    b"\"output_index\"",
    b"\"arguments\"",
    b"\"name\"",
    b"\"sequence_number\"",
];

const _: () = assert!(keys_are(
    &OUTPUT_TEXT_DONE_KEYS,
    OutputTextDoneEvent::WIRE_MEMBERS
));
const _: () = assert!(keys_are(
    &REASONING_TEXT_DONE_KEYS,
    ReasoningTextDoneEvent::WIRE_MEMBERS
));
const _: () = assert!(keys_are(
    &SUMMARY_TEXT_DONE_KEYS,
    ReasoningSummaryTextDoneEvent::WIRE_MEMBERS
));
const _: () = assert!(keys_are(
    &ARGUMENTS_DONE_KEYS,
    FunctionCallArgumentsDoneEvent::WIRE_MEMBERS
));

// The `nulls` bit of every member, from the types' own member lists.
const OT_ITEM: usize = name_index(OutputTextDeltaEvent::WIRE_MEMBERS, "item_id");
const OT_OUTPUT: usize = name_index(OutputTextDeltaEvent::WIRE_MEMBERS, "output_index");
const OT_CONTENT: usize = name_index(OutputTextDeltaEvent::WIRE_MEMBERS, "content_index");
const OT_DELTA: usize = name_index(OutputTextDeltaEvent::WIRE_MEMBERS, "delta");
const OT_LOGPROBS: usize = name_index(OutputTextDeltaEvent::WIRE_MEMBERS, "logprobs");
const OT_SEQ: usize = name_index(OutputTextDeltaEvent::WIRE_MEMBERS, "sequence_number");
const RT_ITEM: usize = name_index(ReasoningTextDeltaEvent::WIRE_MEMBERS, "item_id");
const RT_OUTPUT: usize = name_index(ReasoningTextDeltaEvent::WIRE_MEMBERS, "output_index");
const RT_CONTENT: usize = name_index(ReasoningTextDeltaEvent::WIRE_MEMBERS, "content_index");
const RT_DELTA: usize = name_index(ReasoningTextDeltaEvent::WIRE_MEMBERS, "delta");
const RT_SEQ: usize = name_index(ReasoningTextDeltaEvent::WIRE_MEMBERS, "sequence_number");
const ST_ITEM: usize = name_index(ReasoningSummaryTextDeltaEvent::WIRE_MEMBERS, "item_id");
const ST_OUTPUT: usize = name_index(ReasoningSummaryTextDeltaEvent::WIRE_MEMBERS, "output_index");
const ST_SUMMARY: usize = name_index(
    ReasoningSummaryTextDeltaEvent::WIRE_MEMBERS,
    "summary_index",
);
const ST_DELTA: usize = name_index(ReasoningSummaryTextDeltaEvent::WIRE_MEMBERS, "delta");
const ST_SEQ: usize = name_index(
    ReasoningSummaryTextDeltaEvent::WIRE_MEMBERS,
    "sequence_number",
);
const FA_ITEM: usize = name_index(FunctionCallArgumentsDeltaEvent::WIRE_MEMBERS, "item_id");
const FA_OUTPUT: usize = name_index(
    FunctionCallArgumentsDeltaEvent::WIRE_MEMBERS,
    "output_index",
);
const FA_DELTA: usize = name_index(FunctionCallArgumentsDeltaEvent::WIRE_MEMBERS, "delta");
const FA_SEQ: usize = name_index(
    FunctionCallArgumentsDeltaEvent::WIRE_MEMBERS,
    "sequence_number",
);
const OD_ITEM: usize = name_index(OutputTextDoneEvent::WIRE_MEMBERS, "item_id");
const OD_OUTPUT: usize = name_index(OutputTextDoneEvent::WIRE_MEMBERS, "output_index");
const OD_CONTENT: usize = name_index(OutputTextDoneEvent::WIRE_MEMBERS, "content_index");
const OD_TEXT: usize = name_index(OutputTextDoneEvent::WIRE_MEMBERS, "text");
const OD_LOGPROBS: usize = name_index(OutputTextDoneEvent::WIRE_MEMBERS, "logprobs");
const OD_SEQ: usize = name_index(OutputTextDoneEvent::WIRE_MEMBERS, "sequence_number");
const RD_ITEM: usize = name_index(ReasoningTextDoneEvent::WIRE_MEMBERS, "item_id");
const RD_OUTPUT: usize = name_index(ReasoningTextDoneEvent::WIRE_MEMBERS, "output_index");
const RD_CONTENT: usize = name_index(ReasoningTextDoneEvent::WIRE_MEMBERS, "content_index");
const RD_TEXT: usize = name_index(ReasoningTextDoneEvent::WIRE_MEMBERS, "text");
const RD_SEQ: usize = name_index(ReasoningTextDoneEvent::WIRE_MEMBERS, "sequence_number");
const SD_ITEM: usize = name_index(ReasoningSummaryTextDoneEvent::WIRE_MEMBERS, "item_id");
const SD_OUTPUT: usize = name_index(ReasoningSummaryTextDoneEvent::WIRE_MEMBERS, "output_index");
const SD_SUMMARY: usize = name_index(ReasoningSummaryTextDoneEvent::WIRE_MEMBERS, "summary_index");
const SD_TEXT: usize = name_index(ReasoningSummaryTextDoneEvent::WIRE_MEMBERS, "text");
const SD_SEQ: usize = name_index(
    ReasoningSummaryTextDoneEvent::WIRE_MEMBERS,
    "sequence_number",
);
const FD_ITEM: usize = name_index(FunctionCallArgumentsDoneEvent::WIRE_MEMBERS, "item_id");
const FD_OUTPUT: usize = name_index(FunctionCallArgumentsDoneEvent::WIRE_MEMBERS, "output_index");
const FD_ARGUMENTS: usize = name_index(FunctionCallArgumentsDoneEvent::WIRE_MEMBERS, "arguments");
const FD_NAME: usize = name_index(FunctionCallArgumentsDoneEvent::WIRE_MEMBERS, "name");
const FD_SEQ: usize = name_index(
    FunctionCallArgumentsDoneEvent::WIRE_MEMBERS,
    "sequence_number",
);

/// Decodes one Responses `data:` payload, or `None` when it is not one of the hot delta events
/// in a shape handled here (or not JSON at all): then `serde_json::from_str` must decide.
/// `hint` is the SSE `event:` name, if any; it is only used when `type` is not the first member.
///
/// When it returns `Some(e)`, `e == serde_json::from_str::<ResponseStreamEvent>(data).unwrap()`.
pub(crate) fn decode_fast(data: &str, hint: Option<&str>) -> Option<ResponseStreamEvent> {
    let mut p = Parser {
        s: data,
        b: data.as_bytes(),
        i: 0,
    };
    if p.tok()? != b'{' {
        return None;
    }
    let open = p.i;
    let wire: &'static str = match first_tag(&mut p)? {
        Some(tag) => known(&tag)?,
        None => known(hint?)?,
    };
    p.i = open;
    let mut tagged = false;
    let event = match wire {
        OUTPUT_TEXT => {
            let mut e = OutputTextDeltaEvent::default();
            p.object(&OUTPUT_TEXT_KEYS, |p, key| match key {
                Ok(OT_ITEM) => p.opt_string_into(&mut e.item_id, &mut e.nulls, OT_ITEM),
                Ok(OT_OUTPUT) => p.opt_u32_into(&mut e.output_index, &mut e.nulls, OT_OUTPUT),
                Ok(OT_CONTENT) => p.opt_u32_into(&mut e.content_index, &mut e.nulls, OT_CONTENT),
                Ok(OT_DELTA) => p.string_into(&mut e.delta, &mut e.nulls, OT_DELTA),
                Ok(OT_LOGPROBS) => logprobs_into(p, &mut e.logprobs, &mut e.nulls, OT_LOGPROBS),
                Ok(OT_SEQ) => p.opt_u64_into(&mut e.sequence_number, &mut e.nulls, OT_SEQ),
                Ok(_) => None,
                Err(key) => other(p, &mut e.extra, key, wire, &mut tagged),
            })?;
            ResponseStreamEvent::OutputTextDelta(e)
        }
        REASONING_TEXT => {
            let mut e = ReasoningTextDeltaEvent::default();
            p.object(&REASONING_TEXT_KEYS, |p, key| match key {
                Ok(RT_ITEM) => p.opt_string_into(&mut e.item_id, &mut e.nulls, RT_ITEM),
                Ok(RT_OUTPUT) => p.opt_u32_into(&mut e.output_index, &mut e.nulls, RT_OUTPUT),
                Ok(RT_CONTENT) => p.opt_u32_into(&mut e.content_index, &mut e.nulls, RT_CONTENT),
                Ok(RT_DELTA) => p.string_into(&mut e.delta, &mut e.nulls, RT_DELTA),
                Ok(RT_SEQ) => p.opt_u64_into(&mut e.sequence_number, &mut e.nulls, RT_SEQ),
                Ok(_) => None,
                Err(key) => other(p, &mut e.extra, key, wire, &mut tagged),
            })?;
            ResponseStreamEvent::ReasoningTextDelta(e)
        }
        SUMMARY_TEXT => {
            let mut e = ReasoningSummaryTextDeltaEvent::default();
            p.object(&SUMMARY_TEXT_KEYS, |p, key| match key {
                Ok(ST_ITEM) => p.opt_string_into(&mut e.item_id, &mut e.nulls, ST_ITEM),
                Ok(ST_OUTPUT) => p.opt_u32_into(&mut e.output_index, &mut e.nulls, ST_OUTPUT),
                Ok(ST_SUMMARY) => p.opt_u32_into(&mut e.summary_index, &mut e.nulls, ST_SUMMARY),
                Ok(ST_DELTA) => p.string_into(&mut e.delta, &mut e.nulls, ST_DELTA),
                Ok(ST_SEQ) => p.opt_u64_into(&mut e.sequence_number, &mut e.nulls, ST_SEQ),
                Ok(_) => None,
                Err(key) => other(p, &mut e.extra, key, wire, &mut tagged),
            })?;
            ResponseStreamEvent::ReasoningSummaryTextDelta(e)
        }
        ARGUMENTS => {
            let mut e = FunctionCallArgumentsDeltaEvent::default();
            p.object(&ARGUMENTS_KEYS, |p, key| match key {
                Ok(FA_ITEM) => p.opt_string_into(&mut e.item_id, &mut e.nulls, FA_ITEM),
                Ok(FA_OUTPUT) => p.opt_u32_into(&mut e.output_index, &mut e.nulls, FA_OUTPUT),
                Ok(FA_DELTA) => p.string_into(&mut e.delta, &mut e.nulls, FA_DELTA),
                Ok(FA_SEQ) => p.opt_u64_into(&mut e.sequence_number, &mut e.nulls, FA_SEQ),
                Ok(_) => None,
                Err(key) => other(p, &mut e.extra, key, wire, &mut tagged),
            })?;
            ResponseStreamEvent::FunctionCallArgumentsDelta(e)
        }
        OUTPUT_TEXT_DONE => {
            let mut e = OutputTextDoneEvent::default();
            p.object(&OUTPUT_TEXT_DONE_KEYS, |p, key| match key {
                Ok(OD_ITEM) => p.opt_string_into(&mut e.item_id, &mut e.nulls, OD_ITEM),
                Ok(OD_OUTPUT) => p.opt_u32_into(&mut e.output_index, &mut e.nulls, OD_OUTPUT),
                Ok(OD_CONTENT) => p.opt_u32_into(&mut e.content_index, &mut e.nulls, OD_CONTENT),
                Ok(OD_TEXT) => p.string_into(&mut e.text, &mut e.nulls, OD_TEXT),
                Ok(OD_LOGPROBS) => logprobs_into(p, &mut e.logprobs, &mut e.nulls, OD_LOGPROBS),
                Ok(OD_SEQ) => p.opt_u64_into(&mut e.sequence_number, &mut e.nulls, OD_SEQ),
                Ok(_) => None,
                Err(key) => other(p, &mut e.extra, key, wire, &mut tagged),
            })?;
            ResponseStreamEvent::OutputTextDone(e)
        }
        REASONING_TEXT_DONE => {
            let mut e = ReasoningTextDoneEvent::default();
            p.object(&REASONING_TEXT_DONE_KEYS, |p, key| match key {
                Ok(RD_ITEM) => p.opt_string_into(&mut e.item_id, &mut e.nulls, RD_ITEM),
                Ok(RD_OUTPUT) => p.opt_u32_into(&mut e.output_index, &mut e.nulls, RD_OUTPUT),
                Ok(RD_CONTENT) => p.opt_u32_into(&mut e.content_index, &mut e.nulls, RD_CONTENT),
                Ok(RD_TEXT) => p.string_into(&mut e.text, &mut e.nulls, RD_TEXT),
                Ok(RD_SEQ) => p.opt_u64_into(&mut e.sequence_number, &mut e.nulls, RD_SEQ),
                Ok(_) => None,
                Err(key) => other(p, &mut e.extra, key, wire, &mut tagged),
            })?;
            ResponseStreamEvent::ReasoningTextDone(e)
        }
        SUMMARY_TEXT_DONE => {
            let mut e = ReasoningSummaryTextDoneEvent::default();
            p.object(&SUMMARY_TEXT_DONE_KEYS, |p, key| match key {
                Ok(SD_ITEM) => p.opt_string_into(&mut e.item_id, &mut e.nulls, SD_ITEM),
                Ok(SD_OUTPUT) => p.opt_u32_into(&mut e.output_index, &mut e.nulls, SD_OUTPUT),
                Ok(SD_SUMMARY) => p.opt_u32_into(&mut e.summary_index, &mut e.nulls, SD_SUMMARY),
                Ok(SD_TEXT) => p.string_into(&mut e.text, &mut e.nulls, SD_TEXT),
                Ok(SD_SEQ) => p.opt_u64_into(&mut e.sequence_number, &mut e.nulls, SD_SEQ),
                Ok(_) => None,
                Err(key) => other(p, &mut e.extra, key, wire, &mut tagged),
            })?;
            ResponseStreamEvent::ReasoningSummaryTextDone(e)
        }
        ARGUMENTS_DONE => {
            let mut e = FunctionCallArgumentsDoneEvent::default();
            p.object(&ARGUMENTS_DONE_KEYS, |p, key| match key {
                Ok(FD_ITEM) => p.opt_string_into(&mut e.item_id, &mut e.nulls, FD_ITEM),
                Ok(FD_OUTPUT) => p.opt_u32_into(&mut e.output_index, &mut e.nulls, FD_OUTPUT),
                Ok(FD_ARGUMENTS) => p.string_into(&mut e.arguments, &mut e.nulls, FD_ARGUMENTS),
                Ok(FD_NAME) => p.opt_string_into(&mut e.name, &mut e.nulls, FD_NAME),
                Ok(FD_SEQ) => p.opt_u64_into(&mut e.sequence_number, &mut e.nulls, FD_SEQ),
                Ok(_) => None,
                Err(key) => other(p, &mut e.extra, key, wire, &mut tagged),
            })?;
            ResponseStreamEvent::FunctionCallArgumentsDone(e)
        }
        _ => return None,
    };
    // No `type` at all makes the serde path's answer `Unknown`.
    if !tagged {
        return None;
    }
    // Only whitespace may follow the object (as `serde_json::from_str` requires).
    if p.tok().is_some() {
        return None;
    }
    Some(event)
}

/// [`decode_fast`], for the differential fuzz target and tests; not a stable API.
///
/// `Some(e)` only when `e == serde_json::from_str::<ResponseStreamEvent>(data).unwrap()`; `None`
/// for any payload it leaves to serde (including every one serde rejects).
#[doc(hidden)]
pub fn __decode_fast(data: &str, hint: Option<&str>) -> Option<ResponseStreamEvent> {
    decode_fast(data, hint)
}

/// The wire name of a hot event type (as a `'static` constant), `None` for any other.
#[inline]
fn known(tag: &str) -> Option<&'static str> {
    match tag {
        OUTPUT_TEXT => Some(OUTPUT_TEXT),
        REASONING_TEXT => Some(REASONING_TEXT),
        SUMMARY_TEXT => Some(SUMMARY_TEXT),
        ARGUMENTS => Some(ARGUMENTS),
        OUTPUT_TEXT_DONE => Some(OUTPUT_TEXT_DONE),
        REASONING_TEXT_DONE => Some(REASONING_TEXT_DONE),
        SUMMARY_TEXT_DONE => Some(SUMMARY_TEXT_DONE),
        ARGUMENTS_DONE => Some(ARGUMENTS_DONE),
        _ => None,
    }
}

/// The value of the object's first member when that member is `type` (`Some(None)` when the
/// first member is another one or there is none). The cursor is on the `{`; `None` gives up.
#[inline]
fn first_tag<'a>(p: &mut Parser<'a>) -> Option<Option<Cow<'a, str>>> {
    p.i += 1;
    if p.tok()? != b'"' {
        return Some(None);
    }
    if p.which_key(&TYPE_KEY)?.is_err() {
        return Some(None);
    }
    if p.tok()? != b':' {
        return None;
    }
    p.i += 1;
    if p.tok()? != b'"' {
        return None;
    }
    p.string().map(Some)
}

/// A member not in the variant's list: the tag (which must name `wire` again) or an unknown
/// member.
#[inline]
fn other(
    p: &mut Parser<'_>,
    extra: &mut Extra,
    key: &str,
    wire: &str,
    tagged: &mut bool,
) -> Option<()> {
    if key != "type" {
        return p.unknown(extra, key);
    }
    if p.tok()? != b'"' || p.string()? != wire {
        return None;
    }
    *tagged = true;
    Some(())
}

/// A `logprobs` member into `slot`: `null` or an empty array (`[]`, as DashScope sends it);
/// entries are left to serde.
#[inline]
fn logprobs_into(
    p: &mut Parser<'_>,
    slot: &mut Option<Vec<Logprob>>,
    nulls: &mut Nulls,
    index: usize,
) -> Option<()> {
    let null = match p.tok()? {
        b'n' => {
            p.null()?;
            *slot = None;
            true
        }
        b'[' => {
            p.i += 1;
            if p.tok()? != b']' {
                return None;
            }
            p.i += 1;
            *slot = Some(Vec::new());
            false
        }
        _ => return None,
    };
    set_null(nulls, index, null);
    Some(())
}
