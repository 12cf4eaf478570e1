//! The wire building blocks (`wire_struct!`, `tagged_enum!`): unknown members and explicit
//! `null`s kept, duplicates, escaped keys, a tag anywhere in the object, wrong types as errors.

use serde_json::json;

dashscope_protocol::wire_struct! {
    /// Inner.
    pub struct Inner {
        /// A number.
        pub n: Option<u32>,
    }
}

dashscope_protocol::wire_struct! {
    /// Outer.
    pub struct Outer {
        /// Name.
        pub name: Option<String>,
        /// Nested, may be null.
        pub inner: Option<Inner>,
        /// Always written.
        pub list: Vec<Inner>,
        /// Renamed.
        pub kind: Option<String> => "type",
        /// Nullable option of option.
        pub maybe: Option<Option<String>>,
    }
}

#[test]
fn keeps_unknown_members_and_nulls() {
    let src =
        json!({"name":"a","inner":null,"list":[{"n":1,"z":[1,2]}],"type":"t","new":{"deep":true}});
    let v: Outer = serde_json::from_value(src.clone()).unwrap();
    assert_eq!(v.name.as_deref(), Some("a"));
    assert_eq!(v.inner, None);
    assert_eq!(v.list[0].n, Some(1));
    assert_eq!(v.kind.as_deref(), Some("t"));
    assert_eq!(serde_json::to_value(&v).unwrap(), src);
    // And from a string (borrowed keys path).
    let v2: Outer = serde_json::from_str(&src.to_string()).unwrap();
    assert_eq!(v, v2);
}

#[test]
fn absent_stays_absent_and_required_is_written() {
    let v: Outer = serde_json::from_str("{}").unwrap();
    assert_eq!(serde_json::to_value(&v).unwrap(), json!({"list":[]}));
}

