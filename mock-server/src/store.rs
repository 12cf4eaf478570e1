//! Responses the mock has served on the Responses paths, kept in memory for
//! `GET`/`DELETE …/responses/{id}` and `GET …/responses/{id}/input_items`.

use std::collections::{HashMap, VecDeque};
use std::ops::Range;
use std::sync::Arc;

use dashscope_protocol::cassette::Body;
use serde_json::{Value, json};

use crate::budget::value_cost;

/// The default bound on the bytes the store keeps ([`MockConfig::store_max_bytes`](
/// crate::MockConfig)): 64 MiB.
pub const DEFAULT_STORE_MAX_BYTES: usize = 64 * 1024 * 1024;
/// The most responses the store keeps, whatever their size.
pub const STORE_CAPACITY: usize = 10_000;

/// One stored response.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredResponse {
    /// The response object as served.
    pub response: Value,
    /// The whole conversation up to and including this response, as Responses input items:
    /// the history of its `previous_response_id` (if any), its input, then its output items.
    /// A request that names this response as `previous_response_id` continues from here
    /// (sharing it, not copying it).
    pub history: Arc<[Value]>,
    /// Where the request's input items are in `history`.
    input: Range<usize>,
    /// About how many bytes it holds.
    size: usize,
}

impl StoredResponse {
    /// A stored response: the response, the history before the request, the request's input
    /// items, the response's output items.
    pub fn new(response: Value, before: &[Value], input: Vec<Value>, output: &[Value]) -> Self {
        let start = before.len();
        let end = start + input.len();
        let mut history = Vec::with_capacity(end + output.len());
        history.extend_from_slice(before);
        history.extend(input);
        history.extend_from_slice(output);
        let size = value_cost(&response) + history.iter().map(value_cost).sum::<usize>();
        StoredResponse {
            response,
            history: history.into(),
            input: start..end,
            size,
        }
    }

    /// The request's input, as a list of items.
    pub fn input_items(&self) -> &[Value] {
        &self.history[self.input.clone()]
    }

    /// About how many bytes it holds (each stored response counts its whole history).
    pub fn size(&self) -> usize {
        self.size
    }
}

/// The stored responses, bounded in number and in bytes (the oldest go first).
#[derive(Debug)]
pub struct ResponseStore {
    map: HashMap<String, StoredResponse>,
    order: VecDeque<String>,
    capacity: usize,
    max_bytes: usize,
    bytes: usize,
}

impl Default for ResponseStore {
    fn default() -> Self {
        ResponseStore::with_limits(STORE_CAPACITY, DEFAULT_STORE_MAX_BYTES)
    }
}

impl ResponseStore {
    /// A store that keeps at most `capacity` responses (and [`DEFAULT_STORE_MAX_BYTES`]).
    pub fn new(capacity: usize) -> Self {
        Self::with_limits(capacity, DEFAULT_STORE_MAX_BYTES)
    }

    /// A store that keeps at most `capacity` responses and about `max_bytes` bytes of them.
    pub fn with_limits(capacity: usize, max_bytes: usize) -> Self {
        ResponseStore {
            map: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
            max_bytes,
            bytes: 0,
        }
    }

    /// Stores the response a body carries (see [`response_in_body`]); returns its id, or
    /// `None` when the body carries none or the response (with its history) is larger than
    /// the whole store.
    pub fn store_from(
        &mut self,
        body: &Body,
        request: Option<&Value>,
        request_id: &str,
    ) -> Option<String> {
        let response = response_in_body(body)?;
        let id = response.get("id")?.as_str()?.to_owned();
        let input = request
            .map(|r| input_items(r, request_id))
            .unwrap_or_default();
        let before = request
            .and_then(|r| r.get("previous_response_id"))
            .and_then(Value::as_str)
            .and_then(|prev| self.map.get(prev))
            .map(|s| Arc::clone(&s.history));
        let output = response
            .get("output")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let stored =
            StoredResponse::new(response, before.as_deref().unwrap_or(&[]), input, &output);
        if stored.size > self.max_bytes {
            tracing::debug!(
                "not storing response {id}: about {} bytes with its history, over the store's {}",
                stored.size,
                self.max_bytes
            );
            return None;
        }
        self.insert(id.clone(), stored);
        Some(id)
    }

    /// Stores a response under `id` (replacing one stored under it), then drops the oldest
    /// until the store is within its bounds.
    pub fn insert(&mut self, id: String, stored: StoredResponse) {
        self.bytes += stored.size;
        match self.map.insert(id.clone(), stored) {
            Some(old) => self.bytes -= old.size,
            None => self.order.push_back(id),
        }
        while self.order.len() > self.capacity
            || (self.bytes > self.max_bytes && self.order.len() > 1)
        {
            if let Some(old) = self.order.pop_front() {
                if let Some(gone) = self.map.remove(&old) {
                    self.bytes -= gone.size;
                }
            }
        }
    }

    /// The response stored under `id`.
    pub fn get(&self, id: &str) -> Option<&StoredResponse> {
        self.map.get(id)
    }

    /// Removes the response stored under `id`; whether there was one.
    pub fn remove(&mut self, id: &str) -> bool {
        let Some(gone) = self.map.remove(id) else {
            return false;
        };
        self.bytes -= gone.size;
        self.order.retain(|i| i != id);
        true
    }

    /// How many responses it holds.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// About how many bytes its responses hold.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.map.clear();
        self.order.clear();
        self.bytes = 0;
    }
}

