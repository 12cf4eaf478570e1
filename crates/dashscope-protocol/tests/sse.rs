//! The SSE codec: named rules, split invariance, robustness on arbitrary bytes, and encoder
//! round trips.

use dashscope_protocol::sse::{
    DEFAULT_MAX_EVENT, DEFAULT_MAX_LINE, Decoder, Encoder, Event, Mode, SseError, SseErrorKind,
};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// An owned copy of what `next_event` yielded.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Item {
    Ev(Ev),
    Err(SseError),
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
struct Ev {
    index: usize,
    id: Option<String>,
    event: Option<String>,
    data: String,
    http_status: Option<u16>,
    retry: Option<u64>,
}

impl From<&Event<'_>> for Ev {
    fn from(e: &Event<'_>) -> Self {
        Self {
            index: e.index,
            id: e.id.map(str::to_owned),
            event: e.event.map(str::to_owned),
            data: e.data.to_owned(),
            http_status: e.http_status,
            retry: e.retry,
        }
    }
}

impl Item {
    /// A compact one-line form for snapshots.
    fn line(&self) -> String {
        match self {
            Item::Ev(e) => {
                let mut s = format!("#{}", e.index);
                if let Some(id) = &e.id {
                    s += &format!(" id={id:?}");
                }
                if let Some(ev) = &e.event {
                    s += &format!(" event={ev:?}");
                }
                if let Some(st) = e.http_status {
                    s += &format!(" status={st}");
                }
                if let Some(r) = e.retry {
                    s += &format!(" retry={r}");
                }
                s + &format!(" data={:?}", e.data)
            }
            Item::Err(e) => format!("error: {e}"),
        }
    }
}

/// Pulls every available item. Panics if the decoder hands out more items than could possibly
/// come from the bytes fed (a runaway loop).
fn drain(d: &mut Decoder, out: &mut Vec<Item>, limit: usize) {
    while let Some(item) = d.next_event() {
        out.push(match item {
            Ok(ev) => Item::Ev(Ev::from(&ev)),
            Err(e) => Item::Err(e),
        });
        assert!(out.len() <= limit, "decoder does not terminate: {out:?}");
    }
}

/// Feeds `chunks` one by one (draining after each), then finishes.
fn decode_with(mut d: Decoder, chunks: &[&[u8]]) -> Vec<Item> {
    let total: usize = chunks.iter().map(|c| c.len()).sum();
    let limit = total + 4;
    let mut out = Vec::new();
    for chunk in chunks {
        d.feed(chunk);
        drain(&mut d, &mut out, limit);
    }
    d.finish();
    drain(&mut d, &mut out, limit);
    // Once flushed, nothing more comes.
    assert!(d.next_event().is_none());
    out
}

fn decode(mode: Mode, chunks: &[&[u8]]) -> Vec<Item> {
    decode_with(Decoder::with_mode(mode), chunks)
}

/// Decodes `bytes` fed whole.
fn whole(mode: Mode, bytes: &[u8]) -> Vec<Item> {
    decode(mode, &[bytes])
}

/// Only the events, panicking on errors.
fn events(items: Vec<Item>) -> Vec<Ev> {
    items
        .into_iter()
        .map(|i| match i {
            Item::Ev(e) => e,
            Item::Err(e) => panic!("unexpected error {e}"),
        })
        .collect()
}

fn ev(index: usize, data: &str) -> Ev {
    Ev {
        index,
        data: data.to_owned(),
        ..Ev::default()
    }
}

/// Cuts `bytes` at the given (unsorted, possibly repeated) points.
fn split_at_points<'a>(bytes: &'a [u8], points: &[usize]) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = points.iter().map(|p| p % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    let mut out = Vec::new();
    let mut last = 0;
    for c in cuts {
        out.push(&bytes[last..c]);
        last = c;
    }
    out.push(&bytes[last..]);
    out
}

/// Feeds one byte at a time: every split point at once, including inside each UTF-8 character
/// and between each `\r` and `\n`.
fn bytewise(mode: Mode, bytes: &[u8]) -> Vec<Item> {
    let chunks: Vec<&[u8]> = bytes.chunks(1).collect();
    decode(mode, &chunks)
}

// ---------------------------------------------------------------------------------------------
// Named rules
// ---------------------------------------------------------------------------------------------

#[test]
fn data_with_and_without_space_after_colon() {
    let got = events(whole(
        Mode::Standard,
        b"data:no-space\n\ndata: one-space\n\ndata:  two-spaces\n\ndata:\n\ndata: \n\n",
    ));
    assert_eq!(
        got,
        [
            ev(0, "no-space"),
            ev(1, "one-space"),
            ev(2, " two-spaces"),
            ev(3, ""),
            ev(4, ""),
        ]
    );
}

#[test]
fn only_one_space_is_stripped_from_every_field() {
    let got = events(whole(Mode::Standard, b"id:  7\nevent:  x\ndata:d\n\n"));
    assert_eq!(got[0].id.as_deref(), Some(" 7"));
    assert_eq!(got[0].event.as_deref(), Some(" x"));
}

#[test]
fn line_without_colon_is_a_field_with_an_empty_value() {
    // `data` alone is an empty data line; two of them join to "\n".
    let got = events(whole(
        Mode::Standard,
        b"data\n\ndata\ndata\n\nevent\ndata:x\n\n",
    ));
    assert_eq!(got[0], ev(0, ""));
    assert_eq!(got[1], ev(1, "\n"));
    assert_eq!(got[2].event.as_deref(), Some(""));
}

