//! Stream events → the final [`Response`].

use serde_json::Value;

use super::events::ResponseStreamEvent as E;
use super::response::{
    ItemStatus, OutputContent, OutputItem, OutputText, ReasoningText, Refusal, Response,
    ResponseError, ResponseStatus, SummaryPart, SummaryText,
};
use crate::stream::Accumulate;

/// Finds (or starts) the output item an event names, as the given variant, and runs the body on
/// it; an item of another kind at that place is left alone.
macro_rules! on_item {
    ($acc:expr, $e:expr, $variant:ident, |$c:ident| $body:block) => {
        if let OutputItem::$variant($c) =
            $acc.item_mut($e.item_id.as_deref(), $e.output_index, |id| {
                OutputItem::$variant(super::response::$variant {
                    id,
                    ..Default::default()
                })
            })
        $body
    };
}

/// Folds [`ResponseStreamEvent`](super::ResponseStreamEvent)s into a [`Response`].
///
/// * The envelope (id, model, created_at, tools, …) comes from `response.created` /
///   `.queued` / `.in_progress`.
/// * Output items are rebuilt from `output_item.added` (the skeleton), the delta events (answer
///   text, thinking under either naming, function / MCP arguments, custom tool input, code) and
///   the done events (`*.done` values replace what the deltas built; `output_item.done`
///   replaces the whole item). Events find their item by `item_id`, else by `output_index`.
/// * When `response.completed` / `.incomplete` / `.failed` arrives, its `response` wins;
///   members it lacks (some gateways send only `id`, `status` and `usage`) are taken from the
///   envelope, and a missing `output` from the rebuilt items.
/// * `error` events set `status: failed` and `error`.
///
/// `DashScope`'s `response.reasoning_text.*` events go to the reasoning item's `summary` (where
/// the final item keeps the thinking) unless the item declared a `content` list, as OpenAI
/// reasoning items do; `response.reasoning_summary_text.*` always go to `summary`.
///
/// [`snapshot`](Accumulate::snapshot) gives the response as far as the events so far describe
/// it, for a stream that broke.
#[derive(Clone, Debug, Default)]
pub struct ResponsesAccumulator {
    envelope: Option<Response>,
    items: Vec<Slot>,
    terminal: Option<Response>,
    error: Option<ResponseError>,
}

#[derive(Clone, Debug)]
struct Slot {
    output_index: Option<u32>,
    item: OutputItem,
}

impl ResponsesAccumulator {
    /// An empty accumulator.
    pub fn new() -> Self {
        Self::default()
    }

    /// The output items rebuilt so far, in the order they were added.
    pub fn items(&self) -> impl Iterator<Item = &OutputItem> {
        self.items.iter().map(|s| &s.item)
    }

    /// Whether a terminal event (`completed`, `incomplete`, `failed`) has been folded in.
    pub fn is_finished(&self) -> bool {
        self.terminal.is_some()
    }

    fn position(&self, item_id: Option<&str>, output_index: Option<u32>) -> Option<usize> {
        if let Some(id) = item_id {
            if let Some(i) = self.items.iter().position(|s| s.item.id() == Some(id)) {
                return Some(i);
            }
        }
        if let Some(ix) = output_index {
            if let Some(i) = self.items.iter().rposition(|s| s.output_index == Some(ix)) {
                return Some(i);
            }
        }
        None
    }

    /// The item an event is about; created from `make` when no item matches.
    fn item_mut(
        &mut self,
        item_id: Option<&str>,
        output_index: Option<u32>,
        make: impl FnOnce(Option<String>) -> OutputItem,
    ) -> &mut OutputItem {
        let i = match self.position(item_id, output_index) {
            Some(i) => i,
            None => {
                self.items.push(Slot {
                    output_index,
                    item: make(item_id.map(str::to_owned)),
                });
                self.items.len() - 1
            }
        };
        &mut self.items[i].item
    }

    fn put_item(&mut self, output_index: Option<u32>, item: &OutputItem) {
        match self.position(item.id(), output_index) {
            Some(i) => self.items[i].item = item.clone(),
            None => self.items.push(Slot {
                output_index,
                item: item.clone(),
            }),
        }
    }

    fn message(
        &mut self,
        item_id: Option<&str>,
        output_index: Option<u32>,
    ) -> Option<&mut Vec<OutputContent>> {
        match self.item_mut(item_id, output_index, |id| {
            OutputItem::Message(super::response::OutputMessage {
                id,
                ..Default::default()
            })
        }) {
            OutputItem::Message(m) => Some(&mut m.content),
            _ => None,
        }
    }

