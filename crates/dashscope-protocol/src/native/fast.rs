//! A hand-written decoder for the common shape of a native stream event.
//!
//! [`decode_fast`] reads a `data:` payload straight into a [`GenerationResponse`], without
//! serde's per-member machinery. It follows the contract of the compat fast path
//! ([`chat::fast`](crate::chat)): whenever it returns `Some(r)`, `r` equals what
//! `serde_json::from_str::<GenerationResponse>` gives for the same payload (the same members,
//! the same `extra`, the same `nulls`), and whenever serde fails it returns `None`. Anything it
//! does not handle exactly also gives `None`, and the caller then runs the serde path:
//!
//! * an `output.search_info`, `choices[].logprobs` or `usage.plugins` value other than `null`;
//! * a content item with a `video`, `fps` or `cache_control` value other than `null`;
//! * content that is neither a string, a list nor `null` (serde keeps it as `Content::Unknown`);
//! * a number that is not a plain non-negative integer in range for its member;
//! * a key with an escape;
//! * an unknown member nested more than [`MAX_UNKNOWN_DEPTH`](crate::fast::MAX_UNKNOWN_DEPTH)
//!   deep.
//!
//! `usage` (in every native event, with its details) is decoded here. Unknown members are
//! decoded by serde_json itself, so `extra` holds exactly what the serde path puts there.
//! Duplicate members follow `wire_struct!`: the last one wins (an object member is decoded
//! afresh), a value clears the member's `null` bit and a `null` sets it.

use crate::fast::{Parser, decode_object, keys_are, set_null};
use crate::wire::name_index;

use super::request::{Content, ContentItem, FunctionCall, Message, Role, ToolCall};
use super::response::{
    Choice, FinishReason, GenerationResponse, InputTokensDetails, Output, OutputTokensDetails,
    PromptTokensDetails, Usage,
};

// The `nulls` bit of every member, from the types' own member lists.
const RESP_OUTPUT: usize = name_index(GenerationResponse::WIRE_MEMBERS, "output");
const RESP_USAGE: usize = name_index(GenerationResponse::WIRE_MEMBERS, "usage");
const RESP_REQUEST_ID: usize = name_index(GenerationResponse::WIRE_MEMBERS, "request_id");
const RESP_CODE: usize = name_index(GenerationResponse::WIRE_MEMBERS, "code");
const RESP_MESSAGE: usize = name_index(GenerationResponse::WIRE_MEMBERS, "message");
const OUTPUT_TEXT: usize = name_index(Output::WIRE_MEMBERS, "text");
const OUTPUT_FINISH: usize = name_index(Output::WIRE_MEMBERS, "finish_reason");
const OUTPUT_CHOICES: usize = name_index(Output::WIRE_MEMBERS, "choices");
const OUTPUT_SEARCH: usize = name_index(Output::WIRE_MEMBERS, "search_info");
const CHOICE_FINISH: usize = name_index(Choice::WIRE_MEMBERS, "finish_reason");
const CHOICE_INDEX: usize = name_index(Choice::WIRE_MEMBERS, "index");
const CHOICE_MESSAGE: usize = name_index(Choice::WIRE_MEMBERS, "message");
const CHOICE_LOGPROBS: usize = name_index(Choice::WIRE_MEMBERS, "logprobs");
const MSG_ROLE: usize = name_index(Message::WIRE_MEMBERS, "role");
const MSG_CONTENT: usize = name_index(Message::WIRE_MEMBERS, "content");
const MSG_REASONING: usize = name_index(Message::WIRE_MEMBERS, "reasoning_content");
const MSG_TOOL_CALLS: usize = name_index(Message::WIRE_MEMBERS, "tool_calls");
const MSG_PARTIAL: usize = name_index(Message::WIRE_MEMBERS, "partial");
const MSG_TOOL_CALL_ID: usize = name_index(Message::WIRE_MEMBERS, "tool_call_id");
const MSG_NAME: usize = name_index(Message::WIRE_MEMBERS, "name");
const ITEM_TEXT: usize = name_index(ContentItem::WIRE_MEMBERS, "text");
const ITEM_IMAGE: usize = name_index(ContentItem::WIRE_MEMBERS, "image");
const ITEM_AUDIO: usize = name_index(ContentItem::WIRE_MEMBERS, "audio");
const ITEM_VIDEO: usize = name_index(ContentItem::WIRE_MEMBERS, "video");
const ITEM_MIN_PIXELS: usize = name_index(ContentItem::WIRE_MEMBERS, "min_pixels");
const ITEM_MAX_PIXELS: usize = name_index(ContentItem::WIRE_MEMBERS, "max_pixels");
const ITEM_FPS: usize = name_index(ContentItem::WIRE_MEMBERS, "fps");
const ITEM_TOTAL_PIXELS: usize = name_index(ContentItem::WIRE_MEMBERS, "total_pixels");
const ITEM_CACHE: usize = name_index(ContentItem::WIRE_MEMBERS, "cache_control");
const CALL_INDEX: usize = name_index(ToolCall::WIRE_MEMBERS, "index");
const CALL_ID: usize = name_index(ToolCall::WIRE_MEMBERS, "id");
const CALL_TYPE: usize = name_index(ToolCall::WIRE_MEMBERS, "type");
const CALL_FUNCTION: usize = name_index(ToolCall::WIRE_MEMBERS, "function");
const FUNCTION_NAME: usize = name_index(FunctionCall::WIRE_MEMBERS, "name");
const FUNCTION_ARGUMENTS: usize = name_index(FunctionCall::WIRE_MEMBERS, "arguments");
const USAGE_INPUT: usize = name_index(Usage::WIRE_MEMBERS, "input_tokens");
const USAGE_OUTPUT: usize = name_index(Usage::WIRE_MEMBERS, "output_tokens");
const USAGE_TOTAL: usize = name_index(Usage::WIRE_MEMBERS, "total_tokens");
const USAGE_IMAGE: usize = name_index(Usage::WIRE_MEMBERS, "image_tokens");
const USAGE_VIDEO: usize = name_index(Usage::WIRE_MEMBERS, "video_tokens");
const USAGE_AUDIO: usize = name_index(Usage::WIRE_MEMBERS, "audio_tokens");
const USAGE_IN_DETAILS: usize = name_index(Usage::WIRE_MEMBERS, "input_tokens_details");
const USAGE_OUT_DETAILS: usize = name_index(Usage::WIRE_MEMBERS, "output_tokens_details");
const USAGE_PROMPT_DETAILS: usize = name_index(Usage::WIRE_MEMBERS, "prompt_tokens_details");
const USAGE_PLUGINS: usize = name_index(Usage::WIRE_MEMBERS, "plugins");

