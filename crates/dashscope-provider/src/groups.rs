//! The method groups of both clients (`client.chat()`, `.responses()`, `.native()`,
//! `.conversation(dialect)`), each method written once.
//!
//! A group holds the client it came from (`C`: the async `Client` or the `blocking::Client`)
//! and its [`RequestOptions`]. Its methods are one list, [`group_methods!`]: each entry is a
//! method's doc, signature and body, where the body shapes the request with `core::ops` and
//! hands it to the client's engine through `io!`. Each client module expands the list with its
//! own `io!` and method form:
//!
//! | | `io!(x)` | method | returns |
//! |---|---|---|---|
//! | `client.rs` | `x.await` | `pub async fn` | a future of `Result<…, Error>` |
//! | `blocking.rs` | `x` | `pub fn` | `Result<…, Error>` |
//!
//! so a new endpoint is one entry here (and its request shaping in `core::ops`), and both
//! clients have it with the same name, docs and behaviour. A macro was chosen over groups
//! generic over an executor trait because the methods stay plain `async fn` / `fn` with concrete
//! return types in the docs, and the futures stay unboxed.
//!
//! Ownership: every call takes its request by value (a conversation too); ids are borrowed.

use crate::config::Config;
use crate::core::ops::Target;
use crate::options::RequestOptions;

/// What the group method bodies name, for the client modules that expand them.
pub(crate) mod prelude {
    pub(crate) use dashscope_protocol::chat::{ChatCompletion, ChatRequest};
    pub(crate) use dashscope_protocol::native::{GenerationRequest, GenerationResponse};
    pub(crate) use dashscope_protocol::responses::{Response, ResponseRequest};
    pub(crate) use dashscope_protocol::unified::{DialectRequest, DialectResponse, StreamReader};

    pub(crate) use crate::conversation::{
        Conversation, Inner, UnifiedResponse, unified_reply, wire_request,
    };
    pub(crate) use crate::core::ops;
    pub(crate) use crate::error::Error;
    pub(crate) use crate::reply::Reply;
    pub(crate) use crate::responses_extra::{InputItemList, ListQuery, ResponseDeleted};
}

/// Declares the group types: the client, the options, and `with_options`.
macro_rules! groups {
    ($($(#[$doc:meta])* $name:ident $({ $($field:ident: $ty:ty),* })?;)*) => {$(
        $(#[$doc])*
        ///
        /// `C` is the client it came from: the async `Client`, whose methods are `async`, or
        /// the `blocking::Client`.
        #[derive(Debug)]
        pub struct $name<'c, C> {
            pub(crate) client: &'c C,
            config: &'c Config,
            pub(crate) options: RequestOptions,
            $($(pub(crate) $field: $ty,)*)?
        }

        impl<'c, C> $name<'c, C> {
            /// Makes this group's calls with `options` (headers, total timeout, retries,
            /// endpoint) over the client's configuration; see [`RequestOptions`] for what wins.
            #[must_use]
            pub fn with_options(mut self, options: RequestOptions) -> Self {
                self.options = options;
                self
            }

            pub(crate) fn new(client: &'c C, config: &'c Config $($(, $field: $ty)*)?) -> Self {
                $name { client, config, options: RequestOptions::new() $($(, $field)*)? }
            }

            pub(crate) fn target(&self) -> Target<'_> {
                (self.config, &self.options)
            }
        }
    )*};
}

groups! {
    /// Chat Completions: `client.chat()`.
    Chat;
    /// Responses: `client.responses()`.
    Responses;
    /// Native generation: `client.native()`.
    Native;
    /// One [`Conversation`](crate::conversation::Conversation) in a dialect chosen at run time:
    /// `client.conversation(dialect)`. See the [`conversation`](crate::conversation) module.
    Unified { dialect: crate::conversation::Dialect };
}

impl<C> Unified<'_, C> {
    /// The dialect it speaks.
    pub fn dialect(&self) -> crate::conversation::Dialect {
        self.dialect
    }
}

