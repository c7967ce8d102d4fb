// Small byte-level BPE tokenizers in tokenizer.json format that exercise the features the real DeepSeek/Qwen files
// do not: every Split behaviour, invert, Digits, ByteLevel options, NFKC/NFD, TemplateProcessing, lstrip/rstrip/
// single_word added tokens, ignore_merges and ["a","b"] merges. Vocabulary: the 256 byte symbols plus the results
// of Qwen2.5's first 3000 merges (consistent because merges are listed in rank order).

const byteChars = (() => {
  const bs = [];
  for (let b = 0; b < 256; b++) if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)) bs.push(b);
  const map = new Map(bs.map(b => [b, String.fromCharCode(b)]));
  let n = 0;
  for (let b = 0; b < 256; b++) if (!map.has(b)) map.set(b, String.fromCharCode(256 + n++));
  return [...Array(256).keys()].map(b => map.get(b));
})();

function model(qwen, { pairs = false, ignoreMerges = false } = {}) {
  const vocab = {};
  byteChars.forEach((c, i) => { vocab[c] = i; });
  const merges = [];
  for (const m of qwen.model.merges.slice(0, 3000)) {
    const [a, b] = typeof m === "string" ? m.split(" ") : m;
    if (!(a in vocab) || !(b in vocab)) continue;
    if (!((a + b) in vocab)) vocab[a + b] = Object.keys(vocab).length;
    merges.push(pairs ? [a, b] : `${a} ${b}`);
  }
  return { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
    fuse_unk: false, byte_fallback: false, ignore_merges: ignoreMerges, vocab, merges };
}

const byteLevel = (add_prefix_space, use_regex) => ({ type: "ByteLevel", add_prefix_space, trim_offsets: false, use_regex });
const split = (pattern, behavior, invert = false) => ({ type: "Split", pattern, behavior, invert });
const decoder = { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true };
const added = (id, content, o = {}) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: false, ...o });
const template = (bos, eos) => ({
  type: "TemplateProcessing",
  single: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "</s>", type_id: 0 } }],
  pair: [{ Sequence: { id: "A", type_id: 0 } }, { Sequence: { id: "B", type_id: 1 } }],
  special_tokens: { "<s>": { id: "<s>", ids: [bos], tokens: ["<s>"] }, "</s>": { id: "</s>", ids: [eos], tokens: ["</s>"] } },
});

export function syntheticTokenizers(qwen) {
  const make = (name, parts, modelOptions) => {
    const m = model(qwen, modelOptions);
    const next = Object.keys(m.vocab).length;
    return [name, { version: "1.0", truncation: null, padding: null, added_tokens: (parts.added ?? (() => []))(next),
      normalizer: parts.normalizer ?? null, pre_tokenizer: parts.pre, post_processor: parts.post ?? null, decoder, model: m }];
  };
  return Object.fromEntries([
    make("merged-splits", { pre: { type: "Sequence", pretokenizers: [
      split({ Regex: "\\p{P}" }, "MergedWithPrevious"), split({ String: " " }, "MergedWithNext"), byteLevel(false, false)] } }),
    make("removed-contiguous", { pre: { type: "Sequence", pretokenizers: [
      split({ Regex: "\\d+" }, "Removed"), split({ Regex: "[aeiou]" }, "Contiguous"), byteLevel(true, true)] } }),
    make("digits-invert", { pre: { type: "Sequence", pretokenizers: [
      { type: "Digits", individual_digits: true }, split({ Regex: "\\s+" }, "Isolated", true), byteLevel(false, true)] } }),
    make("nfkc-template-added", {
      normalizer: { type: "NFKC" },
      pre: { type: "Sequence", pretokenizers: [{ type: "Digits", individual_digits: false }, byteLevel(true, false)] },
      post: template(0, 1),
      added: next => [
        added(next, "<s>", { special: true }), added(next + 1, "</s>", { special: true }),
        added(next + 2, "[MASK]", { lstrip: true, rstrip: true }), added(next + 3, "hello", { single_word: true, normalized: true }),
        added(next + 4, "ＦＵＬＬ", { normalized: true }), added(next + 5, "<tool>", { special: true, normalized: true, rstrip: true }),
      ],
    }),
    make("gpt2-nfd", { normalizer: { type: "Sequence", normalizers: [{ type: "NFD" }] }, pre: byteLevel(true, true),
      post: { type: "Sequence", processors: [byteLevel(true, false), template(0, 1)] } }),
    make("llama3-style", { pre: { type: "Sequence", pretokenizers: [
      split({ Regex: "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+" }, "Isolated"),
      byteLevel(false, false)] } }, { pairs: true, ignoreMerges: true }),
  ]);
}