    fn reasoning(
        &mut self,
        item_id: Option<&str>,
        output_index: Option<u32>,
    ) -> Option<&mut super::response::ReasoningItem> {
        match self.item_mut(item_id, output_index, |id| {
            OutputItem::Reasoning(super::response::ReasoningItem {
                id,
                ..Default::default()
            })
        }) {
            OutputItem::Reasoning(r) => Some(r),
            _ => None,
        }
    }

    fn fold_thinking(
        &mut self,
        item_id: Option<&str>,
        output_index: Option<u32>,
        index: Option<u32>,
        text: &str,
        replace: bool,
    ) {
        let Some(r) = self.reasoning(item_id, output_index) else {
            return;
        };
        let ix = index.unwrap_or(0) as usize;
        if let Some(content) = &mut r.content {
            let part = slot(content, ix, || {
                OutputContent::ReasoningText(ReasoningText::default())
            });
            if let OutputContent::ReasoningText(t) = part {
                write(&mut t.text, text, replace);
            }
        } else {
            fold_summary(&mut r.summary, ix, text, replace);
        }
    }

    fn fold(&mut self, event: &E) {
        match event {
            E::Created(e) => self.envelope = Some((*e.response).clone()),
            E::Queued(e) => self.envelope = Some((*e.response).clone()),
            E::InProgress(e) => self.envelope = Some((*e.response).clone()),
            E::Completed(e) => self.terminal = Some((*e.response).clone()),
            E::Incomplete(e) => self.terminal = Some((*e.response).clone()),
            E::Failed(e) => self.terminal = Some((*e.response).clone()),
            E::Error(e) => {
                self.error = Some(ResponseError {
                    code: e.code.clone(),
                    message: e.message.clone(),
                    ..Default::default()
                });
            }
            E::OutputItemAdded(e) => {
                if let Some(item) = &e.item {
                    self.put_item(e.output_index, item);
                }
            }
            E::OutputItemDone(e) => {
                if let Some(item) = &e.item {
                    self.put_item(e.output_index, item);
                }
            }
            E::ContentPartAdded(e) => {
                if let Some(part) = &e.part {
                    self.put_part(e.item_id.as_deref(), e.output_index, e.content_index, part);
                }
            }
            E::ContentPartDone(e) => {
                if let Some(part) = &e.part {
                    self.put_part(e.item_id.as_deref(), e.output_index, e.content_index, part);
                }
            }
            E::OutputTextDelta(e) => {
                self.fold_text(
                    e.item_id.as_deref(),
                    e.output_index,
                    e.content_index,
                    &e.delta,
                    false,
                );
            }
            E::OutputTextDone(e) => {
                self.fold_text(
                    e.item_id.as_deref(),
                    e.output_index,
                    e.content_index,
                    &e.text,
                    true,
                );
            }
            E::OutputTextAnnotationAdded(e) => {
                let Some(annotation) = &e.annotation else {
                    return;
                };
                let Some(content) = self.message(e.item_id.as_deref(), e.output_index) else {
                    return;
                };
                let part = slot(content, e.content_index.unwrap_or(0) as usize, || {
                    OutputContent::OutputText(OutputText::default())
                });
                if let OutputContent::OutputText(t) = part {
                    let list = t.annotations.get_or_insert_with(Vec::new);
                    let ix = e.annotation_index.map_or(list.len(), |i| i as usize);
                    *slot(list, ix, || annotation.clone()) = annotation.clone();
                }
            }
            E::RefusalDelta(e) => {
                self.fold_refusal(
                    e.item_id.as_deref(),
                    e.output_index,
                    e.content_index,
                    &e.delta,
                    false,
                );
            }
            E::RefusalDone(e) => {
                self.fold_refusal(
                    e.item_id.as_deref(),
                    e.output_index,
                    e.content_index,
                    &e.refusal,
                    true,
                );
            }
            E::ReasoningTextDelta(e) => {
                self.fold_thinking(
                    e.item_id.as_deref(),
                    e.output_index,
                    e.content_index,
                    &e.delta,
                    false,
                );
            }
            E::ReasoningTextDone(e) => {
                self.fold_thinking(
                    e.item_id.as_deref(),
                    e.output_index,
                    e.content_index,
                    &e.text,
                    true,
                );
            }
            E::ReasoningSummaryPartAdded(e) => {
                self.put_summary_part(
                    e.item_id.as_deref(),
                    e.output_index,
                    e.summary_index,
                    e.part.as_ref(),
                );
            }
            E::ReasoningSummaryPartDone(e) => {
                self.put_summary_part(
                    e.item_id.as_deref(),
                    e.output_index,
                    e.summary_index,
                    e.part.as_ref(),
                );
            }
            E::ReasoningSummaryTextDelta(e) => {
                if let Some(r) = self.reasoning(e.item_id.as_deref(), e.output_index) {
                    fold_summary(
                        &mut r.summary,
                        e.summary_index.unwrap_or(0) as usize,
                        &e.delta,
                        false,
                    );
                }
            }
            E::ReasoningSummaryTextDone(e) => {
                if let Some(r) = self.reasoning(e.item_id.as_deref(), e.output_index) {
                    fold_summary(
                        &mut r.summary,
                        e.summary_index.unwrap_or(0) as usize,
                        &e.text,
                        true,
                    );
                }
            }
            E::FunctionCallArgumentsDelta(e) => {
                on_item!(self, e, FunctionCall, |c| {
                    c.arguments.push_str(&e.delta);
                });
            }
            E::FunctionCallArgumentsDone(e) => {
                on_item!(self, e, FunctionCall, |c| {
                    c.arguments.clone_from(&e.arguments);
                    if let Some(name) = &e.name {
                        c.name.clone_from(name);
                    }
                });
            }
            E::CustomToolCallInputDelta(e) => {
                on_item!(self, e, CustomToolCall, |c| {
                    c.input.push_str(&e.delta);
                });
            }
            E::CustomToolCallInputDone(e) => {
                on_item!(self, e, CustomToolCall, |c| {
                    c.input.clone_from(&e.input);
                });
            }
            E::McpCallArgumentsDelta(e) => {
                on_item!(self, e, McpCall, |c| {
                    c.arguments.push_str(&e.delta);
                });
            }
            E::McpCallArgumentsDone(e) => {
                on_item!(self, e, McpCall, |c| {
                    c.arguments.clone_from(&e.arguments);
                });
            }
            E::CodeInterpreterCallCodeDelta(e) => {
                on_item!(self, e, CodeInterpreterCall, |c| {
                    c.code.get_or_insert_with(String::new).push_str(&e.delta);
                });
            }
            E::CodeInterpreterCallCodeDone(e) => {
                on_item!(self, e, CodeInterpreterCall, |c| {
                    c.code = Some(e.code.clone());
                });
            }
            E::WebSearchCallInProgress(e) => {
                self.status(e.item_id.as_deref(), e.output_index, ItemStatus::InProgress)
            }
            E::WebSearchCallSearching(e) => {
                self.status(e.item_id.as_deref(), e.output_index, ItemStatus::Searching)
            }
            E::WebSearchCallCompleted(e) => {
                self.status(e.item_id.as_deref(), e.output_index, ItemStatus::Completed)
            }
            E::CodeInterpreterCallInProgress(e) => {
                self.status(e.item_id.as_deref(), e.output_index, ItemStatus::InProgress)
            }
            E::CodeInterpreterCallInterpreting(e) => self.status(
                e.item_id.as_deref(),
                e.output_index,
                ItemStatus::Interpreting,
            ),
            E::CodeInterpreterCallCompleted(e) => {
                self.status(e.item_id.as_deref(), e.output_index, ItemStatus::Completed)
            }
            E::FileSearchCallInProgress(e) => {
                self.status(e.item_id.as_deref(), e.output_index, ItemStatus::InProgress)
            }
            E::FileSearchCallSearching(e) => {
                self.status(e.item_id.as_deref(), e.output_index, ItemStatus::Searching)
            }
            E::FileSearchCallCompleted(e) => {
                self.status(e.item_id.as_deref(), e.output_index, ItemStatus::Completed)
            }
            E::McpCallInProgress(e) => {
                self.status(e.item_id.as_deref(), e.output_index, ItemStatus::InProgress)
            }
            E::McpCallCompleted(e) => {
                self.status(e.item_id.as_deref(), e.output_index, ItemStatus::Completed)
            }
            E::McpCallFailed(e) => {
                self.status(e.item_id.as_deref(), e.output_index, ItemStatus::Failed)
            }
            E::Unknown(_) => {}
        }
    }