// Each type's keys as they appear on the wire (quoted), in `WIRE_MEMBERS` order, so that a key's
// position is its `nulls` bit; a member added to one of these types fails the checks below.
const RESP_KEYS: [&[u8]; 5] = [
    b"\"output\"",
    b"\"usage\"",
    b"\"request_id\"",
    b"\"code\"",
    b"\"message\"",
];
const OUTPUT_KEYS: [&[u8]; 4] = [
    b"\"text\"",
    b"\"finish_reason\"",
    b"\"choices\"",
    b"\"search_info\"",
];
const CHOICE_KEYS: [&[u8]; 4] = [
    b"\"finish_reason\"",
    b"\"index\"",
    b"\"message\"",
    b"\"logprobs\"",
];
const MSG_KEYS: [&[u8]; 7] = [
    b"\"role\"",
    b"\"content\"",
    b"\"reasoning_content\"",
    b"\"tool_calls\"",
    b"\"partial\"",
    b"\"tool_call_id\"",
    b"\"name\"",
];
const ITEM_KEYS: [&[u8]; 9] = [
    b"\"text\"",
    b"\"image\"",
    b"\"audio\"",
    b"\"video\"",
    b"\"min_pixels\"",
    b"\"max_pixels\"",
    b"\"fps\"",
    b"\"total_pixels\"",
    b"\"cache_control\"",
];
const CALL_KEYS: [&[u8]; 4] = [b"\"index\"", b"\"id\"", b"\"type\"", b"\"function\""];
const FUNCTION_KEYS: [&[u8]; 2] = [b"\"name\"", b"\"arguments\""];
const USAGE_KEYS: [&[u8]; 10] = [
    b"\"input_tokens\"",
    b"\"output_tokens\"",
    b"\"total_tokens\"",
    b"\"image_tokens\"",
    b"\"video_tokens\"",
    b"\"audio_tokens\"",
    b"\"input_tokens_details\"",
    b"\"output_tokens_details\"",
    b"\"prompt_tokens_details\"",
    b"\"plugins\"",
];
const IN_DETAILS_KEYS: [&[u8]; 5] = [
    b"\"text_tokens\"",
    b"\"image_tokens\"",
    b"\"audio_tokens\"",
    b"\"video_tokens\"",
    b"\"cached_tokens\"",
];
const OUT_DETAILS_KEYS: [&[u8]; 3] = [
    b"\"reasoning_tokens\"",
    b"\"text_tokens\"",
    b"\"audio_tokens\"",
];
const PROMPT_DETAILS_KEYS: [&[u8]; 2] = [b"\"cached_tokens\"", b"\"cache_creation_input_tokens\""];