#[test]
fn value_set_after_null_shadows_the_null() {
    let mut v: Outer = serde_json::from_str(r#"{"name":null}"#).unwrap();
    v.name = Some("x".into());
    assert_eq!(
        serde_json::to_string(&v).unwrap(),
        r#"{"name":"x","list":[]}"#
    );
}

#[test]
fn escaped_keys_match() {
    let v: Outer = serde_json::from_str(r#"{"n\u0061me":"q"}"#).unwrap();
    assert_eq!(v.name.as_deref(), Some("q"));
}

#[test]
fn option_of_option_distinguishes_null() {
    let v: Outer = serde_json::from_str(r#"{"maybe":"s"}"#).unwrap();
    assert_eq!(v.maybe, Some(Some("s".into())));
    let v: Outer = serde_json::from_str(r#"{"maybe":null}"#).unwrap();
    assert_eq!(
        serde_json::to_string(&v).unwrap(),
        r#"{"list":[],"maybe":null}"#
    );
}

dashscope_protocol::wire_struct! {
    /// Plain members.
    pub struct Plain {
        /// A number.
        pub index: u32,
        /// A string.
        pub text: String,
        /// A list.
        pub list: Vec<u32>,
    }
}

dashscope_protocol::wire_struct! {
    /// A variant.
    pub struct Said {
        /// The text.
        pub text: Option<String>,
    }
}

dashscope_protocol::tagged_enum! {
    /// A union.
    pub enum Speech {
        /// Said.
        Said(Said) = "said",
    }
}

#[test]
fn null_for_a_plain_member_comes_back_as_null() {
    let src = r#"{"index":null,"text":null,"list":null}"#;
    let mut v: Plain = serde_json::from_str(src).unwrap();
    assert_eq!((v.index, v.text.as_str()), (0, ""));
    assert!(v.extra.is_empty());
    assert_eq!(
        v.explicit_nulls().collect::<Vec<_>>(),
        ["index", "text", "list"]
    );
    assert_eq!(serde_json::to_string(&v).unwrap(), src);
    assert_eq!(
        format!("{v:?}"),
        r#"Plain { index: 0, text: "", list: [], extra: {}, nulls: {"index", "text", "list"} }"#
    );
    // A value set since wins; setting the default again brings the null back.
    v.index = 2;
    v.list.push(1);
    assert_eq!(
        serde_json::to_string(&v).unwrap(),
        r#"{"index":2,"text":null,"list":[1]}"#
    );
    assert!(!v.is_explicit_null("index"));
    assert!(v.set_explicit_null("text", false));
    assert!(!v.set_explicit_null("nope", true));
    assert_eq!(
        serde_json::to_string(&v).unwrap(),
        r#"{"index":2,"text":"","list":[1]}"#
    );
    // Duplicates: the last occurrence wins, null or not.
    let v: Plain = serde_json::from_str(r#"{"index":null,"index":4}"#).unwrap();
    assert_eq!(
        serde_json::to_string(&v).unwrap(),
        r#"{"index":4,"text":"","list":[]}"#
    );
    let v: Plain = serde_json::from_str(r#"{"index":4,"index":null}"#).unwrap();
    assert_eq!(
        serde_json::to_string(&v).unwrap(),
        r#"{"index":null,"text":"","list":[]}"#
    );
}

#[test]
fn a_known_member_put_in_extra_by_hand_is_written_once() {
    let mut v = Outer::default();
    v.extra.insert("name".into(), json!(null));
    assert_eq!(
        serde_json::to_string(&v).unwrap(),
        r#"{"list":[],"name":null}"#
    );
    v.name = Some("n".into());
    assert_eq!(
        serde_json::to_string(&v).unwrap(),
        r#"{"name":"n","list":[]}"#
    );
}

#[test]
fn tagged_union_decodes_with_the_tag_anywhere() {
    for src in [
        r#"{"type":"said","text":"hi","z":1}"#,
        r#"{"text":"hi","type":"said","z":1}"#,
        r#"{"text":"hi","z":1,"type":"said"}"#,
        r#"{"type":"other","text":"hi","z":1,"type":"said"}"#,
        r#"{"type":"said","text":"hi","z":1,"type":"said"}"#,
        r#"{"text":"no","type":"said","text":"hi","z":1}"#,
    ] {
        let e: Speech = serde_json::from_str(src).unwrap();
        match &e {
            Speech::Said(s) => {
                assert_eq!(s.text.as_deref(), Some("hi"), "{src}");
                assert_eq!(s.extra["z"], json!(1), "{src}");
            }
            other => panic!("{src} gave {other:?}"),
        }
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            json!({"type":"said","text":"hi","z":1})
        );
    }
    // An unknown tag, a repeated tag whose last value is unknown, no tag, a non-string tag.
    for (src, tag) in [
        (r#"{"type":"new","text":"hi"}"#, Some("new")),
        (r#"{"text":"hi"}"#, None),
        (r#"{"type":5,"text":"hi"}"#, None),
    ] {
        let e: Speech = serde_json::from_str(src).unwrap();
        assert!(matches!(e, Speech::Unknown(_)), "{src} gave {e:?}");
        assert_eq!(e.type_name(), tag, "{src}");
        let mut want: serde_json::Value = serde_json::from_str(src).unwrap();
        if tag == Some("new") {
            want["type"] = json!("new");
        }
        assert_eq!(serde_json::to_value(&e).unwrap(), want, "{src}");
    }
    // A known tag followed by a different one is ambiguous: an error, not a guess.
    let e =
        serde_json::from_str::<Speech>(r#"{"type":"said","text":"hi","type":"new"}"#).unwrap_err();
    assert!(e.to_string().contains("given twice"), "{e}");
    // A member of the wrong type is an error whatever the order.
    assert!(serde_json::from_str::<Speech>(r#"{"text":5,"type":"said"}"#).is_err());
    assert!(serde_json::from_str::<Speech>(r#"{"type":"said","text":5}"#).is_err());
    assert!(serde_json::from_str::<Speech>("[1]").is_err());
}

#[test]
fn wrong_type_is_an_error_not_a_panic() {
    let e = serde_json::from_str::<Outer>(r#"{"name":5}"#).unwrap_err();
    assert!(e.to_string().contains("invalid type"), "{e}");
    let e = serde_json::from_str::<Outer>(r#"[1]"#).unwrap_err();
    assert!(e.to_string().contains("Outer"), "{e}");
}
