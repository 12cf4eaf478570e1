//! Deterministic text: a seeded generator and a corpus of token-sized pieces.

/// A small seeded pseudo-random generator (SplitMix64): the same seed gives the same sequence on
/// every machine, so every workload is byte-for-byte reproducible.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        // The modulo bias is irrelevant for workload shaping; the cast keeps the low bits.
        (self.next_u64() % n as u64) as usize
    }

    /// A number in `lo..=hi`.
    pub fn between(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// `n` lower-case hex digits.
    pub fn hex(&mut self, n: usize) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        (0..n).map(|_| char::from(DIGITS[self.below(16)])).collect()
    }

    /// A UUID-shaped string (`8-4-4-4-12` hex digits).
    pub fn uuid(&mut self) -> String {
        format!(
            "{}-{}-{}-{}-{}",
            self.hex(8),
            self.hex(4),
            self.hex(4),
            self.hex(4),
            self.hex(12)
        )
    }
}

/// Chinese answer pieces, roughly one model token each.
const ZH: &[&str] = &[
    "人工智能",
    "是指",
    "由计算机系统",
    "模拟",
    "人类",
    "智能",
    "行为的",
    "技术和科学",
    "。",
    "，",
    "它",
    "包括",
    "机器学习",
    "、",
    "自然语言处理",
    "和",
    "计算机视觉",
    "等",
    "领域",
    "杭州市",
    "今天",
    "天气",
    "晴朗",
    "气温",
    "在",
    "二十度",
    "左右",
    "！",
    "😊",
    "我们",
    "需要",
    "考虑",
    "用户的",
    "问题",
];

/// English answer pieces (with their leading spaces, as tokenizers emit them).
const EN: &[&str] = &[
    " The",
    " model",
    " streams",
    " tokens",
    " as",
    " they",
    " are",
    " generated",
    ",",
    " and",
    " the",
    " client",
    " parses",
    " each",
    " chunk",
    ".",
    " Qwen",
    " supports",
    " tool",
    " calls",
    " with",
    " JSON",
    " arguments",
    " such",
    " as",
    " `{\"city\": \"Paris\"}`",
    "\n",
    "\n\n",
    "**",
    "Note",
    ":",
    " latency",
    " matters",
    " \"quoted\"",
    "\t",
];

/// Reasoning pieces: a mix of both languages, as Qwen's thinking is.
const THINK: &[&str] = &[
    "用户",
    "问",
    "的是",
    "天气",
    "，",
    "我需要",
    "调用",
    " get_current_weather",
    " 工具",
    "。",
    "参数",
    " location",
    " 为",
    "杭州",
    "Let",
    " me",
    " think",
    " about",
    " this",
    " step",
    " by",
    " step",
    ".",
    "\n",
    "首先",
    "，",
    "然后",
    "最后",
];

/// Which kind of text a piece is drawn for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// Answer text, Chinese and English mixed.
    Answer,
    /// Thinking text.
    Reasoning,
}

/// One delta's text: one to three pieces; answers switch between Chinese and English runs.
pub fn delta(rng: &mut Rng, flavor: Flavor) -> String {
    let pieces = rng.between(1, 3);
    let mut out = String::new();
    for _ in 0..pieces {
        let corpus = match flavor {
            Flavor::Reasoning => THINK,
            Flavor::Answer if rng.below(3) == 0 => EN,
            Flavor::Answer => ZH,
        };
        out.push_str(corpus[rng.below(corpus.len())]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_text_other_seed_other_text() {
        let a: Vec<String> = {
            let mut r = Rng::new(7);
            (0..50).map(|_| delta(&mut r, Flavor::Answer)).collect()
        };
        let b: Vec<String> = {
            let mut r = Rng::new(7);
            (0..50).map(|_| delta(&mut r, Flavor::Answer)).collect()
        };
        let c: Vec<String> = {
            let mut r = Rng::new(8);
            (0..50).map(|_| delta(&mut r, Flavor::Answer)).collect()
        };
        assert_eq!(a, b);
        assert_ne!(a, c);
        let all = a.concat();
        assert!(
            all.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
            "{all}"
        );
        assert!(all.chars().any(|c| c.is_ascii_alphabetic()), "{all}");
    }

    #[test]
    fn uuid_shape() {
        let u = Rng::new(1).uuid();
        let parts: Vec<usize> = u.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12]);
    }
}
