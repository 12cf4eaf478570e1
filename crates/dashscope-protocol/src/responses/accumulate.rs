//! Stream events → the final [`Response`].

use serde_json::Value;

use super::events::ResponseStreamEvent as E;
use super::response::{
    ItemStatus, OutputContent, OutputItem, OutputText, ReasoningItem, ReasoningText, Refusal,
    Response, ResponseError, ResponseStatus, SummaryPart, SummaryText,
};
use crate::stream::{Accumulate, merge_extra};
use crate::wire::Extra;

/// Which item an event is about: its `item_id` and `output_index`.
type At<'a> = (Option<&'a str>, Option<u32>);

/// The [`At`] of an event.
macro_rules! at {
    ($e:expr) => {
        ($e.item_id.as_deref(), $e.output_index)
    };
}

/// The output item at `$at`, started as an empty `$variant` (with the event's item id) when none
/// is there yet; an item of another kind found there is left alone (the caller matches).
macro_rules! on_item {
    ($acc:expr, $at:expr, $variant:ident) => {
        on_item!($acc, $at, $variant($variant))
    };
    ($acc:expr, $at:expr, $variant:ident($ty:ident)) => {
        $acc.item_mut($at, |id| {
            OutputItem::$variant(super::response::$ty {
                id,
                ..Default::default()
            })
        })
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
/// * Unknown members of the lifecycle events themselves (beside `response` and
///   `sequence_number`) join the response's `extra`, unless it has a member of that name or
///   the name of a known one (a later value wins, but a `null` never replaces a value). Those of the item and delta events
///   belong to one event (OpenAI's `obfuscation`, say) and stay with it.
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
    /// Unknown members of the lifecycle events themselves (beside their `response`).
    extra: Extra,
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

    fn position(&self, (item_id, output_index): At<'_>) -> Option<usize> {
        let by_id = item_id.and_then(|id| self.items.iter().position(|s| s.item.id() == Some(id)));
        by_id.or_else(|| {
            let ix = output_index?;
            self.items.iter().rposition(|s| s.output_index == Some(ix))
        })
    }

    /// The item an event is about; created from `make` when no item matches.
    fn item_mut(
        &mut self,
        at: At<'_>,
        make: impl FnOnce(Option<String>) -> OutputItem,
    ) -> &mut OutputItem {
        let i = self.position(at).unwrap_or_else(|| {
            let item = make(at.0.map(str::to_owned));
            self.items.push(Slot {
                output_index: at.1,
                item,
            });
            self.items.len() - 1
        });
        &mut self.items[i].item
    }

    fn put_item(&mut self, output_index: Option<u32>, item: &Option<OutputItem>) {
        let Some(item) = item else { return };
        *self.item_mut((item.id(), output_index), |_| {
            OutputItem::Unknown(Value::Null)
        }) = item.clone();
    }

    /// The content of the message item an event is about.
    fn message(&mut self, at: At<'_>) -> Option<&mut Vec<OutputContent>> {
        match on_item!(self, at, Message(OutputMessage)) {
            OutputItem::Message(m) => Some(&mut m.content),
            _ => None,
        }
    }

    /// The part at `index` of the message item an event is about (`make` starts it).
    fn part(
        &mut self,
        at: At<'_>,
        index: Option<u32>,
        make: fn() -> OutputContent,
    ) -> Option<&mut OutputContent> {
        Some(slot(self.message(at)?, ix(index), make))
    }

    fn reasoning(&mut self, at: At<'_>) -> Option<&mut ReasoningItem> {
        match on_item!(self, at, Reasoning(ReasoningItem)) {
            OutputItem::Reasoning(r) => Some(r),
            _ => None,
        }
    }

    fn fold_thinking(&mut self, at: At<'_>, index: Option<u32>, text: &str, replace: bool) {
        let Some(r) = self.reasoning(at) else { return };
        let Some(content) = &mut r.content else {
            return fold_summary(&mut r.summary, index, text, replace);
        };
        let make = || OutputContent::ReasoningText(ReasoningText::default());
        if let OutputContent::ReasoningText(t) = slot(content, ix(index), make) {
            write(&mut t.text, text, replace);
        }
    }

    fn fold_text(&mut self, at: At<'_>, index: Option<u32>, text: &str, replace: bool) {
        let make = || OutputContent::OutputText(OutputText::default());
        match self.part(at, index, make) {
            Some(OutputContent::OutputText(t)) => write(&mut t.text, text, replace),
            Some(OutputContent::Text(t)) => write(&mut t.text, text, replace),
            _ => {}
        }
    }

    fn fold_refusal(&mut self, at: At<'_>, index: Option<u32>, text: &str, replace: bool) {
        let make = || OutputContent::Refusal(Refusal::default());
        if let Some(OutputContent::Refusal(r)) = self.part(at, index, make) {
            write(&mut r.refusal, text, replace);
        }
    }

    fn fold(&mut self, event: &E) {
        if let Some((r, extra)) = event.lifecycle() {
            let slot = if event.is_terminal() {
                &mut self.terminal
            } else {
                &mut self.envelope
            };
            *slot = Some(r.clone());
            merge_extra(&mut self.extra, extra, Response::WIRE_MEMBERS);
        }
        match event {
            E::Error(e) => {
                self.error = Some(ResponseError {
                    code: e.code.clone(),
                    message: e.message.clone(),
                    ..Default::default()
                });
            }
            E::OutputItemAdded(e) => self.put_item(e.output_index, &e.item),
            E::OutputItemDone(e) => self.put_item(e.output_index, &e.item),
            E::ContentPartAdded(e) => self.put_part(at!(e), e.content_index, e.part.as_ref()),
            E::ContentPartDone(e) => self.put_part(at!(e), e.content_index, e.part.as_ref()),
            E::OutputTextDelta(e) => self.fold_text(at!(e), e.content_index, &e.delta, false),
            E::OutputTextDone(e) => self.fold_text(at!(e), e.content_index, &e.text, true),
            E::OutputTextAnnotationAdded(e) => {
                let make = || OutputContent::OutputText(OutputText::default());
                let Some(annotation) = &e.annotation else {
                    return;
                };
                let Some(OutputContent::OutputText(t)) = self.part(at!(e), e.content_index, make)
                else {
                    return;
                };
                let list = t.annotations.get_or_insert_with(Vec::new);
                let i = e.annotation_index.map_or(list.len(), |i| i as usize);
                *slot(list, i, || annotation.clone()) = annotation.clone();
            }
            E::RefusalDelta(e) => self.fold_refusal(at!(e), e.content_index, &e.delta, false),
            E::RefusalDone(e) => self.fold_refusal(at!(e), e.content_index, &e.refusal, true),
            E::ReasoningTextDelta(e) => {
                self.fold_thinking(at!(e), e.content_index, &e.delta, false);
            }
            E::ReasoningTextDone(e) => self.fold_thinking(at!(e), e.content_index, &e.text, true),
            E::ReasoningSummaryPartAdded(e) => self.put_summary(at!(e), e.summary_index, &e.part),
            E::ReasoningSummaryPartDone(e) => self.put_summary(at!(e), e.summary_index, &e.part),
            E::ReasoningSummaryTextDelta(e) => {
                if let Some(r) = self.reasoning(at!(e)) {
                    fold_summary(&mut r.summary, e.summary_index, &e.delta, false);
                }
            }
            E::ReasoningSummaryTextDone(e) => {
                if let Some(r) = self.reasoning(at!(e)) {
                    fold_summary(&mut r.summary, e.summary_index, &e.text, true);
                }
            }
            E::FunctionCallArgumentsDelta(e) => {
                if let OutputItem::FunctionCall(c) = on_item!(self, at!(e), FunctionCall) {
                    c.arguments.push_str(&e.delta);
                }
            }
            E::FunctionCallArgumentsDone(e) => {
                if let OutputItem::FunctionCall(c) = on_item!(self, at!(e), FunctionCall) {
                    c.arguments.clone_from(&e.arguments);
                    if let Some(name) = &e.name {
                        c.name.clone_from(name);
                    }
                }
            }
            E::CustomToolCallInputDelta(e) => {
                if let OutputItem::CustomToolCall(c) = on_item!(self, at!(e), CustomToolCall) {
                    c.input.push_str(&e.delta);
                }
            }
            E::CustomToolCallInputDone(e) => {
                if let OutputItem::CustomToolCall(c) = on_item!(self, at!(e), CustomToolCall) {
                    c.input.clone_from(&e.input);
                }
            }
            E::McpCallArgumentsDelta(e) => {
                if let OutputItem::McpCall(c) = on_item!(self, at!(e), McpCall) {
                    c.arguments.push_str(&e.delta);
                }
            }
            E::McpCallArgumentsDone(e) => {
                if let OutputItem::McpCall(c) = on_item!(self, at!(e), McpCall) {
                    c.arguments.clone_from(&e.arguments);
                }
            }
            E::CodeInterpreterCallCodeDelta(e) => {
                let item = on_item!(self, at!(e), CodeInterpreterCall);
                if let OutputItem::CodeInterpreterCall(c) = item {
                    c.code.get_or_insert_with(String::new).push_str(&e.delta);
                }
            }
            E::CodeInterpreterCallCodeDone(e) => {
                let item = on_item!(self, at!(e), CodeInterpreterCall);
                if let OutputItem::CodeInterpreterCall(c) = item {
                    c.code = Some(e.code.clone());
                }
            }
            E::WebSearchCallInProgress(e) => self.status(at!(e), ItemStatus::InProgress),
            E::WebSearchCallSearching(e) => self.status(at!(e), ItemStatus::Searching),
            E::WebSearchCallCompleted(e) => self.status(at!(e), ItemStatus::Completed),
            E::CodeInterpreterCallInProgress(e) => self.status(at!(e), ItemStatus::InProgress),
            E::CodeInterpreterCallInterpreting(e) => self.status(at!(e), ItemStatus::Interpreting),
            E::CodeInterpreterCallCompleted(e) => self.status(at!(e), ItemStatus::Completed),
            E::FileSearchCallInProgress(e) => self.status(at!(e), ItemStatus::InProgress),
            E::FileSearchCallSearching(e) => self.status(at!(e), ItemStatus::Searching),
            E::FileSearchCallCompleted(e) => self.status(at!(e), ItemStatus::Completed),
            E::McpCallInProgress(e) => self.status(at!(e), ItemStatus::InProgress),
            E::McpCallCompleted(e) => self.status(at!(e), ItemStatus::Completed),
            E::McpCallFailed(e) => self.status(at!(e), ItemStatus::Failed),
            E::Created(_)
            | E::Queued(_)
            | E::InProgress(_)
            | E::Completed(_)
            | E::Incomplete(_)
            | E::Failed(_)
            | E::Unknown(_) => {}
        }
    }

    /// Sets the status of an existing item (status events never create one).
    fn status(&mut self, at: At<'_>, status: ItemStatus) {
        if let Some(i) = self.position(at) {
            self.items[i].item.set_status(status);
        }
    }

    fn put_part(&mut self, at: At<'_>, index: Option<u32>, part: Option<&OutputContent>) {
        let Some(part) = part else { return };
        let pos = self.position(at);
        let content = match pos.map(|i| &mut self.items[i].item) {
            Some(OutputItem::Reasoning(r)) => r.content.get_or_insert_with(Vec::new),
            _ => match self.message(at) {
                Some(content) => content,
                None => return,
            },
        };
        *slot(content, ix(index), || part.clone()) = part.clone();
    }

    fn put_summary(&mut self, at: At<'_>, index: Option<u32>, part: &Option<SummaryPart>) {
        let Some(r) = self.reasoning(at) else { return };
        let part = part
            .clone()
            .unwrap_or_else(|| SummaryPart::SummaryText(SummaryText::default()));
        let target = slot(&mut r.summary, ix(index), || part.clone());
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
        for (k, v) in &self.extra {
            out.extra.entry(k.clone()).or_insert_with(|| v.clone());
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

/// A part index (absent: the first).
fn ix(index: Option<u32>) -> usize {
    index.unwrap_or(0) as usize
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

fn fold_summary(summary: &mut Vec<SummaryPart>, index: Option<u32>, text: &str, replace: bool) {
    let make = || SummaryPart::SummaryText(SummaryText::default());
    if let SummaryPart::SummaryText(t) = slot(summary, ix(index), make) {
        write(&mut t.text, text, replace);
    }
}