#[test]
fn unknown_fields_are_ignored() {
    let got = events(whole(
        Mode::Standard,
        b"foo:bar\nDATA:upper\ndata :spaced\nx\ndata:kept\nbaz\n\n",
    ));
    assert_eq!(got, [ev(0, "kept")]);
}

#[test]
fn multi_line_data_is_joined_with_lf() {
    let got = events(whole(
        Mode::Standard,
        "data:第一行\ndata: second 🎉\ndata:\ndata:last\n\n".as_bytes(),
    ));
    assert_eq!(got, [ev(0, "第一行\nsecond 🎉\n\nlast")]);
}

#[test]
fn leading_bom_is_ignored_once_even_split() {
    let stream = b"\xEF\xBB\xBFdata:a\n\n";
    assert_eq!(events(whole(Mode::Standard, stream)), [ev(0, "a")]);
    assert_eq!(events(bytewise(Mode::Standard, stream)), [ev(0, "a")]);
    // A second BOM is part of the next field's name: an unknown field, ignored.
    let twice = "\u{FEFF}\u{FEFF}data:a\n\ndata:b\n\n".as_bytes();
    assert_eq!(events(whole(Mode::Standard, twice)), [ev(0, "b")]);
    // A BOM later in the stream is not special either.
    let late = "data:a\n\n\u{FEFF}data:b\n\n".as_bytes();
    assert_eq!(events(whole(Mode::Standard, late)), [ev(0, "a")]);
}

#[test]
fn bom_prefix_alone_at_the_end_is_an_incomplete_character() {
    let got = whole(Mode::Standard, b"\xEF\xBB");
    assert_eq!(
        got,
        [Item::Err(SseError {
            index: 0,
            kind: SseErrorKind::InvalidUtf8 {
                valid_up_to: 0,
                incomplete: true
            }
        })]
    );
}

#[test]
fn lf_crlf_and_cr_line_ends() {
    for stream in [
        &b"data:a\ndata:b\n\ndata:c\n\n"[..],
        b"data:a\r\ndata:b\r\n\r\ndata:c\r\n\r\n",
        b"data:a\rdata:b\r\rdata:c\r\r",
        b"data:a\r\ndata:b\r\rdata:c\n\r\n",
    ] {
        let want = [ev(0, "a\nb"), ev(1, "c")];
        assert_eq!(events(whole(Mode::Standard, stream)), want, "{stream:?}");
        assert_eq!(events(bytewise(Mode::Standard, stream)), want, "{stream:?}");
    }
}

#[test]
fn cr_at_end_of_feed_and_lf_at_start_of_next_are_one_line_end() {
    // Were the CR and LF two line ends, the blank line would dispatch "a" alone.
    let got = events(decode(
        Mode::Standard,
        &[b"data:a\r", b"\ndata:b\r", b"\n\r", b"\n"],
    ));
    assert_eq!(got, [ev(0, "a\nb")]);
    // Same in the data-line mode: exactly one event per data line, no stray resets.
    let got = events(decode(
        Mode::DataLineIsEvent,
        &[b"id:1\r", b"\ndata:a\r", b"\nid:2\r", b"\ndata:b\r", b"\n"],
    ));
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].id.as_deref(), Some("2"));
    // A CR at the end of a feed followed by a non-LF byte is a line end of its own.
    let got = events(decode(Mode::Standard, &[b"data:a\r", b"\r", b"data:b\r\r"]));
    assert_eq!(got, [ev(0, "a"), ev(1, "b")]);
}

#[test]
fn utf8_split_across_feeds_anywhere() {
    let stream = "data:你好，世界 🌏 émoji\n\n".as_bytes();
    for cut in 0..=stream.len() {
        let got = events(decode(Mode::Standard, &[&stream[..cut], &stream[cut..]]));
        assert_eq!(got, [ev(0, "你好，世界 🌏 émoji")], "cut at {cut}");
    }
}

#[test]
fn http_status_comment_sets_status_on_the_event_it_precedes() {
    let got = events(whole(
        Mode::Standard,
        b":HTTP_STATUS/200\ndata:a\n\ndata:b\n\n:HTTP_STATUS/400\n\ndata:c\n\n",
    ));
    assert_eq!(got[0].http_status, Some(200));
    // Not carried to the next event.
    assert_eq!(got[1].http_status, None);
    // A status in a block without data waits for the next event.
    assert_eq!(got[2].http_status, Some(400));
}

#[test]
fn status_field_line_sets_status() {
    let got = events(whole(
        Mode::DataLineIsEvent,
        b"status:429\ndata:x\nstatus: 500\ndata:y\nstatus:abc\ndata:z\n",
    ));
    let statuses: Vec<_> = got.iter().map(|e| e.http_status).collect();
    assert_eq!(statuses, [Some(429), Some(500), None]);
}

#[test]
fn other_comments_are_ignored() {
    let got = events(whole(
        Mode::Standard,
        b": keepalive\n:\n:HTTP_STATUS/abc\n:HTTP_STATUS/99999\ndata:a\n: between\n\n",
    ));
    assert_eq!(got, [ev(0, "a")]);
}

#[test]
fn standard_mode_dispatches_only_blocks_with_data_and_resets_fields() {
    let got = events(whole(
        Mode::Standard,
        b"id:1\nevent:ping\nretry:10\n\n: only a comment\n\ndata:x\n\n",
    ));
    // The first block had no data: nothing dispatched, and its fields are gone.
    assert_eq!(got, [ev(0, "x")]);
}