/// The Responses object a body carries: a JSON body with an `id`, or the `response` of a
/// stream's `response.completed` / `.incomplete` / `.failed` event.
pub fn response_in_body(body: &Body) -> Option<Value> {
    let with_id = |v: Value| v.get("id").and_then(Value::as_str).is_some().then_some(v);
    match body {
        Body::Json(v) => with_id(v.clone()),
        Body::Text(t) => serde_json::from_str::<Value>(t.trim())
            .ok()
            .and_then(with_id),
        Body::Chunks(chunks) => {
            let mut found = None;
            for chunk in chunks {
                for line in chunk.data.lines() {
                    let Some(data) = line.strip_prefix("data:") else {
                        continue;
                    };
                    let Ok(v) = serde_json::from_str::<Value>(data.trim()) else {
                        continue;
                    };
                    let terminal = matches!(
                        v.get("type").and_then(Value::as_str),
                        Some("response.completed" | "response.incomplete" | "response.failed")
                    );
                    if terminal {
                        if let Some(r) = v.get("response").cloned().and_then(with_id) {
                            found = Some(r);
                        }
                    }
                }
            }
            found
        }
    }
}

/// The input of a Responses request as a list of items (a string input becomes one user
/// message); items without an `id` get one.
pub fn input_items(request: &Value, request_id: &str) -> Vec<Value> {
    let items: Vec<Value> = match request.get("input") {
        Some(Value::String(s)) => vec![json!({
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": s}],
        })],
        Some(Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, mut item)| {
            if let Some(obj) = item.as_object_mut() {
                if let Some(Value::String(text)) = obj.get("content").cloned() {
                    let part = if obj.get("role").and_then(Value::as_str) == Some("assistant") {
                        "output_text"
                    } else {
                        "input_text"
                    };
                    obj.insert("content".to_owned(), json!([{"type": part, "text": text}]));
                }
                if obj.get("role").is_some() && !obj.contains_key("type") {
                    obj.insert("type".to_owned(), json!("message"));
                }
                if !obj.contains_key("id") {
                    obj.insert("id".to_owned(), json!(format!("msg_{request_id}_{i}")));
                }
            }
            item
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use dashscope_protocol::cassette::Chunk;

    #[test]
    fn finds_responses_in_bodies() {
        assert!(
            response_in_body(&Body::Text(r#"{"id":"resp_1","object":"response"}"#.into()))
                .is_some()
        );
        assert!(response_in_body(&Body::Text("not json".into())).is_none());
        let chunks = Body::Chunks(vec![
            Chunk { delay_ms: 0, data: "id:1\nevent:response.created\ndata:{\"type\":\"response.created\",\"response\":{\"id\":\"r\"}}\n\n".into() },
            Chunk { delay_ms: 0, data: "id:2\nevent:response.completed\n:HTTP_STATUS/200\ndata:{\"type\":\"response.completed\",\"response\":{\"id\":\"r\",\"status\":\"completed\"}}\n\n".into() },
        ]);
        assert_eq!(response_in_body(&chunks).unwrap()["status"], "completed");
    }

    #[test]
    fn input_items_shapes() {
        let items = input_items(&json!({"input": "hi"}), "q");
        assert_eq!(items[0]["content"][0]["text"], "hi");
        assert_eq!(items[0]["id"], "msg_q_0");
        let items = input_items(
            &json!({"input": [{"role": "assistant", "content": "a"}, {"type": "function_call_output", "call_id": "c", "output": "o", "id": "x"}]}),
            "q",
        );
        assert_eq!(items[0]["content"][0]["type"], "output_text");
        assert_eq!(items[0]["type"], "message");
        assert_eq!(items[1]["id"], "x");
        let mut store = ResponseStore::new(1);
        store.insert("a".into(), StoredResponse::new(json!({}), &[], vec![], &[]));
        store.insert("b".into(), StoredResponse::new(json!({}), &[], vec![], &[]));
        assert!(store.get("a").is_none() && store.get("b").is_some());
        assert!(store.remove("b") && !store.remove("b"));
        assert_eq!((store.len(), store.bytes()), (0, 0));
    }

    /// The store is bounded by bytes; a continued conversation shares its history; a
    /// response larger than the whole store is not stored.
    #[test]
    fn bounded_in_bytes_and_histories_are_shared() {
        let big = "x".repeat(10_000);
        let body = |id: &str| {
            Body::Json(
                json!({"id": id, "output": [{"type": "message", "content": [{"type": "output_text", "text": "ok"}]}]}),
            )
        };
        let mut store = ResponseStore::with_limits(100, 50_000);
        for i in 0..10 {
            let req = json!({"input": big});
            store.store_from(&body(&format!("r{i}")), Some(&req), "q");
        }
        assert!(store.bytes() <= 50_000, "{}", store.bytes());
        assert!(store.len() < 10 && store.get("r9").is_some() && store.get("r0").is_none());
        // A chain: each turn continues the last one, sharing its history.
        let mut store = ResponseStore::with_limits(100, 1_000_000);
        store.store_from(&body("c0"), Some(&json!({"input": "hi"})), "q");
        for i in 1..5 {
            let req = json!({"input": format!("turn {i}"), "previous_response_id": format!("c{}", i - 1)});
            store.store_from(&body(&format!("c{i}")), Some(&req), "q");
        }
        let last = store.get("c4").unwrap();
        assert_eq!(last.history.len(), 10);
        assert_eq!(last.input_items()[0]["content"][0]["text"], "turn 4");
        // Larger than the store: not stored.
        let mut store = ResponseStore::with_limits(100, 5_000);
        assert_eq!(
            store.store_from(&body("huge"), Some(&json!({"input": big})), "q"),
            None
        );
        assert!(store.is_empty());
    }
}
