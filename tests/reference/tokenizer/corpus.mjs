// The strings the tokenizer tests compare against Hugging Face's Rust tokenizer.
// Deterministic: no randomness, so regenerating gives the same vectors.

const base = [
  // English
  "Hello, world!", "Hello world", " Hello world", "  leading spaces", "trailing spaces   ",
  "The quick brown fox jumps over the lazy dog.", "I'm sure they'll say it's fine, isn't it? We've done what we'd do.",
  "DON'T SHOUT, YOU'RE LOUD", "e-mail: someone@example.com, https://example.org/path?q=1&x=y#frag",
  "Mr. O'Neil's dog—a 'good boy'—ran… fast!", "\"quoted\" 'single' `tick` (paren) [bracket] {brace} <angle>",
  "snake_case camelCase PascalCase kebab-case SCREAMING_CASE", "a", "", " ", "\n", "\t", "\r\n",
  // Chinese / Japanese / Korean
  "你好，世界！", "深度求索是一家人工智能公司。", "我爱北京天安门，天安门上太阳升。", "中文English混合mixed文本123个",
  "今日はいい天気ですね。", "カタカナとひらがなと漢字", "東京タワーへ行きましょう！", "ｶﾀｶﾅ 半角",
  "안녕하세요, 세계!", "한국어 문장을 토큰화합니다.", "〇一二三四五六七八九十", "龘靐齉爩 鱻 𪚥",
  // Arabic, Hebrew, Devanagari, Thai, Cyrillic, Greek
  "مرحبا بالعالم", "السَّلَامُ عَلَيْكُمْ", "שלום עולם", "नमस्ते दुनिया", "हिन्दी में लिखा गया वाक्य।",
  "สวัสดีครับ ภาษาไทย", "Привет, мир! Ёжик в тумане.", "Γειά σου Κόσμε· ΑΒΓΔ αβγδ",
  // numbers
  "1234567", "3.14159", "1,000,000.00", "-42", "+7 (495) 123-45-67", "2024-01-31T12:34:56Z", "0x1F600 0b1010 1e-9",
  "١٢٣٤٥٦٧ (Arabic-Indic)", "१२३४५ (Devanagari digits)", "①②③ ⅠⅡⅢ ½ ¾ ²³", "12345678901234567890",
  // code
  "def f(x):\n    return x * 2\n", "int main() {\n\tprintf(\"%d\\n\", 42);\n\treturn 0;\n}\n",
  "if (a && b || !c) { x += 1; } else { y -= 2; }", "for i in range(10):\r\n    print(i)\r\n",
  "    indented\n        more\n            most\n", "\t\t\ttabs\t\tand\tspaces  mixed \t \n",
  "const re = /[a-z]+\\d*/gi; // comment", "<div class=\"x\">&amp; &lt;tag&gt;</div>", "SELECT * FROM t WHERE id = 1;",
  "fn main() -> Result<(), Box<dyn Error>> { Ok(()) }", "#include <stdio.h>\n#define MAX 100\n",
  "x==y!=z<=w>=v->u::t", "a\n\nb\n\n\nc", "line1\r\nline2\rline3\n", "end with newline\n\n",
  // emoji
  "😀", "I ❤️ NY", "👨‍👩‍👧‍👦 family", "👩🏽‍💻 coder", "🇺🇸🇯🇵🇩🇪 flags", "🏳️‍🌈", "✨🚀🔥💯",
  "emoji😀inside😃words", "🙂🙃🙂🙃🙂🙃", "👍🏿👍🏻", "#️⃣ 1️⃣ keycaps",
  // special white space / invisible
  "non\u00A0breaking\u00A0space", "zero\u200Bwidth\u200Bspace", "word\u200Djoiner", "soft\u00ADhyphen",
  "\u3000ideographic\u3000space", "en\u2002em\u2003thin\u2009spaces", "\uFEFFBOM at start", "line\u2028sep\u2029para",
  "                                                  fifty spaces", "tabs\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t",
  "\n\n\n\n\n\n\n\n\n\n", "   \n   \n   ", " \t \r\n \t ",
  // astral letters and combining marks
  "𝐀𝐁𝐂 bold math", "𝑥² + 𝑦² = 𝑧²", "𠀀𠀁𠀂 CJK ext B", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "a𝐀b𠀀c", "𐍈 Gothic hwair", "𓀀 hieroglyph",
  "e\u0301 combining acute", "\u00E9 precomposed", "n\u0303o\u0308", "Z\u0351\u0348\u0326a\u0358l\u0353g\u0331o",
  "ﬁ ligature ﬀ", "Å Å Å", "한글 ᄒᆞᆫ글 jamo",
  // punctuation runs
  "!!!???...", "—–-", "«»„“”‘’", "....", "..., ;;; :::", "a.b.c.d", "'''", "\"\"\"docstring\"\"\"",
];

const mixed = [
  "DeepSeek-V3 是一个强大的混合专家模型，拥有 671B 参数，每个 token 激活 37B。",
  "The price is ¥1,234 (約$8.50) — 安い！🎉",
  "العربية mixed with English and 中文 and 123",
  "नमस्ते 👋 world 世界 🌍",
  "Тест test テスト 테스트 测试",
];

/** The base and mixed strings only (no special tokens, no long document). */
export const plainCorpus = () => [...base, ...mixed];

export function corpus(specialTokens) {
  const out = [...base, ...mixed];
  // Variants: leading space, trailing newline, doubled.
  for (const s of [...base, ...mixed].filter(s => s.length > 0 && s.length < 60)) {
    out.push(" " + s, s + "\n", s + " " + s);
  }
  // Every special/added token alone, glued into words, and next to spaces.
  for (const t of specialTokens) {
    out.push(t, "x" + t + "y", " " + t + " ", t + t);
  }
  const some = specialTokens.slice(0, 20);
  out.push(some.join(""), some.join(" "), "prefix" + some.join("mid") + "suffix");
  // Partial special-token text must stay ordinary text.
  for (const t of some) out.push(t.slice(0, Math.max(1, t.length - 2)), t.slice(1));
  // A multi-KB document.
  let doc = "";
  for (let i = 0; doc.length < 8000; i++) doc += base[(i * 7) % base.length] + (i % 3 === 0 ? "\n" : " ");
  out.push(doc);
  return out;
}

// Strings with lone surrogates (JSON-stored as UTF-16 code units): the tokenizer must encode them as U+FFFD.
export const loneSurrogates = ["a\uD800b", "\uDC00", "x\uD83D", "\uDE00y\uD83D\uDE00", "tail\uDBFF"];
