// Calls that end in every kind of error, and calls that succeed, on every dialect, stream and
// non-stream, for the secret-hygiene tests.
//
// `include!`d twice by `secrets.rs`, once per client, into a module that defines:
// * `shell_fn! { fn name(args) -> T { … } }`: an `async fn` (async client) or a `fn` (blocking);
// * `w!(expr)`: `expr.await` (async) or `expr` (blocking);
// * `Client` and `make_client(Config) -> Client`.
//
// Every error is produced for real: by the mock server over TCP (recorded fixtures, runtime
// cassettes that echo the key back in every field a gateway might put it in, injected faults),
// or by the client before sending.

/// Drains a stream that must fail to its error (or returns the error that prevented it).
macro_rules! stream_error {
    ($opened:expr) => {
        match $opened {
            Err(e) => e,
            Ok(s) => match w!(s.accumulate()) {
                Err(e) => e,
                Ok(v) => panic!("the stream did not fail: {v:?}"),
            },
        }
    };
}

shell_fn! {
    /// Every error variant (and every stream error kind), each produced for real; returns
    /// `(what, whether it is the expected variant, the error)`.
    fn every_error(server: &MockServer) -> Vec<(&'static str, bool, Error)> {
        add_echo_cassettes(server);
        let uri = server.uri();
        let client = |fault: Option<&str>| make_client(config_for(&uri, fault));
        let chat: ChatRequest = request("chat/stream-include-usage-twin");
        let native_req: GenerationRequest = request("native/text-sse-twin");
        let echo_chat = |model: &str| ChatRequest::new(model, vec![Message::user("echo")]);
        let echo_native =
            |model: &str| GenerationRequest::new(model, vec![native::Message::user("echo")]);
        let mut out: Vec<(&'static str, bool, Error)> = Vec::new();
        let is_api = |e: &Error, want: u16| {
            matches!(e, Error::Api { status, .. } if *status == want)
        };
        let is_transport = |e: &Error, test: fn(&TransportError) -> bool| {
            matches!(e, Error::Transport(t) if test(t))
        };
        let is_stream = |e: &Error, want: StreamErrorKind| {
            matches!(e, Error::Stream { kind, .. } if *kind == want)
        };

        // InvalidRequest: nothing is sent.
        let e = w!(client(None).responses().retrieve("")).unwrap_err();
        let ok = matches!(e, Error::InvalidRequest { .. });
        out.push(("InvalidRequest (empty response id)", ok, e));

        // Transport.
        let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        let dead_uri = format!("http://{}", dead.local_addr().expect("an address"));
        drop(dead);
        let refused = make_client(config_for(&dead_uri, None));
        let e = w!(refused.chat().create(chat.clone())).unwrap_err();
        let ok = is_transport(&e, TransportError::is_connect);
        out.push(("Transport (connection refused)", ok, e));
        let e = w!(client(Some("reset")).chat().create(chat.clone())).unwrap_err();
        let ok = is_transport(&e, TransportError::is_request_sent);
        out.push(("Transport (reset)", ok, e));
        let e = w!(client(Some("stall-after=0")).native().generate(native_req.clone())).unwrap_err();
        let ok = is_transport(&e, TransportError::is_timeout);
        out.push(("Transport (timeout)", ok, e));
        let e = w!(client(Some("cut-after=20")).native().generate(native_req.clone())).unwrap_err();
        let ok = is_transport(&e, TransportError::is_body);
        out.push(("Transport (body cut)", ok, e));

        // Api: recorded, and echoing the key in every field.
        let recorded: ChatRequest = request("chat/error-401-invalid-api-key");
        let e = w!(client(None).chat().create(recorded)).unwrap_err();
        let ok = is_api(&e, 401);
        out.push(("Api (recorded 401)", ok, e));
        let req = echo_native("qwen-echo-native-401");
        let e = w!(client(None).native().generate(req.clone())).unwrap_err();
        let ok = is_api(&e, 401);
        out.push(("Api (native 401 echoing the key)", ok, e));
        let e = w!(client(None).chat().create(echo_chat("qwen-echo-chat-401"))).unwrap_err();
        let ok = is_api(&e, 401);
        out.push(("Api (compat 401 echoing the key)", ok, e));
        let e = w!(client(None).chat().create(echo_chat("qwen-echo-502"))).unwrap_err();
        let ok = is_api(&e, 502);
        out.push(("Api (502 HTML page echoing the key)", ok, e));
        let req = echo_native("qwen-echo-native-first");
        let e = w!(client(None).native().generate_stream(req)).unwrap_err();
        let ok = is_api(&e, 401);
        out.push(("Api (native event:error first, echoing the key)", ok, e));

        // Decode.
        let e = w!(client(None).chat().create(echo_chat("qwen-echo-decode"))).unwrap_err();
        let ok = matches!(e, Error::Decode { .. });
        out.push(("Decode (200 body echoing the key)", ok, e));

        // Stream, every kind.
        let req = echo_chat("qwen-echo-chat-stream");
        let e = stream_error!(w!(client(None).chat().create_stream(req)));
        let ok = is_stream(&e, StreamErrorKind::ErrorEvent);
        out.push(("Stream ErrorEvent (compat, echoing the key)", ok, e));
        let req = echo_native("qwen-echo-native-stream");
        let e = stream_error!(w!(client(None).native().generate_stream(req)));
        let ok = is_stream(&e, StreamErrorKind::ErrorEvent);
        out.push(("Stream ErrorEvent (native, echoing the key)", ok, e));
        let req = echo_chat("qwen-echo-malformed");
        let e = stream_error!(w!(client(None).chat().create_stream(req)));
        let ok = is_stream(&e, StreamErrorKind::Decode);
        out.push(("Stream Decode (a malformed event holding the key)", ok, e));
        let req = echo_chat("qwen-echo-end");
        let e = stream_error!(w!(client(None).chat().create_stream(req)));
        let ok = is_stream(&e, StreamErrorKind::UnexpectedEnd);
        out.push(("Stream UnexpectedEnd", ok, e));
        let c = client(Some("invalid-utf8=3"));
        let e = stream_error!(w!(c.chat().create_stream(chat.clone())));
        let ok = is_stream(&e, StreamErrorKind::Framing);
        out.push(("Stream Framing", ok, e));
        let c = client(Some("stall-after=2"));
        let e = stream_error!(w!(c.chat().create_stream(chat.clone())));
        let ok = is_stream(&e, StreamErrorKind::IdleTimeout);
        out.push(("Stream IdleTimeout", ok, e));
        let c = client(Some("cut-after=2"));
        let e = stream_error!(w!(c.native().generate_stream(native_req.clone())));
        let ok = is_stream(&e, StreamErrorKind::Transport);
        out.push(("Stream Transport", ok, e));
        out
    }
}

shell_fn! {
    /// Successful calls on every dialect, stream and non-stream, each after one retried 5xx
    /// (503 before a non-stream answer, 502 before a stream); returns how many succeeded.
    fn every_success(server: &MockServer) -> usize {
        let uri = server.uri();
        let retried = |status: u16, dialect: &str| {
            let fault = format!("status={status};times=1;dialect={dialect}");
            make_client(
                config_builder(&uri, Some(&fault))
                    .retry(RetryPolicy {
                        max_retries: 1,
                        initial_backoff: Duration::from_millis(10),
                        ..RetryPolicy::none()
                    })
                    .build()
                    .expect("a configuration"),
            )
        };
        let chat: ChatRequest = request("chat/stream-include-usage-twin");
        let responses: ResponseRequest = request("responses/intro");
        let native_req: GenerationRequest = request("native/text-sse-twin");
        let mut ok = 0;
        w!(retried(503, "chat").chat().create(chat.clone())).expect("chat");
        let s = w!(retried(502, "chat").chat().create_stream(chat)).expect("chat stream");
        w!(s.accumulate()).expect("chat stream");
        ok += 2;
        w!(retried(503, "responses").responses().create(responses.clone())).expect("responses");
        let s = w!(retried(502, "responses").responses().create_stream(responses))
            .expect("responses stream");
        w!(s.accumulate()).expect("responses stream");
        ok += 2;
        w!(retried(503, "native").native().generate(native_req.clone())).expect("native");
        let s = w!(retried(502, "native").native().generate_stream(native_req))
            .expect("native stream");
        w!(s.accumulate()).expect("native stream");
        ok += 2;
        ok
    }
}