#[test]
fn id_event_and_retry_belong_to_their_own_event() {
    let got = events(whole(
        Mode::Standard,
        b"id:1\nevent:result\nretry:1500\ndata:a\n\ndata:b\n\nid:\nevent:e\nretry:15x\ndata:c\n\n",
    ));
    assert_eq!(got[0].id.as_deref(), Some("1"));
    assert_eq!(got[0].event.as_deref(), Some("result"));
    assert_eq!(got[0].retry, Some(1500));
    // The event name resets per event (and so do id and retry).
    assert_eq!(
        (got[1].id.as_deref(), got[1].event.as_deref(), got[1].retry),
        (None, None, None)
    );
    // An empty id is an id; a retry with a non-digit is ignored.
    assert_eq!(got[2].id.as_deref(), Some(""));
    assert_eq!(got[2].retry, None);
}

#[test]
fn id_with_nul_is_ignored() {
    let got = events(whole(Mode::Standard, b"id:a\0b\ndata:x\n\n"));
    assert_eq!(got[0].id, None);
}

#[test]
fn data_line_is_event_mode_without_blank_lines() {
    // The legacy native framing: events run together (protocol notes §4.4).
    let stream = "id:1\nevent:result\n:HTTP_STATUS/200\ndata:{\"t\":\"我是\"}\nid:2\nevent:result\n:HTTP_STATUS/200\ndata:{\"t\":\"通义\"}\nid:3\nevent:error\n:HTTP_STATUS/400\ndata:{\"code\":\"InvalidParameter\"}";
    let got = events(whole(Mode::DataLineIsEvent, stream.as_bytes()));
    let brief: Vec<_> = got
        .iter()
        .map(|e| {
            (
                e.index,
                e.id.as_deref(),
                e.event.as_deref(),
                e.http_status,
                e.data.as_str(),
            )
        })
        .collect();
    assert_eq!(
        brief,
        [
            (0, Some("1"), Some("result"), Some(200), "{\"t\":\"我是\"}"),
            (1, Some("2"), Some("result"), Some(200), "{\"t\":\"通义\"}"),
            (
                2,
                Some("3"),
                Some("error"),
                Some(400),
                "{\"code\":\"InvalidParameter\"}"
            ),
        ]
    );
    // The same stream in standard mode is one event of three joined lines.
    let std_mode = events(whole(Mode::Standard, stream.as_bytes()));
    assert_eq!(std_mode.len(), 1);
    assert_eq!(std_mode[0].data.lines().count(), 3);
}

#[test]
fn data_line_is_event_mode_blank_line_resets() {
    let got = events(whole(
        Mode::DataLineIsEvent,
        b"id:1\nevent:x\n\ndata:a\n\n\ndata:b\ndata:c\n",
    ));
    assert_eq!(got, [ev(0, "a"), ev(1, "b"), ev(2, "c")]);
}

#[test]
fn finish_flushes_a_last_event_without_its_blank_line() {
    assert_eq!(
        events(whole(Mode::Standard, b"data:a\n\ndata:b\ndata:c\n")),
        [ev(0, "a"), ev(1, "b\nc")]
    );
    // Without even a line end.
    assert_eq!(events(whole(Mode::Standard, b"data:a")), [ev(0, "a")]);
    assert_eq!(
        events(whole(Mode::DataLineIsEvent, b"data:a")),
        [ev(0, "a")]
    );
    // A trailing CR is a line end, not data.
    assert_eq!(events(whole(Mode::Standard, b"data:a\r")), [ev(0, "a")]);
    // Without finish, the unterminated event is not handed out.
    let mut d = Decoder::new();
    d.feed(b"data:a\n");
    assert!(d.next_event().is_none());
    d.finish();
    assert_eq!(
        d.next_event().and_then(Result::ok).map(|e| e.data),
        Some("a")
    );
    assert!(d.next_event().is_none());
}

#[test]
fn finish_with_a_truncated_character_is_an_error() {
    let got = whole(
        Mode::Standard,
        "data:a\n\ndata:中".as_bytes().split_last().unwrap().1,
    );
    assert_eq!(got[0], Item::Ev(ev(0, "a")));
    assert_eq!(
        got[1],
        Item::Err(SseError {
            index: 1,
            kind: SseErrorKind::InvalidUtf8 {
                valid_up_to: 5,
                incomplete: true
            }
        })
    );
    assert_eq!(got.len(), 2);
}

#[test]
fn invalid_utf8_error_names_the_index_then_recovers() {
    let stream = b"data:ok\n\ndata:bad\xFF\xFEbytes\n\nid:7\ndata:one\ndata:two\xC3\ndata:three\n\n:\xFF\ndata:after\n\n";
    let got = whole(Mode::Standard, stream);
    assert_eq!(
        got,
        [
            Item::Ev(ev(0, "ok")),
            // The bad line was the event's only data line: nothing to dispatch.
            Item::Err(SseError {
                index: 1,
                kind: SseErrorKind::InvalidUtf8 {
                    valid_up_to: 8,
                    incomplete: false
                }
            }),
            // Only the bad line of a multi-line event is lost.
            Item::Err(SseError {
                index: 1,
                kind: SseErrorKind::InvalidUtf8 {
                    valid_up_to: 8,
                    incomplete: true
                }
            }),
            Item::Ev(Ev {
                id: Some("7".into()),
                ..ev(1, "one\nthree")
            }),
            // A bad comment is reported too, and skipped.
            Item::Err(SseError {
                index: 2,
                kind: SseErrorKind::InvalidUtf8 {
                    valid_up_to: 1,
                    incomplete: false
                }
            }),
            Item::Ev(ev(2, "after")),
        ]
    );
    assert_eq!(bytewise(Mode::Standard, stream), got);
    let first_err = got.iter().find_map(|i| match i {
        Item::Err(e) => Some(e.to_string()),
        Item::Ev(_) => None,
    });
    assert_eq!(
        first_err.as_deref(),
        Some("SSE event #1: a line is not valid UTF-8 (bad byte at offset 8)")
    );
}