/// What every client type has: clones share the configuration and the transport (`Shared`),
/// and `Debug` shows both (the configuration never shows the key). Expanded in each client's
/// module, after its `Client<T>` struct (`inner: Arc<Shared<T>>`).
macro_rules! client_type {
    ($name:literal) => {
        /// What clones of a client share.
        struct Shared<T> {
            config: Config,
            transport: T,
        }

        impl<T> Clone for Client<T> {
            fn clone(&self) -> Self {
                Client {
                    inner: Arc::clone(&self.inner),
                }
            }
        }

        impl<T: fmt::Debug> fmt::Debug for Client<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct($name)
                    .field("config", &self.inner.config)
                    .field("transport", &self.inner.transport)
                    .finish()
            }
        }
    };
}

/// What every client has besides its constructors and engine, written once; expanded inside
/// each client's `impl` block.
macro_rules! client_methods {
    () => {
        /// The configuration.
        pub fn config(&self) -> &Config {
            &self.inner.config
        }

        /// The transport.
        pub fn transport(&self) -> &T {
            &self.inner.transport
        }

        /// OpenAI-compatible Chat Completions.
        pub fn chat(&self) -> Chat<'_, Self> {
            Chat::new(self, &self.inner.config)
        }

        /// OpenAI-compatible Responses (on the current path unless the
        /// [options](Responses::with_options) choose another endpoint).
        pub fn responses(&self) -> Responses<'_, Self> {
            Responses::new(self, &self.inner.config)
        }

        /// DashScope native generation (the endpoint chosen from the content unless the
        /// [options](Native::with_options) choose one).
        pub fn native(&self) -> Native<'_, Self> {
            Native::new(self, &self.inner.config)
        }

        /// One [`Conversation`](crate::conversation::Conversation) in `dialect`, chosen at run
        /// time: converted to the dialect's request, sent as that dialect's group sends it, read
        /// back as a [`UnifiedResponse`](crate::conversation::UnifiedResponse) (see
        /// [`conversation`](crate::conversation)).
        pub fn conversation(&self, dialect: crate::conversation::Dialect) -> Unified<'_, Self> {
            Unified::new(self, &self.inner.config, dialect)
        }
    };
}

