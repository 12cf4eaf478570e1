//! The bodies of the Responses API's retrieve / delete / input-items calls ([protocol notes §3.1](dashscope_protocol::protocol_notes#31-endpoints):
//! the service lists these endpoints; their shapes follow OpenAI's).

use dashscope_protocol::responses::InputItem;

dashscope_protocol::wire_struct! {
    /// The answer to `DELETE …/responses/{id}`: `{"id", "object": "response", "deleted": true}`.
    pub struct ResponseDeleted {
        /// The deleted response's id.
        pub id: String,
        /// `"response"` (or `"response.deleted"`).
        pub object: Option<String>,
        /// Whether the response was deleted.
        pub deleted: bool,
    }
}

dashscope_protocol::wire_struct! {
    /// The answer to `GET …/responses/{id}/input_items`: a page of the items the response was
    /// given as input.
    pub struct InputItemList {
        /// `"list"`.
        pub object: Option<String>,
        /// The items, in the requested order.
        pub data: Vec<InputItem>,
        /// The id of the first item of the page.
        pub first_id: Option<String>,
        /// The id of the last item of the page.
        pub last_id: Option<String>,
        /// Whether more items follow.
        pub has_more: Option<bool>,
    }
}

/// The order of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListOrder {
    /// Oldest first.
    Asc,
    /// Newest first.
    Desc,
}

/// Paging for [`input_items`](crate::Responses::input_items): `limit`, `order`, `after`,
/// `before` query parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// The most items in the page.
    pub limit: Option<u32>,
    /// The order.
    pub order: Option<ListOrder>,
    /// Items after this id.
    pub after: Option<String>,
    /// Items before this id.
    pub before: Option<String>,
}

impl ListQuery {
    /// Sets `limit`.
    #[must_use]
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Sets `order`.
    #[must_use]
    pub fn order(mut self, order: ListOrder) -> Self {
        self.order = Some(order);
        self
    }

    /// Sets `after`.
    #[must_use]
    pub fn after(mut self, id: impl Into<String>) -> Self {
        self.after = Some(id.into());
        self
    }

    /// Sets `before`.
    #[must_use]
    pub fn before(mut self, id: impl Into<String>) -> Self {
        self.before = Some(id.into());
        self
    }

    /// The query string (without `?`), percent-encoding the ids.
    pub(crate) fn to_query(&self) -> String {
        let mut parts = Vec::new();
        if let Some(l) = self.limit {
            parts.push(format!("limit={l}"));
        }
        if let Some(o) = self.order {
            parts.push(
                match o {
                    ListOrder::Asc => "order=asc",
                    ListOrder::Desc => "order=desc",
                }
                .to_owned(),
            );
        }
        if let Some(a) = &self.after {
            parts.push(format!("after={}", crate::core::encode_component(a)));
        }
        if let Some(b) = &self.before {
            parts.push(format!("before={}", crate::core::encode_component(b)));
        }
        parts.join("&")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_string() {
        assert_eq!(ListQuery::default().to_query(), "");
        let q = ListQuery::default()
            .limit(5)
            .order(ListOrder::Desc)
            .after("msg_1 2");
        assert_eq!(q.to_query(), "limit=5&order=desc&after=msg_1%202");
    }

    #[test]
    fn bodies_parse_and_keep_unknowns() {
        let d: ResponseDeleted =
            serde_json::from_str(r#"{"id":"resp_1","object":"response","deleted":true,"x":1}"#)
                .unwrap();
        assert!(d.deleted);
        assert_eq!(d.extra["x"], 1);
        let l: InputItemList = serde_json::from_str(
            r#"{"object":"list","data":[{"type":"message","role":"user","content":"hi"}],"has_more":false}"#,
        )
        .unwrap();
        assert_eq!(l.data.len(), 1);
        assert_eq!(l.has_more, Some(false));
    }
}