#[test]
fn invalid_utf8_in_data_line_mode() {
    let got = whole(
        Mode::DataLineIsEvent,
        b"id:1\ndata:\xFF\nid:2\ndata:ok\nid\xFF:3\ndata:ok2\n",
    );
    let err = |valid_up_to| {
        Item::Err(SseError {
            index: 0,
            kind: SseErrorKind::InvalidUtf8 {
                valid_up_to,
                incomplete: false,
            },
        })
    };
    assert_eq!(got[0], err(5));
    assert_eq!(
        got[1],
        Item::Ev(Ev {
            id: Some("2".into()),
            ..ev(0, "ok")
        })
    );
    assert_eq!(
        got[2],
        Item::Err(SseError {
            index: 1,
            kind: SseErrorKind::InvalidUtf8 {
                valid_up_to: 2,
                incomplete: false
            }
        })
    );
    assert_eq!(got[3], Item::Ev(ev(1, "ok2")));
}

#[test]
fn line_too_long_error_names_the_index_then_recovers() {
    let limit = 16;
    let stream = b"data:short\n\ndata:0123456789abcdefXYZ\nid:after\ndata:fine\n\n";
    let want = vec![
        Item::Ev(ev(0, "short")),
        Item::Err(SseError {
            index: 1,
            kind: SseErrorKind::LineTooLong { limit },
        }),
        Item::Ev(Ev {
            id: Some("after".into()),
            ..ev(1, "fine")
        }),
    ];
    let d = || Decoder::new().with_max_line(limit);
    assert_eq!(decode_with(d(), &[stream]), want);
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(decode_with(d(), &bytes), want);
    assert_eq!(
        want[1].line(),
        "error: SSE event #1: a line is longer than 16 bytes"
    );
    // A line of exactly the limit is fine.
    assert_eq!(
        events(decode_with(d(), &[b"data:0123456789a\n\n"])),
        [ev(0, "0123456789a")]
    );
}

#[test]
fn over_long_line_is_never_buffered() {
    let mut d = Decoder::new().with_max_line(1024);
    d.feed(b"data:");
    let chunk = vec![b'x'; 4096];
    let mut errors = 0;
    for _ in 0..100 {
        d.feed(&chunk);
        while let Some(item) = d.next_event() {
            assert!(matches!(
                item,
                Err(SseError {
                    index: 0,
                    kind: SseErrorKind::LineTooLong { limit: 1024 }
                })
            ));
            errors += 1;
        }
        assert!(d.buffered() <= 4096 + 5, "buffered {}", d.buffered());
    }
    assert_eq!(errors, 1);
    d.feed(b"xx\r");
    d.feed(b"\ndata:next\n\n");
    let e = d.next_event().expect("an event").expect("valid");
    assert_eq!((e.index, e.data), (0, "next"));
    assert_eq!(d.buffered(), 0);
}

#[test]
fn event_too_long_drops_the_whole_event_then_recovers() {
    let limit = 10;
    let too_long = |index| {
        Item::Err(SseError {
            index,
            kind: SseErrorKind::EventTooLong { limit },
        })
    };
    // 6 + 1 + 4 bytes joined: over by one. The rest of the event ("more", its id, its status)
    // goes with it; the next event gets the index.
    let stream =
        b"data:ok\n\nid:1\n:HTTP_STATUS/500\ndata:123456\ndata:7890\ndata:more\n\ndata:next\n\n";
    let want = vec![Item::Ev(ev(0, "ok")), too_long(1), Item::Ev(ev(1, "next"))];
    let d = || Decoder::new().with_max_event(limit);
    assert_eq!(decode_with(d(), &[stream]), want);
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(decode_with(d(), &bytes), want);
    assert_eq!(
        want[1].line(),
        "error: SSE event #1: an event's data is longer than 10 bytes"
    );
    // Exactly the limit is fine, one line or several; one line over it is not.
    assert_eq!(
        events(decode_with(
            d(),
            &[b"data:12345\ndata:6789\n\ndata:0123456789\n\n"]
        )),
        [ev(0, "12345\n6789"), ev(1, "0123456789")]
    );
    assert_eq!(
        decode_with(d(), &[b"data:0123456789a\n\ndata:x"]),
        [too_long(0), Item::Ev(ev(0, "x"))]
    );
    // An event cut by the end of the stream is dropped the same way.
    assert_eq!(
        decode_with(d(), &[b"data:0123456789\ndata:x"]),
        [too_long(0)]
    );
}

#[test]
fn event_too_long_in_data_line_mode_drops_the_line_and_its_fields() {
    let got = decode_with(
        Decoder::with_mode(Mode::DataLineIsEvent).with_max_event(4),
        &[b"id:1\nevent:e\n:HTTP_STATUS/500\ndata:12345\ndata:1234\n"],
    );
    assert_eq!(
        got,
        [
            Item::Err(SseError {
                index: 0,
                kind: SseErrorKind::EventTooLong { limit: 4 }
            }),
            Item::Ev(ev(0, "1234")),
        ]
    );
}