/// Every group method, once. `$shell!` receives the list and turns each entry into an `async`
/// or a blocking method (see the module docs); in the bodies, `io!` is where the shell waits.
macro_rules! group_methods {
    ($shell:ident) => {
        $shell! {
            impl Chat {
                /// `POST /compatible-mode/v1/chat/completions`: one answer. A `stream: true` in
                /// `request` is dropped (use [`create_stream`](Self::create_stream)).
                ///
                /// # Errors
                ///
                /// Any [`Error`] except [`Error::Stream`]; see the variants.
                fn create(&self, request: ChatRequest) -> Reply<ChatCompletion> {
                    io!(self.client.unary(ops::chat_create(self.target(), request)?))
                }

                /// The streaming twin: sets `stream: true` and
                /// `stream_options.include_usage: true` (unless `request` sets
                /// `include_usage`). Ready once the first chunk has arrived.
                ///
                /// # Errors
                ///
                /// Any [`Error`] before the first chunk (the stream's own errors come out of the
                /// stream).
                fn create_stream(&self, request: ChatRequest) -> ChatStream {
                    io!(self.client.stream(ops::chat_create_stream(self.target(), request)?))
                }
            }

            impl Responses {
                /// `POST …/responses`: one answer. A `stream: true` in `request` is dropped.
                ///
                /// # Errors
                ///
                /// Any [`Error`] except [`Error::Stream`]; a response whose `error` is set is an
                /// [`Error::Api`].
                fn create(&self, request: ResponseRequest) -> Reply<Response> {
                    io!(self.client.unary(ops::responses_create(self.target(), request)?))
                }

                /// The streaming twin (`stream: true`): typed events, ending at
                /// `response.completed` / `response.incomplete`. Ready once the first event has
                /// arrived.
                ///
                /// # Errors
                ///
                /// Any [`Error`] before the first event.
                fn create_stream(&self, request: ResponseRequest) -> ResponsesStream {
                    io!(self.client.stream(ops::responses_create_stream(self.target(), request)?))
                }

                /// `GET …/responses/{id}`: a stored response.
                ///
                /// # Errors
                ///
                /// Any [`Error`]; an empty id is [`Error::InvalidRequest`].
                fn retrieve(&self, id: &str) -> Reply<Response> {
                    io!(self.client.unary(ops::responses_retrieve(self.target(), id)?))
                }

                /// `DELETE …/responses/{id}`.
                ///
                /// # Errors
                ///
                /// Any [`Error`]; an empty id is [`Error::InvalidRequest`].
                fn delete(&self, id: &str) -> Reply<ResponseDeleted> {
                    io!(self.client.unary(ops::responses_delete(self.target(), id)?))
                }

                /// `GET …/responses/{id}/input_items`: the items the response was given, a page
                /// as `query` asks.
                ///
                /// # Errors
                ///
                /// Any [`Error`]; an empty id is [`Error::InvalidRequest`].
                fn input_items(&self, id: &str, query: ListQuery) -> Reply<InputItemList> {
                    io!(self.client.unary(ops::responses_input_items(self.target(), id, query)?))
                }
            }

            impl Native {
                /// `POST /api/v1/services/aigc/{text,multimodal}-generation/generation`: one
                /// answer.
                ///
                /// # Errors
                ///
                /// Any [`Error`] except [`Error::Stream`]; a body with a top-level `code` (even
                /// under HTTP 200) is an [`Error::Api`].
                fn generate(&self, request: GenerationRequest) -> Reply<GenerationResponse> {
                    io!(self.client.unary(ops::native_generate(self.target(), request)?))
                }

                /// The streaming twin: `X-DashScope-SSE: enable`, and `incremental_output: true`
                /// unless `request` sets it. With `incremental_output: false` the chunks repeat
                /// the text so far and the stream's `accumulate` folds them accordingly. Ready
                /// once the first chunk has arrived.
                ///
                /// # Errors
                ///
                /// Any [`Error`] before the first chunk; an `event:error` first event is an
                /// [`Error::Api`].
                fn generate_stream(&self, request: GenerationRequest) -> NativeStream {
                    io!(self.client.stream(ops::native_generate_stream(self.target(), request)?))
                }
            }

            impl Unified {
                /// Sends the conversation and returns the answer (a `stream: true` in it is
                /// ignored).
                ///
                /// # Errors
                ///
                /// [`Error::InvalidRequest`] when the dialect cannot carry the conversation
                /// (nothing is sent); otherwise what the dialect's non-stream call returns.
                fn send(&self, conversation: Conversation) -> Reply<UnifiedResponse> {
                    let t = self.target();
                    Ok(match wire_request(&conversation, self.dialect, false)? {
                        DialectRequest::Chat(r) => unified_reply(
                            io!(self.client.unary(ops::chat_create(t, r)?))?,
                            DialectResponse::Chat,
                        ),
                        DialectRequest::Responses(r) => unified_reply(
                            io!(self.client.unary(ops::responses_create(t, r)?))?,
                            DialectResponse::Responses,
                        ),
                        DialectRequest::Native(r) => unified_reply(
                            io!(self.client.unary(ops::native_generate(t, r)?))?,
                            DialectResponse::Native,
                        ),
                    })
                }

                /// Streams the answer as [`UnifiedEvent`](crate::conversation::UnifiedEvent)s.
                /// Ready once the first chunk has arrived.
                ///
                /// # Errors
                ///
                /// [`Error::InvalidRequest`] when the dialect cannot carry the conversation;
                /// otherwise any [`Error`] before the first chunk (the stream's own errors come
                /// out of the stream).
                fn stream(&self, conversation: Conversation) -> UnifiedStream {
                    let t = self.target();
                    let request = wire_request(&conversation, self.dialect, true)?;
                    let reader = StreamReader::for_request(&request);
                    let inner = match request {
                        DialectRequest::Chat(r) => Inner::Chat(Box::new(io!(
                            self.client.stream(ops::chat_create_stream(t, r)?)
                        )?)),
                        DialectRequest::Responses(r) => Inner::Responses(Box::new(io!(
                            self.client.stream(ops::responses_create_stream(t, r)?)
                        )?)),
                        DialectRequest::Native(r) => Inner::Native(Box::new(io!(
                            self.client.stream(ops::native_generate_stream(t, r)?)
                        )?)),
                    };
                    Ok(UnifiedStream::new(reader, inner))
                }
            }
        }
    };
}

pub(crate) use {client_methods, client_type, group_methods};
