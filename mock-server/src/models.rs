//! Which model names the synthetic responder accepts.
//!
//! An unknown model gets 400 `InvalidParameter` "Model not exist." (native) or 400
//! `invalid_parameter_error` "model `x` is not supported." (compat), as the service answers on
//! its shared hosts (PROTOCOL.md §2.5, §4.5).
//!
//! Patterns are matched case-insensitively; `*` stands for any run of characters. The default
//! list, [`DEFAULT_MODEL_PATTERNS`], accepts the model families Model Studio serves for text
//! generation: `qwen*`, `qwq*`, `qvq*`, `deepseek*`, `kimi*`, `moonshot*`, `glm*`, `chatglm*`,
//! `minimax*`, `abab*`, `llama*`, `baichuan*`, `yi-*`, `farui*`, `tongyi*`, `gui-*`. The CLI's
//! `--model PATTERN` (repeatable) replaces the list; `--model '*'` accepts any name.

/// The patterns accepted by default.
pub const DEFAULT_MODEL_PATTERNS: [&str; 16] = [
    "qwen*",
    "qwq*",
    "qvq*",
    "deepseek*",
    "kimi*",
    "moonshot*",
    "glm*",
    "chatglm*",
    "minimax*",
    "abab*",
    "llama*",
    "baichuan*",
    "yi-*",
    "farui*",
    "tongyi*",
    "gui-*",
];

/// A list of accepted model-name patterns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelPolicy {
    patterns: Vec<String>,
}

impl Default for ModelPolicy {
    /// [`DEFAULT_MODEL_PATTERNS`].
    fn default() -> Self {
        ModelPolicy::new(DEFAULT_MODEL_PATTERNS)
    }
}

impl ModelPolicy {
    /// Accepts the names matching any of `patterns` (an empty list accepts nothing).
    pub fn new<I, S>(patterns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ModelPolicy {
            patterns: patterns.into_iter().map(Into::into).collect(),
        }
    }

    /// Accepts any model name.
    pub fn any() -> Self {
        ModelPolicy::new(["*"])
    }

    /// The patterns.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// Whether `model` is accepted.
    pub fn allows(&self, model: &str) -> bool {
        let model = model.to_ascii_lowercase();
        self.patterns
            .iter()
            .any(|p| glob(&p.to_ascii_lowercase(), &model))
    }
}

/// `*`-only glob matching.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(at) => rest = &rest[at + mid.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        let p = ModelPolicy::default();
        for ok in [
            "qwen-plus",
            "Qwen3-Max",
            "qwq-32b",
            "deepseek-v4-pro",
            "kimi-k2",
            "glm-4.5",
            "yi-large",
        ] {
            assert!(p.allows(ok), "{ok}");
        }
        for bad in ["gpt-4o", "m", "", "claude-3", "qwe"] {
            assert!(!p.allows(bad), "{bad}");
        }
        assert!(ModelPolicy::any().allows("anything"));
        assert!(!ModelPolicy::new(Vec::<String>::new()).allows("qwen-plus"));
        let p = ModelPolicy::new(["a*b*c", "exact"]);
        assert!(p.allows("abc") && p.allows("a-b-c") && p.allows("exact"));
        assert!(!p.allows("ab") && !p.allows("acb") && !p.allows("exactly"));
    }
}