/// A stream of data lines that never ends its event (the attack of issue #12): one error, and
/// the decoder keeps nothing of the event past the limit however long it runs.
#[test]
fn an_endless_event_is_refused_once() {
    for mode in [Mode::Standard, Mode::DataLineIsEvent] {
        let mut d = Decoder::with_mode(mode)
            .with_max_line(1024)
            .with_max_event(4096);
        d.feed(b"data:first\n\n");
        assert_eq!(d.next_event().map(|e| e.map(|e| e.index)), Some(Ok(0)));
        let line = [&b"data:"[..], &[b'x'; 1000], b"\n"].concat();
        let mut errors = 0;
        for _ in 0..10_000 {
            d.feed(&line);
            while let Some(item) = d.next_event() {
                match item {
                    Err(SseError {
                        index: 1,
                        kind: SseErrorKind::EventTooLong { limit: 4096 },
                    }) => errors += 1,
                    Ok(e) if mode == Mode::DataLineIsEvent => assert_eq!(e.data.len(), 1000),
                    other => panic!("{other:?}"),
                }
            }
            assert!(d.buffered() <= 1024 + line.len(), "{}", d.buffered());
        }
        match mode {
            Mode::Standard => assert_eq!(errors, 1),
            Mode::DataLineIsEvent => assert_eq!(errors, 0),
        }
    }
}

#[test]
fn default_limit_and_mode() {
    let d = Decoder::default();
    assert_eq!(d.max_line(), DEFAULT_MAX_LINE);
    assert_eq!(DEFAULT_MAX_LINE, 16 * 1024 * 1024);
    assert_eq!(d.max_event(), DEFAULT_MAX_EVENT);
    assert_eq!(DEFAULT_MAX_EVENT, 16 * 1024 * 1024);
    assert_eq!(d.mode(), Mode::Standard);
    assert_eq!(
        Decoder::with_mode(Mode::DataLineIsEvent).mode(),
        Mode::DataLineIsEvent
    );
}

#[test]
fn feed_after_finish_starts_a_new_stream() {
    let mut d = Decoder::new();
    let mut out = Vec::new();
    d.feed(b"\xEF\xBB\xBFdata:a\n\ndata:b");
    d.finish();
    drain(&mut d, &mut out, 10);
    d.feed(b"\xEF\xBB\xBFdata:c\n\n");
    drain(&mut d, &mut out, 10);
    assert_eq!(
        out,
        [
            Item::Ev(ev(0, "a")),
            Item::Ev(ev(1, "b")),
            Item::Ev(ev(0, "c"))
        ]
    );
}

#[test]
fn single_line_data_spans_a_feed_boundary_before_its_blank_line() {
    // The data line is complete in the first feed; the blank line comes later, after the
    // buffer has been compacted.
    let got = events(decode(
        Mode::Standard,
        &[b"id:9\ndata:kept", b" across\n", b": comment\n", b"\n"],
    ));
    assert_eq!(
        got,
        [Ev {
            id: Some("9".into()),
            ..ev(0, "kept across")
        }]
    );
    // And a bad single line that is spilled is still reported once, at dispatch.
    let got = decode(Mode::Standard, &[b"data:\xFF\n", b"\n", b"data:ok\n\n"]);
    assert_eq!(got.len(), 2);
    assert!(matches!(got[0], Item::Err(SseError { index: 0, .. })));
    assert_eq!(got[1], Item::Ev(ev(0, "ok")));
}

#[test]
fn error_display_names_the_event_index() {
    let e = SseError {
        index: 42,
        kind: SseErrorKind::InvalidUtf8 {
            valid_up_to: 3,
            incomplete: true,
        },
    };
    assert_eq!(
        e.to_string(),
        "SSE event #42: a line ends inside a UTF-8 character (truncated at offset 3)"
    );
}

#[test]
fn decoded_events_snapshot() {
    let stream = "\u{FEFF}: keepalive\r\nid:1\r\nevent:result\r\n:HTTP_STATUS/200\r\ndata:{\"t\":\"你好\"}\r\n\r\nid:2\nevent:result\n:HTTP_STATUS/200\ndata:{\"t\":\"🎉\"}\nid:3\revent:error\rstatus: 400\rretry:3000\rdata:first\rdata: second\r\r";
    let render = |mode| {
        whole(mode, stream.as_bytes())
            .iter()
            .map(|i| i.line() + "\n")
            .collect::<String>()
    };
    insta::assert_snapshot!("decoded_standard", render(Mode::Standard));
    insta::assert_snapshot!("decoded_data_line_is_event", render(Mode::DataLineIsEvent));
}

// ---------------------------------------------------------------------------------------------
// Encoder
// ---------------------------------------------------------------------------------------------

/// Renders encoded bytes one line per line, escaped, so that CR and LF are visible.
fn show(bytes: &[u8]) -> String {
    let text = std::str::from_utf8(bytes).expect("the encoder writes UTF-8");
    text.split_inclusive('\n')
        .map(|l| format!("{l:?}\n"))
        .collect()
}

