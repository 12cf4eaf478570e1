//! The fast path for the hot Responses stream events.
//!
//! [`__decode_fast`] reads the `data:` payload of a text event (`response.output_text.delta`,
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

/// Decodes one Responses `data:` payload, or `None` when it is not one of the hot delta events
/// in a shape handled here (or not JSON at all): then `serde_json::from_str` must decide.
/// `hint` is the SSE `event:` name, if any; it is only used when `type` is not the first member.
///
/// When it returns `Some(e)`, `e == serde_json::from_str::<ResponseStreamEvent>(data).unwrap()`
/// (the differential tests and fuzz targets check it). Not a stable API.
#[doc(hidden)]
pub fn __decode_fast(data: &str, hint: Option<&str>) -> Option<ResponseStreamEvent> {
    let mut p = Parser {
        s: data,
        b: data.as_bytes(),
        i: 0,
    };
    if p.tok()? != b'{' {
        return None;
    }
    let open = p.i;
    let tag = match first_tag(&mut p)? {
        Some(tag) => tag,
        None => Cow::Borrowed(hint?),
    };
    p.i = open;
    let mut tagged = false;
    let event = ResponseStreamEvent::read_fast(&tag, &mut p, &mut tagged)?;
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

/// The event object at the cursor (on its `{`), read as `T`; its `type` members must name
/// `wire` (and set `tagged`).
#[inline(always)]
pub(crate) fn event<T: FastStruct>(p: &mut Parser<'_>, wire: &str, tagged: &mut bool) -> Option<T> {
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