const _: () = assert!(keys_are(&RESP_KEYS, GenerationResponse::WIRE_MEMBERS));
const _: () = assert!(keys_are(&OUTPUT_KEYS, Output::WIRE_MEMBERS));
const _: () = assert!(keys_are(&CHOICE_KEYS, Choice::WIRE_MEMBERS));
const _: () = assert!(keys_are(&MSG_KEYS, Message::WIRE_MEMBERS));
const _: () = assert!(keys_are(&ITEM_KEYS, ContentItem::WIRE_MEMBERS));
const _: () = assert!(keys_are(&CALL_KEYS, ToolCall::WIRE_MEMBERS));
const _: () = assert!(keys_are(&FUNCTION_KEYS, FunctionCall::WIRE_MEMBERS));
const _: () = assert!(keys_are(&USAGE_KEYS, Usage::WIRE_MEMBERS));
const _: () = assert!(keys_are(&IN_DETAILS_KEYS, InputTokensDetails::WIRE_MEMBERS));
const _: () = assert!(keys_are(
    &OUT_DETAILS_KEYS,
    OutputTokensDetails::WIRE_MEMBERS
));
const _: () = assert!(keys_are(
    &PROMPT_DETAILS_KEYS,
    PromptTokensDetails::WIRE_MEMBERS
));

/// Decodes one native `data:` payload, or `None` when it is not the common event shape (or not
/// JSON at all): then `serde_json::from_str::<GenerationResponse>` must decide.
///
/// When it returns `Some(r)`, `r == serde_json::from_str::<GenerationResponse>(data).unwrap()`.
pub(crate) fn decode_fast(data: &str) -> Option<GenerationResponse> {
    decode_object(data, &RESP_KEYS, |p, out, key| {
        p.native_response_member(out, key)
    })
}

/// [`decode_fast`], for differential tests and fuzzing; not a stable API.
///
/// `Some(r)` only when `r == serde_json::from_str::<GenerationResponse>(data).unwrap()`; `None`
/// for any payload it leaves to serde (including every one serde rejects).
#[doc(hidden)]
pub fn __decode_fast(data: &str) -> Option<GenerationResponse> {
    decode_fast(data)
}

/// Reads `null` or an object (decoded afresh by `f`, so a duplicate member replaces the earlier
/// one) into an `Option` member, and sets its `nulls` bit.
macro_rules! opt_object {
    ($p:ident, $slot:expr, $nulls:expr, $bit:expr, $ty:ty, $keys:expr, $member:ident) => {{
        let null = match $p.tok()? {
            b'n' => {
                $p.null()?;
                $slot = None;
                true
            }
            b'{' => {
                let mut v = <$ty>::default();
                $p.object(&$keys, |p, key| p.$member(&mut v, key))?;
                $slot = Some(v);
                false
            }
            _ => return None,
        };
        set_null(&mut $nulls, $bit, null);
    }};
}

/// Reads an `Option<String>` / `Option<u64>` / … member with the given primitive.
macro_rules! opt_scalar {
    ($p:ident, $slot:expr, $nulls:expr, $bit:expr, $read:ident) => {{
        let (v, null) = $p.$read()?;
        $slot = v;
        set_null(&mut $nulls, $bit, null);
    }};
}