fn compat_stream(enc: Encoder) -> Vec<u8> {
    let mut out = Vec::new();
    enc.data(
        &mut out,
        r#"{"choices":[{"delta":{"content":"你好"},"index":0}],"object":"chat.completion.chunk"}"#,
    );
    enc.data(&mut out, r#"{"choices":[],"usage":{"total_tokens":3}}"#);
    enc.done(&mut out);
    out
}

fn native_stream(enc: Encoder) -> Vec<u8> {
    let mut out = Vec::new();
    enc.native_event(
        &mut out,
        1,
        "result",
        200,
        r#"{"output":{"text":"我是"},"request_id":"r"}"#,
    );
    enc.native_event(
        &mut out,
        2,
        "result",
        200,
        r#"{"output":{"text":"通义"},"request_id":"r"}"#,
    );
    enc.native_event(
        &mut out,
        3,
        "error",
        400,
        r#"{"code":"InvalidParameter","message":"m","request_id":"r"}"#,
    );
    out
}

fn responses_stream(enc: Encoder) -> Vec<u8> {
    let mut out = Vec::new();
    enc.native_event(
        &mut out,
        1,
        "response.created",
        200,
        r#"{"type":"response.created","sequence_number":0}"#,
    );
    enc.native_event(
        &mut out,
        2,
        "response.output_text.delta",
        200,
        r#"{"type":"response.output_text.delta","delta":"Hi","sequence_number":1}"#,
    );
    enc.native_event(
        &mut out,
        3,
        "response.completed",
        200,
        r#"{"type":"response.completed","sequence_number":2}"#,
    );
    out
}

#[test]
fn encoder_exact_framings() {
    let mut out = Vec::new();
    Encoder::compat().data(&mut out, "{}");
    Encoder::compat().done(&mut out);
    assert_eq!(out, b"data: {}\n\ndata: [DONE]\n\n");

    let mut out = bytes::BytesMut::new();
    Encoder::native().native_event(&mut out, 12, "result", 200, "{}");
    assert_eq!(
        &out[..],
        b"id:12\nevent:result\n:HTTP_STATUS/200\ndata:{}\n\n"
    );

    let mut out = Vec::new();
    Encoder::native()
        .blank_line(false)
        .native_event(&mut out, 1, "result", 200, "{}");
    Encoder::native()
        .blank_line(false)
        .native_event(&mut out, 2, "result", 200, "{}");
    assert_eq!(
        out,
        b"id:1\nevent:result\n:HTTP_STATUS/200\ndata:{}\nid:2\nevent:result\n:HTTP_STATUS/200\ndata:{}\n"
    );

    let mut out = Vec::new();
    Encoder::responses()
        .crlf(true)
        .native_event(&mut out, 1, "response.created", 200, "{}");
    assert_eq!(
        out,
        b"id:1\r\nevent:response.created\r\n:HTTP_STATUS/200\r\ndata:{}\r\n\r\n"
    );

    let mut out = Vec::new();
    Encoder::compat().comment(&mut out, "keep\nalive");
    Encoder::compat().data(&mut out, "a\nb\r\nc");
    assert_eq!(out, b":keep alive\ndata: a\ndata: b\ndata: c\n\n");
}

#[test]
fn encoder_snapshots() {
    insta::assert_snapshot!("compat", show(&compat_stream(Encoder::compat())));
    insta::assert_snapshot!("native", show(&native_stream(Encoder::native())));
    insta::assert_snapshot!(
        "native_legacy_no_blank_line",
        show(&native_stream(Encoder::native().blank_line(false)))
    );
    insta::assert_snapshot!("responses", show(&responses_stream(Encoder::responses())));
    insta::assert_snapshot!(
        "native_crlf",
        show(&native_stream(Encoder::native().crlf(true)))
    );
}

#[test]
fn encoder_round_trip_each_framing() {
    let cases: [(&str, Vec<u8>, Mode); 7] = [
        ("compat", compat_stream(Encoder::compat()), Mode::Standard),
        (
            "compat crlf",
            compat_stream(Encoder::compat().crlf(true)),
            Mode::Standard,
        ),
        ("native", native_stream(Encoder::native()), Mode::Standard),
        (
            "native",
            native_stream(Encoder::native()),
            Mode::DataLineIsEvent,
        ),
        (
            "native legacy",
            native_stream(Encoder::native().blank_line(false)),
            Mode::DataLineIsEvent,
        ),
        (
            "native crlf",
            native_stream(Encoder::native().crlf(true)),
            Mode::DataLineIsEvent,
        ),
        (
            "responses",
            responses_stream(Encoder::responses()),
            Mode::Standard,
        ),
    ];
    for (name, bytes, mode) in cases {
        let got = events(whole(mode, &bytes));
        let want: Vec<String> = match name {
            n if n.starts_with("compat") => compat_stream(Encoder::compat())
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| String::from_utf8(l[6..].to_vec()).unwrap())
                .collect(),
            n if n.starts_with("native") => vec![
                r#"{"output":{"text":"我是"},"request_id":"r"}"#.into(),
                r#"{"output":{"text":"通义"},"request_id":"r"}"#.into(),
                r#"{"code":"InvalidParameter","message":"m","request_id":"r"}"#.into(),
            ],
            _ => vec![
                r#"{"type":"response.created","sequence_number":0}"#.into(),
                r#"{"type":"response.output_text.delta","delta":"Hi","sequence_number":1}"#.into(),
                r#"{"type":"response.completed","sequence_number":2}"#.into(),
            ],
        };
        let data: Vec<&str> = got.iter().map(|e| e.data.as_str()).collect();
        assert_eq!(data, want, "{name} in {mode:?}");
        for (i, e) in got.iter().enumerate() {
            assert_eq!(e.index, i);
            if name.starts_with("compat") {
                assert_eq!(
                    (e.id.as_deref(), e.event.as_deref(), e.http_status),
                    (None, None, None)
                );
            } else {
                assert_eq!(e.id, Some((i + 1).to_string()), "{name}");
                assert!(e.event.is_some());
                assert_eq!(
                    e.http_status,
                    Some(if name.starts_with("native") && i == 2 {
                        400
                    } else {
                        200
                    })
                );
            }
        }
        assert_eq!(
            bytewise(mode, &bytes),
            whole(mode, &bytes),
            "{name} bytewise"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

/// Text for values: ASCII, colons, spaces, Chinese, emoji; never a line break.
fn text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("a"),
            Just(" "),
            Just(":"),
            Just("{\"k\":1}"),
            Just("你好"),
            Just("世界"),
            Just("🎉"),
            Just("é"),
            Just("\u{FEFF}"),
            Just("data"),
        ],
        0..6,
    )
    .prop_map(|parts| parts.concat())
}

