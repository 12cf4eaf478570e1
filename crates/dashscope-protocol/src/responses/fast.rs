//! The fast path for the hot Responses stream events.
//!
//! [`decode_fast`] reads the `data:` payload of a text event (`response.output_text.delta`,
//! `response.reasoning_text.delta`, `response.reasoning_summary_text.delta`,
//! `response.function_call_arguments.delta`, which make up nearly all of a stream, and the
//! matching `.done` events, which repeat the whole text) straight into its
//! [`ResponseStreamEvent`] variant, with the member readers `@fast` generates for the event
//! types, under the contract of [`crate::fast`]: `Some(event)` only when `event` equals what
//! `serde_json::from_str::<ResponseStreamEvent>` gives (the same variant, members, `extra` and
//! `nulls`), `None` whenever serde fails. On top of what [`crate::fast`] leaves to serde, this
//! gives up on any other event type (or none, or a `type` that is not a plain string) and on a
//! repeated `type` with another value (an error on the serde path).
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

use crate::fast::{FastStruct, Parser};

use super::events::ResponseStreamEvent;

const OUTPUT_TEXT: &str = "response.output_text.delta";
const REASONING_TEXT: &str = "response.reasoning_text.delta";
const SUMMARY_TEXT: &str = "response.reasoning_summary_text.delta";
const ARGUMENTS: &str = "response.function_call_arguments.delta";
const OUTPUT_TEXT_DONE: &str = "response.output_text.done";
const REASONING_TEXT_DONE: &str = "response.reasoning_text.done";
const SUMMARY_TEXT_DONE: &str = "response.reasoning_summary_text.done";
const ARGUMENTS_DONE: &str = "response.function_call_arguments.done";

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
    let t = &mut tagged;
    let event = match wire {
        OUTPUT_TEXT => ResponseStreamEvent::OutputTextDelta(event(&mut p, wire, t)?),
        REASONING_TEXT => ResponseStreamEvent::ReasoningTextDelta(event(&mut p, wire, t)?),
        SUMMARY_TEXT => ResponseStreamEvent::ReasoningSummaryTextDelta(event(&mut p, wire, t)?),
        ARGUMENTS => ResponseStreamEvent::FunctionCallArgumentsDelta(event(&mut p, wire, t)?),
        OUTPUT_TEXT_DONE => ResponseStreamEvent::OutputTextDone(event(&mut p, wire, t)?),
        REASONING_TEXT_DONE => ResponseStreamEvent::ReasoningTextDone(event(&mut p, wire, t)?),
        SUMMARY_TEXT_DONE => ResponseStreamEvent::ReasoningSummaryTextDone(event(&mut p, wire, t)?),
        ARGUMENTS_DONE => ResponseStreamEvent::FunctionCallArgumentsDone(event(&mut p, wire, t)?),
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

/// The event object at the cursor (on its `{`), read as `T`; its `type` members must name
/// `wire` (and set `tagged`).
#[inline(always)]
fn event<T: FastStruct>(p: &mut Parser<'_>, wire: &str, tagged: &mut bool) -> Option<T> {
    let mut e = T::default();
    p.members(&mut e, |p, e, key| {
        if key != "type" {
            return p.unknown(e.fast_extra(), key);
        }
        if p.tok()? != b'"' || p.string()? != wire {
            return None;
        }
        *tagged = true;
        Some(())
    })?;
    Some(e)
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
    if p.which_member(&["type"])?.is_err() {
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