impl Parser<'_> {
    fn native_response_member(
        &mut self,
        r: &mut GenerationResponse,
        key: Result<usize, &str>,
    ) -> Option<()> {
        match key {
            Ok(RESP_OUTPUT) => opt_object!(
                self,
                r.output,
                r.nulls,
                RESP_OUTPUT,
                Output,
                OUTPUT_KEYS,
                native_output_member
            ),
            Ok(RESP_USAGE) => opt_object!(
                self,
                r.usage,
                r.nulls,
                RESP_USAGE,
                Usage,
                USAGE_KEYS,
                native_usage_member
            ),
            Ok(RESP_REQUEST_ID) => {
                opt_scalar!(self, r.request_id, r.nulls, RESP_REQUEST_ID, opt_string)
            }
            Ok(RESP_CODE) => opt_scalar!(self, r.code, r.nulls, RESP_CODE, opt_string),
            Ok(RESP_MESSAGE) => opt_scalar!(self, r.message, r.nulls, RESP_MESSAGE, opt_string),
            Ok(_) => return None,
            Err(key) => self.unknown(&mut r.extra, key)?,
        }
        Some(())
    }

    fn native_output_member(&mut self, o: &mut Output, key: Result<usize, &str>) -> Option<()> {
        match key {
            Ok(OUTPUT_TEXT) => opt_scalar!(self, o.text, o.nulls, OUTPUT_TEXT, opt_string),
            Ok(OUTPUT_FINISH) => {
                let (v, null) = self.opt_enum::<FinishReason>()?;
                o.finish_reason = v;
                set_null(&mut o.nulls, OUTPUT_FINISH, null);
            }
            Ok(OUTPUT_CHOICES) => {
                let (v, null) = match self.tok()? {
                    b'n' => self.null().map(|()| (None, true))?,
                    b'[' => {
                        // Almost every event has one choice.
                        let mut choices = Vec::with_capacity(1);
                        self.array(&mut choices, Self::native_choice)?;
                        (Some(choices), false)
                    }
                    _ => return None,
                };
                o.choices = v;
                set_null(&mut o.nulls, OUTPUT_CHOICES, null);
            }
            Ok(OUTPUT_SEARCH) => {
                self.only_null()?;
                o.search_info = None;
                set_null(&mut o.nulls, OUTPUT_SEARCH, true);
            }
            Ok(_) => return None,
            Err(key) => self.unknown(&mut o.extra, key)?,
        }
        Some(())
    }

    /// A `Choice` object into `ch` (a fresh default). The cursor is on the element.
    fn native_choice(&mut self, ch: &mut Choice) -> Option<()> {
        if *self.b.get(self.i)? != b'{' {
            return None;
        }
        self.object(&CHOICE_KEYS, |p, key| {
            match key {
                Ok(CHOICE_FINISH) => {
                    let (v, null) = p.opt_enum::<FinishReason>()?;
                    ch.finish_reason = v;
                    set_null(&mut ch.nulls, CHOICE_FINISH, null);
                }
                Ok(CHOICE_INDEX) => opt_scalar!(p, ch.index, ch.nulls, CHOICE_INDEX, opt_u32),
                Ok(CHOICE_MESSAGE) => opt_object!(
                    p,
                    ch.message,
                    ch.nulls,
                    CHOICE_MESSAGE,
                    Message,
                    MSG_KEYS,
                    native_message_member
                ),
                Ok(CHOICE_LOGPROBS) => {
                    p.only_null()?;
                    ch.logprobs = None;
                    set_null(&mut ch.nulls, CHOICE_LOGPROBS, true);
                }
                Ok(_) => return None,
                Err(key) => p.unknown(&mut ch.extra, key)?,
            }
            Some(())
        })
    }

    fn native_message_member(&mut self, m: &mut Message, key: Result<usize, &str>) -> Option<()> {
        match key {
            Ok(MSG_ROLE) => {
                let (v, null) = self.opt_enum::<Role>()?;
                m.role = v;
                set_null(&mut m.nulls, MSG_ROLE, null);
            }
            Ok(MSG_CONTENT) => {
                let (v, null) = match self.tok()? {
                    b'n' => self.null().map(|()| (None, true))?,
                    b'"' => (Some(Content::Text(self.string()?.into_owned())), false),
                    b'[' => {
                        let mut items = Vec::with_capacity(1);
                        self.array(&mut items, Self::native_content_item)?;
                        (Some(Content::Parts(items)), false)
                    }
                    // Any other shape is `Content::Unknown`: serde's call.
                    _ => return None,
                };
                m.content = v;
                set_null(&mut m.nulls, MSG_CONTENT, null);
            }
            Ok(MSG_REASONING) => {
                opt_scalar!(
                    self,
                    m.reasoning_content,
                    m.nulls,
                    MSG_REASONING,
                    opt_string
                )
            }
            Ok(MSG_TOOL_CALLS) => {
                let (v, null) = match self.tok()? {
                    b'n' => self.null().map(|()| (None, true))?,
                    b'[' => {
                        let mut calls = Vec::with_capacity(1);
                        self.array(&mut calls, Self::native_tool_call)?;
                        (Some(calls), false)
                    }
                    _ => return None,
                };
                m.tool_calls = v;
                set_null(&mut m.nulls, MSG_TOOL_CALLS, null);
            }
            Ok(MSG_PARTIAL) => opt_scalar!(self, m.partial, m.nulls, MSG_PARTIAL, opt_bool),
            Ok(MSG_TOOL_CALL_ID) => {
                opt_scalar!(self, m.tool_call_id, m.nulls, MSG_TOOL_CALL_ID, opt_string)
            }
            Ok(MSG_NAME) => opt_scalar!(self, m.name, m.nulls, MSG_NAME, opt_string),
            Ok(_) => return None,
            Err(key) => self.unknown(&mut m.extra, key)?,
        }
        Some(())
    }

    /// A `ContentItem` object into `it` (a fresh default). The cursor is on the element.
    fn native_content_item(&mut self, it: &mut ContentItem) -> Option<()> {
        if *self.b.get(self.i)? != b'{' {
            return None;
        }
        self.object(&ITEM_KEYS, |p, key| {
            match key {
                Ok(ITEM_TEXT) => opt_scalar!(p, it.text, it.nulls, ITEM_TEXT, opt_string),
                Ok(ITEM_IMAGE) => opt_scalar!(p, it.image, it.nulls, ITEM_IMAGE, opt_string),
                Ok(ITEM_AUDIO) => opt_scalar!(p, it.audio, it.nulls, ITEM_AUDIO, opt_string),
                Ok(ITEM_MIN_PIXELS) => {
                    opt_scalar!(p, it.min_pixels, it.nulls, ITEM_MIN_PIXELS, opt_u64)
                }
                Ok(ITEM_MAX_PIXELS) => {
                    opt_scalar!(p, it.max_pixels, it.nulls, ITEM_MAX_PIXELS, opt_u64)
                }
                Ok(ITEM_TOTAL_PIXELS) => {
                    opt_scalar!(p, it.total_pixels, it.nulls, ITEM_TOTAL_PIXELS, opt_u64)
                }
                // Video sources, frame rates and cache markers are serde's call unless `null`.
                Ok(ITEM_VIDEO) => {
                    p.only_null()?;
                    it.video = None;
                    set_null(&mut it.nulls, ITEM_VIDEO, true);
                }
                Ok(ITEM_FPS) => {
                    p.only_null()?;
                    it.fps = None;
                    set_null(&mut it.nulls, ITEM_FPS, true);
                }
                Ok(ITEM_CACHE) => {
                    p.only_null()?;
                    it.cache_control = None;
                    set_null(&mut it.nulls, ITEM_CACHE, true);
                }
                Ok(_) => return None,
                Err(key) => p.unknown(&mut it.extra, key)?,
            }
            Some(())
        })
    }

    /// A `ToolCall` object into `t` (a fresh default). The cursor is on the element.
    fn native_tool_call(&mut self, t: &mut ToolCall) -> Option<()> {
        if *self.b.get(self.i)? != b'{' {
            return None;
        }
        self.object(&CALL_KEYS, |p, key| {
            match key {
                Ok(CALL_INDEX) => opt_scalar!(p, t.index, t.nulls, CALL_INDEX, opt_u32),
                Ok(CALL_ID) => opt_scalar!(p, t.id, t.nulls, CALL_ID, opt_string),
                Ok(CALL_TYPE) => opt_scalar!(p, t.kind, t.nulls, CALL_TYPE, opt_string),
                Ok(CALL_FUNCTION) => opt_object!(
                    p,
                    t.function,
                    t.nulls,
                    CALL_FUNCTION,
                    FunctionCall,
                    FUNCTION_KEYS,
                    native_function_member
                ),
                Ok(_) => return None,
                Err(key) => p.unknown(&mut t.extra, key)?,
            }
            Some(())
        })
    }

    fn native_function_member(
        &mut self,
        f: &mut FunctionCall,
        key: Result<usize, &str>,
    ) -> Option<()> {
        match key {
            Ok(FUNCTION_NAME) => opt_scalar!(self, f.name, f.nulls, FUNCTION_NAME, opt_string),
            Ok(FUNCTION_ARGUMENTS) => {
                opt_scalar!(self, f.arguments, f.nulls, FUNCTION_ARGUMENTS, opt_string)
            }
            Ok(_) => return None,
            Err(key) => self.unknown(&mut f.extra, key)?,
        }
        Some(())
    }

    fn native_usage_member(&mut self, u: &mut Usage, key: Result<usize, &str>) -> Option<()> {
        match key {
            Ok(USAGE_INPUT) => opt_scalar!(self, u.input_tokens, u.nulls, USAGE_INPUT, opt_u64),
            Ok(USAGE_OUTPUT) => opt_scalar!(self, u.output_tokens, u.nulls, USAGE_OUTPUT, opt_u64),
            Ok(USAGE_TOTAL) => opt_scalar!(self, u.total_tokens, u.nulls, USAGE_TOTAL, opt_u64),
            Ok(USAGE_IMAGE) => opt_scalar!(self, u.image_tokens, u.nulls, USAGE_IMAGE, opt_u64),
            Ok(USAGE_VIDEO) => opt_scalar!(self, u.video_tokens, u.nulls, USAGE_VIDEO, opt_u64),
            Ok(USAGE_AUDIO) => opt_scalar!(self, u.audio_tokens, u.nulls, USAGE_AUDIO, opt_u64),
            Ok(USAGE_IN_DETAILS) => opt_object!(
                self,
                u.input_tokens_details,
                u.nulls,
                USAGE_IN_DETAILS,
                InputTokensDetails,
                IN_DETAILS_KEYS,
                native_in_details_member
            ),
            Ok(USAGE_OUT_DETAILS) => opt_object!(
                self,
                u.output_tokens_details,
                u.nulls,
                USAGE_OUT_DETAILS,
                OutputTokensDetails,
                OUT_DETAILS_KEYS,
                native_out_details_member
            ),
            Ok(USAGE_PROMPT_DETAILS) => opt_object!(
                self,
                u.prompt_tokens_details,
                u.nulls,
                USAGE_PROMPT_DETAILS,
                PromptTokensDetails,
                PROMPT_DETAILS_KEYS,
                native_prompt_details_member
            ),
            Ok(USAGE_PLUGINS) => {
                self.only_null()?;
                u.plugins = None;
                set_null(&mut u.nulls, USAGE_PLUGINS, true);
            }
            Ok(_) => return None,
            Err(key) => self.unknown(&mut u.extra, key)?,
        }
        Some(())
    }

    fn native_in_details_member(
        &mut self,
        d: &mut InputTokensDetails,
        key: Result<usize, &str>,
    ) -> Option<()> {
        let (v, null) = match key {
            Ok(n) if n < IN_DETAILS_KEYS.len() => self.opt_u64()?,
            Ok(_) => return None,
            Err(key) => return self.unknown(&mut d.extra, key),
        };
        let slot = match key {
            Ok(0) => &mut d.text_tokens,
            Ok(1) => &mut d.image_tokens,
            Ok(2) => &mut d.audio_tokens,
            Ok(3) => &mut d.video_tokens,
            _ => &mut d.cached_tokens,
        };
        *slot = v;
        set_null(&mut d.nulls, key.ok()?, null);
        Some(())
    }

    fn native_out_details_member(
        &mut self,
        d: &mut OutputTokensDetails,
        key: Result<usize, &str>,
    ) -> Option<()> {
        let (v, null) = match key {
            Ok(n) if n < OUT_DETAILS_KEYS.len() => self.opt_u64()?,
            Ok(_) => return None,
            Err(key) => return self.unknown(&mut d.extra, key),
        };
        let slot = match key {
            Ok(0) => &mut d.reasoning_tokens,
            Ok(1) => &mut d.text_tokens,
            _ => &mut d.audio_tokens,
        };
        *slot = v;
        set_null(&mut d.nulls, key.ok()?, null);
        Some(())
    }

    fn native_prompt_details_member(
        &mut self,
        d: &mut PromptTokensDetails,
        key: Result<usize, &str>,
    ) -> Option<()> {
        let (v, null) = match key {
            Ok(n) if n < PROMPT_DETAILS_KEYS.len() => self.opt_u64()?,
            Ok(_) => return None,
            Err(key) => return self.unknown(&mut d.extra, key),
        };
        let slot = match key {
            Ok(0) => &mut d.cached_tokens,
            _ => &mut d.cache_creation_input_tokens,
        };
        *slot = v;
        set_null(&mut d.nulls, key.ok()?, null);
        Some(())
    }
}