/// One generated line (without its line end).
#[derive(Clone, Debug)]
enum Line {
    Blank,
    Comment(String),
    HttpStatus(u16),
    Status(u16),
    Id(String),
    Event(String),
    Retry(u64),
    Data { space: bool, text: String },
    NoColon(&'static str),
    Unknown(String),
}

impl Line {
    fn render(&self) -> String {
        match self {
            Line::Blank => String::new(),
            Line::Comment(t) => format!(":{t}"),
            Line::HttpStatus(c) => format!(":HTTP_STATUS/{c}"),
            Line::Status(c) => format!("status:{c}"),
            Line::Id(t) => format!("id:{t}"),
            Line::Event(t) => format!("event: {t}"),
            Line::Retry(r) => format!("retry:{r}"),
            Line::Data { space, text } => {
                format!("data:{}{text}", if *space { " " } else { "" })
            }
            Line::NoColon(n) => (*n).to_owned(),
            Line::Unknown(t) => format!("x-{t}:{t}"),
        }
    }
}

fn line() -> impl Strategy<Value = Line> {
    prop_oneof![
        3 => Just(Line::Blank),
        1 => text().prop_map(Line::Comment),
        1 => (100u16..600).prop_map(Line::HttpStatus),
        1 => (100u16..600).prop_map(Line::Status),
        1 => text().prop_map(Line::Id),
        1 => text().prop_map(Line::Event),
        1 => (0u64..100_000).prop_map(Line::Retry),
        4 => (any::<bool>(), text()).prop_map(|(space, text)| Line::Data { space, text }),
        1 => prop_oneof![Just("data"), Just("id"), Just("event"), Just("foo")].prop_map(Line::NoColon),
        1 => text().prop_map(Line::Unknown),
    ]
}

fn line_end() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("\n"), Just("\r\n"), Just("\r")]
}

/// A whole stream: an optional BOM, lines with mixed line ends, maybe no final line end.
fn stream() -> impl Strategy<Value = (Vec<Line>, Vec<u8>)> {
    (
        any::<bool>(),
        proptest::collection::vec((line(), line_end()), 0..24),
        any::<bool>(),
    )
        .prop_map(|(bom, lines, cut_last_end)| {
            let mut bytes = Vec::new();
            if bom {
                bytes.extend_from_slice(b"\xEF\xBB\xBF");
            }
            let n = lines.len();
            for (i, (l, end)) in lines.iter().enumerate() {
                bytes.extend_from_slice(l.render().as_bytes());
                if !(cut_last_end && i + 1 == n) {
                    bytes.extend_from_slice(end.as_bytes());
                }
            }
            (lines.into_iter().map(|(l, _)| l).collect(), bytes)
        })
}

fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![Just(Mode::Standard), Just(Mode::DataLineIsEvent)]
}