    /// Sets the status of an existing item (status events never create one).
    fn status(&mut self, item_id: Option<&str>, output_index: Option<u32>, status: ItemStatus) {
        if let Some(i) = self.position(item_id, output_index) {
            self.items[i].item.set_status(status);
        }
    }

    fn put_part(
        &mut self,
        item_id: Option<&str>,
        output_index: Option<u32>,
        content_index: Option<u32>,
        part: &OutputContent,
    ) {
        let ix = content_index.unwrap_or(0) as usize;
        let pos = self.position(item_id, output_index);
        if let Some(OutputItem::Reasoning(r)) = pos.map(|i| &mut self.items[i].item) {
            let content = r.content.get_or_insert_with(Vec::new);
            *slot(content, ix, || part.clone()) = part.clone();
            return;
        }
        if let Some(content) = self.message(item_id, output_index) {
            *slot(content, ix, || part.clone()) = part.clone();
        }
    }

    fn fold_text(
        &mut self,
        item_id: Option<&str>,
        output_index: Option<u32>,
        content_index: Option<u32>,
        text: &str,
        replace: bool,
    ) {
        let Some(content) = self.message(item_id, output_index) else {
            return;
        };
        let part = slot(content, content_index.unwrap_or(0) as usize, || {
            OutputContent::OutputText(OutputText::default())
        });
        match part {
            OutputContent::OutputText(t) => write(&mut t.text, text, replace),
            OutputContent::Text(t) => write(&mut t.text, text, replace),
            _ => {}
        }
    }

