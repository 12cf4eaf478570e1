//! Responses the mock has served on the Responses paths, kept in memory for
//! `GET`/`DELETE …/responses/{id}` and `GET …/responses/{id}/input_items`.

use std::collections::{HashMap, VecDeque};

use dashscope_protocol::cassette::Body;
use serde_json::{Value, json};

/// One stored response.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredResponse {
    /// The response object as served.
    pub response: Value,
    /// The request's input, as a list of items.
    pub input_items: Vec<Value>,
    /// The whole conversation up to and including this response, as Responses input items:
    /// the history of its `previous_response_id` (if any), its input, then its output items.
    /// A request that names this response as `previous_response_id` continues from here.
    pub history: Vec<Value>,
}

/// The stored responses (bounded; the oldest go first).
#[derive(Debug)]
pub struct ResponseStore {
    map: HashMap<String, StoredResponse>,
    order: VecDeque<String>,
    capacity: usize,
}

impl Default for ResponseStore {
    fn default() -> Self {
        ResponseStore::new(10_000)
    }
}

impl ResponseStore {
    /// A store that keeps at most `capacity` responses.
    pub fn new(capacity: usize) -> Self {
        ResponseStore {
            map: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Stores the response a body carries (see [`response_in_body`]); returns its id.
    pub fn store_from(
        &mut self,
        body: &Body,
        request: Option<&Value>,
        request_id: &str,
    ) -> Option<String> {
        let response = response_in_body(body)?;
        let id = response.get("id")?.as_str()?.to_owned();
        let input_items = request
            .map(|r| input_items(r, request_id))
            .unwrap_or_default();
        let mut history = request
            .and_then(|r| r.get("previous_response_id"))
            .and_then(Value::as_str)
            .and_then(|prev| self.map.get(prev))
            .map(|s| s.history.clone())
            .unwrap_or_default();
        history.extend(input_items.iter().cloned());
        if let Some(output) = response.get("output").and_then(Value::as_array) {
            history.extend(output.iter().cloned());
        }
        self.insert(
            id.clone(),
            StoredResponse {
                response,
                input_items,
                history,
            },
        );
        Some(id)
    }

    /// Stores a response under `id`.
    pub fn insert(&mut self, id: String, stored: StoredResponse) {
        if self.map.insert(id.clone(), stored).is_none() {
            self.order.push_back(id);
            while self.order.len() > self.capacity {
                if let Some(old) = self.order.pop_front() {
                    self.map.remove(&old);
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
        self.order.retain(|i| i != id);
        self.map.remove(id).is_some()
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.map.clear();
        self.order.clear();
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
        store.insert(
            "a".into(),
            StoredResponse {
                response: json!({}),
                input_items: vec![],
                history: vec![],
            },
        );
        store.insert(
            "b".into(),
            StoredResponse {
                response: json!({}),
                input_items: vec![],
                history: vec![],
            },
        );
        assert!(store.get("a").is_none() && store.get("b").is_some());
        assert!(store.remove("b") && !store.remove("b"));
    }
}