/// A plain model of the decoder for valid UTF-8 input: whole text, split into lines, the spec
/// applied literally. Our decoder must agree with it.
fn model(mode: Mode, bytes: &[u8]) -> Vec<Ev> {
    let text = std::str::from_utf8(bytes).expect("generated streams are UTF-8");
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let mut lines = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(['\r', '\n']) {
        lines.push(&rest[..i]);
        rest = if rest[i..].starts_with("\r\n") {
            &rest[i + 2..]
        } else {
            &rest[i + 1..]
        };
    }
    if !rest.is_empty() {
        lines.push(rest);
    }
    let mut out = Vec::new();
    let mut cur = Ev::default();
    let mut data: Option<String> = None;
    let mut index = 0;
    let dispatch = |cur: &mut Ev, data: String, index: &mut usize, out: &mut Vec<Ev>| {
        let mut e = std::mem::take(cur);
        e.data = data;
        e.index = *index;
        *index += 1;
        out.push(e);
    };
    for line in lines {
        if line.is_empty() {
            match data.take() {
                Some(d) => dispatch(&mut cur, d, &mut index, &mut out),
                None => {
                    let status = cur.http_status;
                    cur = Ev {
                        http_status: status,
                        ..Ev::default()
                    };
                }
            }
            continue;
        }
        if let Some(comment) = line.strip_prefix(':') {
            if let Some(code) = comment.strip_prefix("HTTP_STATUS/") {
                if let Ok(c) = code.parse::<u16>() {
                    if code.len() <= 3 && code.bytes().all(|b| b.is_ascii_digit()) {
                        cur.http_status = Some(c);
                    }
                }
            }
            continue;
        }
        let (name, value) = match line.split_once(':') {
            Some((n, v)) => (n, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match name {
            "data" => {
                if mode == Mode::DataLineIsEvent {
                    dispatch(&mut cur, value.to_owned(), &mut index, &mut out);
                } else {
                    data = Some(match data.take() {
                        Some(d) => d + "\n" + value,
                        None => value.to_owned(),
                    });
                }
            }
            "id" if !value.contains('\0') => cur.id = Some(value.to_owned()),
            "event" => cur.event = Some(value.to_owned()),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                cur.retry = value.parse().ok().or(cur.retry);
            }
            "status" => {
                if let Ok(c) = value.trim().parse::<u16>() {
                    if value.trim().bytes().all(|b| b.is_ascii_digit()) && value.trim().len() <= 3 {
                        cur.http_status = Some(c);
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(d) = data {
        dispatch(&mut cur, d, &mut index, &mut out);
    }
    out
}

/// The model with an event limit: an event whose data is longer than `limit` becomes one
/// `EventTooLong` error, and the events after it take its index.
fn model_bounded(mode: Mode, bytes: &[u8], limit: usize) -> Vec<Item> {
    let mut index = 0;
    model(mode, bytes)
        .into_iter()
        .map(|e| {
            if e.data.len() > limit {
                Item::Err(SseError {
                    index,
                    kind: SseErrorKind::EventTooLong { limit },
                })
            } else {
                index += 1;
                Item::Ev(Ev {
                    index: index - 1,
                    ..e
                })
            }
        })
        .collect()
}

/// Bytes biased towards what matters to the decoder, with any byte possible.
fn nasty_bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![
            3 => prop_oneof![
                Just(b'\r'), Just(b'\n'), Just(b':'), Just(b' '), Just(b'd'), Just(b'a'),
                Just(b't'), Just(b'i'), Just(0xEF), Just(0xBB), Just(0xBF), Just(0xE4),
                Just(0xB8), Just(0xFF), Just(0x80), Just(0),
            ],
            1 => any::<u8>(),
        ],
        0..200,
    )
    .prop_map(|mut v| {
        // Sprinkle in whole field names so lines often mean something.
        if v.len() > 10 {
            v.splice(3..3, b"data:".iter().copied());
            let mid = v.len() / 2;
            v.splice(mid..mid, b"\nid:".iter().copied());
        }
        v
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// However the bytes are split, the events are those of feeding the stream whole, and they
    /// agree with a plain model of the rules.
    #[test]
    fn split_invariance(
        (_lines, bytes) in stream(),
        mode in mode(),
        points in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let reference = whole(mode, &bytes);
        prop_assert_eq!(events(reference.clone()), model(mode, &bytes));
        let chunks = split_at_points(&bytes, &points);
        prop_assert_eq!(&decode(mode, &chunks), &reference);
        prop_assert_eq!(&bytewise(mode, &bytes), &reference);
    }

    /// With an event limit, every event longer than the limit is one error and the others are
    /// those of the plain model, however the bytes are split; no event exceeds the limit.
    #[test]
    fn event_limit_matches_the_model(
        (_lines, bytes) in stream(),
        mode in mode(),
        limit in 0usize..40,
        points in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let dec = || Decoder::with_mode(mode).with_max_event(limit);
        let want = model_bounded(mode, &bytes, limit);
        prop_assert_eq!(&decode_with(dec(), &[&bytes]), &want);
        let chunks = split_at_points(&bytes, &points);
        prop_assert_eq!(&decode_with(dec(), &chunks), &want);
        let single: Vec<&[u8]> = bytes.chunks(1).collect();
        prop_assert_eq!(&decode_with(dec(), &single), &want);
    }

    /// Arbitrary bytes with arbitrary splits never panic, always terminate (the helpers bound
    /// the number of items), and still give the same items however they are split, errors
    /// included.
    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in nasty_bytes(),
        mode in mode(),
        max_line in prop_oneof![Just(4usize), Just(16), Just(DEFAULT_MAX_LINE)],
        max_event in prop_oneof![Just(0usize), Just(8), Just(24), Just(DEFAULT_MAX_EVENT)],
        points in proptest::collection::vec(any::<usize>(), 0..16),
    ) {
        let dec = || Decoder::with_mode(mode).with_max_line(max_line).with_max_event(max_event);
        let reference = decode_with(dec(), &[&bytes]);
        for item in &reference {
            if let Item::Ev(e) = item {
                prop_assert!(e.data.len() <= max_event, "{} > {max_event}", e.data.len());
            }
        }
        let chunks = split_at_points(&bytes, &points);
        prop_assert_eq!(&decode_with(dec(), &chunks), &reference);
        let single: Vec<&[u8]> = bytes.chunks(1).collect();
        prop_assert_eq!(&decode_with(dec(), &single), &reference);
    }

    /// Whatever events are encoded, in any framing, decoding gives them back.
    #[test]
    fn encoder_round_trip(
        evs in proptest::collection::vec(
            (
                proptest::option::of(text()),
                proptest::option::of(text()),
                proptest::option::of(100u16..600),
                proptest::option::of(0u64..10_000),
                proptest::collection::vec(text(), 1..4),
            ),
            0..8,
        ),
        space in any::<bool>(),
        crlf in any::<bool>(),
        blank_line in any::<bool>(),
        points in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let enc = if space { Encoder::compat() } else { Encoder::native() }
            .crlf(crlf)
            .blank_line(blank_line);
        // Without blank lines, only the data-line mode splits events, and only one-line data
        // survives.
        let mode = if blank_line { Mode::Standard } else { Mode::DataLineIsEvent };
        let want: Vec<Ev> = evs
            .iter()
            .enumerate()
            .map(|(index, (id, event, http_status, retry, data))| Ev {
                index,
                id: id.clone(),
                event: event.clone(),
                http_status: *http_status,
                retry: *retry,
                data: if blank_line { data.join("\n") } else { data.concat() },
            })
            .collect();
        let mut out = Vec::new();
        for e in &want {
            enc.event(&mut out, &Event {
                index: e.index,
                id: e.id.as_deref(),
                event: e.event.as_deref(),
                data: &e.data,
                http_status: e.http_status,
                retry: e.retry,
            });
        }
        let chunks = split_at_points(&out, &points);
        prop_assert_eq!(events(decode(mode, &chunks)), want);
    }
}