    fn fold_refusal(
        &mut self,
        item_id: Option<&str>,
        output_index: Option<u32>,
        content_index: Option<u32>,
        text: &str,
        replace: bool,
    ) {
        let Some(content) = self.message(item_id, output_index) else {
            return;
        };
        let part = slot(content, content_index.unwrap_or(0) as usize, || {
            OutputContent::Refusal(Refusal::default())
        });
        if let OutputContent::Refusal(r) = part {
            write(&mut r.refusal, text, replace);
        }
    }

    fn put_summary_part(
        &mut self,
        item_id: Option<&str>,
        output_index: Option<u32>,
        summary_index: Option<u32>,
        part: Option<&SummaryPart>,
    ) {
        let Some(r) = self.reasoning(item_id, output_index) else {
            return;
        };
        let ix = summary_index.unwrap_or(0) as usize;
        let part = part
            .cloned()
            .unwrap_or_else(|| SummaryPart::SummaryText(SummaryText::default()));
        let target = slot(&mut r.summary, ix, || {
            SummaryPart::SummaryText(SummaryText::default())
        });
        *target = part;
    }

    fn build(&self) -> Response {
        let items: Vec<OutputItem> = self.items.iter().map(|s| s.item.clone()).collect();
        let mut out = match (&self.terminal, &self.envelope) {
            (Some(t), Some(env)) => overlay(env, t),
            (Some(t), None) => t.clone(),
            (None, Some(env)) => env.clone(),
            (None, None) => Response::default(),
        };
        if self.terminal.as_ref().is_none_or(|t| t.output.is_none()) {
            out.output = Some(items);
        }
        if let Some(err) = &self.error {
            if out.error.is_none() {
                out.error = Some(err.clone());
            }
            if self.terminal.is_none() {
                out.status = Some(ResponseStatus::Failed);
            }
        }
        out
    }
}

impl Accumulate for ResponsesAccumulator {
    type Chunk = super::events::ResponseStreamEvent;
    type Output = Response;

    fn push(&mut self, chunk: &Self::Chunk) {
        self.fold(chunk);
    }

    fn snapshot(&self) -> Response {
        self.build()
    }

    fn finish(self) -> Response {
        self.build()
    }
}

/// The terminal response, with members it lacks taken from the envelope.
fn overlay(envelope: &Response, terminal: &Response) -> Response {
    let (Ok(Value::Object(mut base)), Ok(Value::Object(top))) = (
        serde_json::to_value(envelope),
        serde_json::to_value(terminal),
    ) else {
        return terminal.clone();
    };
    for (k, v) in top {
        base.insert(k, v);
    }
    serde_json::from_value(Value::Object(base)).unwrap_or_else(|_| terminal.clone())
}

/// The element at `ix`, growing the list with `make()` as needed.
fn slot<T>(list: &mut Vec<T>, ix: usize, make: impl Fn() -> T) -> &mut T {
    // Guard against absurd indexes from a hostile stream: never grow by more than one at a time
    // past the end; an index far beyond the end lands on a new last element instead.
    let ix = ix.min(list.len());
    if ix == list.len() {
        list.push(make());
    }
    &mut list[ix]
}

fn write(target: &mut String, text: &str, replace: bool) {
    if replace {
        target.clear();
    }
    target.push_str(text);
}

fn fold_summary(summary: &mut Vec<SummaryPart>, ix: usize, text: &str, replace: bool) {
    let part = slot(summary, ix, || {
        SummaryPart::SummaryText(SummaryText::default())
    });
    if let SummaryPart::SummaryText(t) = part {
        write(&mut t.text, text, replace);
    }
}
