//! Responses the mock has served on the Responses paths, kept for `GET`/`DELETE
//! …/responses/{id}`, `GET …/responses/{id}/input_items` and `previous_response_id`.
//!
//! Each stored response keeps the response object as served, the request's input items, and
//! the conversation up to and including the response as unified messages (the history a
//! request naming it as `previous_response_id` continues, shared rather than copied; the
//! request's `instructions` are not carried over, as the service does). The store is bounded in
//! number ([`STORE_CAPACITY`]) and about in bytes ([`Limits::store_max_bytes`](crate::Limits));
//! the oldest go first, and a response larger than the whole bound is not stored.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use dashscope_protocol::responses::Response;
use dashscope_protocol::unified::{Conversation, Message, Part, ToolCall, UnifiedResponse};
use serde::Deserialize as _;
use serde_json::{Value, json};

use crate::budget::value_cost;

/// The most responses the store keeps, whatever their size.
pub(crate) const STORE_CAPACITY: usize = 10_000;

/// One stored response.
#[derive(Debug)]
pub(crate) struct Stored {
    /// The response object as served.
    pub(crate) response: Value,
    /// The request's input, as a list of items.
    pub(crate) input: Vec<Value>,
    /// The conversation so far, this response's answer included.
    pub(crate) history: Arc<[Message]>,
    /// About how many bytes it holds (its whole history counted).
    pub(crate) size: usize,
}

/// The stored responses (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct ResponseStore {
    map: HashMap<String, Stored>,
    order: VecDeque<String>,
    max_bytes: usize,
    bytes: usize,
}

/// About what a unified message holds on the heap.
fn message_cost(m: &Message) -> usize {
    let part = |p: &Part| match p {
        Part::Text(t) => 96 + t.text.len(),
        _ => 96 + 256,
    };
    let call = |c: &ToolCall| 128 + c.id.len() + c.name.len() + c.arguments.len();
    let parts: usize = m.parts.iter().map(part).sum();
    let calls: usize = m.tool_calls.iter().map(call).sum();
    256 + parts + calls + m.reasoning.as_ref().map_or(0, String::len)
}

impl ResponseStore {
    /// A store of about `max_bytes` bytes.
    pub(crate) fn new(max_bytes: usize) -> Self {
        ResponseStore {
            max_bytes,
            ..Self::default()
        }
    }

    /// Stores the response `body` carries (a Responses object, or the stream event that ends
    /// with one), answering `request` (its conversation `conv`, continuing `before`); returns
    /// its id, or `None` when the body carries none or it is larger than the whole store.
    pub(crate) fn store(
        &mut self,
        body: &[u8],
        stream: bool,
        request: &Value,
        conv: Option<&Conversation>,
        before: &[Message],
        request_id: &str,
    ) -> Option<String> {
        let response = response_in_body(body, stream)?;
        let id = response.get("id")?.as_str()?.to_owned();
        let input = input_items(request, request_id);
        // Instructions (the leading system message) are not carried over.
        let skip = usize::from(request.get("instructions").is_some_and(Value::is_string));
        let answer = Response::deserialize(&response).map(|r| UnifiedResponse::from_responses(&r));
        let asked = conv
            .into_iter()
            .flat_map(|c| c.messages.iter().skip(skip).cloned());
        let answered = answer
            .iter()
            .filter_map(UnifiedResponse::first)
            .map(|c| c.to_message());
        let history: Arc<[Message]> = before
            .iter()
            .cloned()
            .chain(asked)
            .chain(answered)
            .collect();
        let size = value_cost(&response)
            + input.iter().map(value_cost).sum::<usize>()
            + history.iter().map(message_cost).sum::<usize>();
        if size > self.max_bytes {
            tracing::debug!(
                "not storing response {id}: about {size} bytes with its history, over the store's {}",
                self.max_bytes
            );
            return None;
        }
        let stored = Stored {
            response,
            input,
            history,
            size,
        };
        self.bytes += size;
        match self.map.insert(id.clone(), stored) {
            Some(old) => self.bytes -= old.size,
            None => self.order.push_back(id.clone()),
        }
        while self.order.len() > STORE_CAPACITY
            || (self.bytes > self.max_bytes && self.order.len() > 1)
        {
            if let Some(gone) = self.order.pop_front().and_then(|old| self.map.remove(&old)) {
                self.bytes -= gone.size;
            }
        }
        Some(id)
    }

    /// The response stored under `id`.
    pub(crate) fn get(&self, id: &str) -> Option<&Stored> {
        self.map.get(id)
    }

    /// Removes the response stored under `id`; whether there was one.
    pub(crate) fn remove(&mut self, id: &str) -> bool {
        let Some(gone) = self.map.remove(id) else {
            return false;
        };
        self.bytes -= gone.size;
        self.order.retain(|i| i != id);
        true
    }

    /// Forgets everything.
    pub(crate) fn clear(&mut self) {
        self.map.clear();
        self.order.clear();
        self.bytes = 0;
    }
}

/// The Responses object a body carries: a JSON body with an `id`, or the `response` of a
/// stream's `response.completed` / `.incomplete` / `.failed` event.
fn response_in_body(body: &[u8], stream: bool) -> Option<Value> {
    let with_id = |v: Value| v.get("id").and_then(Value::as_str).is_some().then_some(v);
    if !stream {
        return serde_json::from_slice::<Value>(body.trim_ascii())
            .ok()
            .and_then(with_id);
    }
    let text = std::str::from_utf8(body).ok()?;
    let datas = text.lines().filter_map(|l| l.strip_prefix("data:"));
    let terminal = |v: &Value| {
        matches!(
            v.get("type").and_then(Value::as_str),
            Some("response.completed" | "response.incomplete" | "response.failed")
        )
    };
    datas
        .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .filter(terminal)
        .filter_map(|mut v| v.get_mut("response").map(Value::take).and_then(with_id))
        .next_back()
}

/// The input of a Responses request as a list of items (a string input becomes one user
/// message); items without an `id` get one.
fn input_items(request: &Value, request_id: &str) -> Vec<Value> {
    let items: Vec<Value> = match request.get("input") {
        Some(Value::String(s)) => vec![json!({
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": s}],
        })],
        Some(Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    };
    let item = |(i, mut item): (usize, Value)| {
        if let Some(obj) = item.as_object_mut() {
            if let Some(Value::String(text)) = obj.get("content").cloned() {
                let part = match obj.get("role").and_then(Value::as_str) {
                    Some("assistant") => "output_text",
                    _ => "input_text",
                };
                obj.insert("content".to_owned(), json!([{"type": part, "text": text}]));
            }
            if obj.get("role").is_some() && !obj.contains_key("type") {
                obj.insert("type".to_owned(), json!("message"));
            }
            let id = || json!(format!("msg_{request_id}_{i}"));
            obj.entry("id").or_insert_with(id);
        }
        item
    };
    items.into_iter().enumerate().map(item).collect()
}
