// Writes tests/TestData/tokenizers/<name>/vectors.json: the ids and decoded text Hugging Face's Rust tokenizer
// (npm package `tokenizers`, native binary) gives for every corpus string. See README.md.
import { createRequire } from "node:module";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { corpus, loneSurrogates, plainCorpus } from "./corpus.mjs";
import { syntheticTokenizers } from "./synthetic.mjs";

const require = createRequire(import.meta.url);
const { Tokenizer } = require(process.env.TOKENIZERS_MODULE ?? "tokenizers");
const here = dirname(fileURLToPath(import.meta.url));
const data = join(here, "..", "..", "TestData", "tokenizers");

async function vectorsFor(tok, texts) {
  const vectors = [];
  for (const { text, utf16 } of texts) {
    const plain = await tok.encode(text, null, { addSpecialTokens: false });
    const withSpecial = await tok.encode(text, null, { addSpecialTokens: true });
    const ids = Array.from(plain.getIds());
    // Lone surrogates cannot travel as JSON strings to every reader: store their UTF-16 code units.
    const v = utf16 ? { utf16: [...Array(text.length).keys()].map(i => text.charCodeAt(i)) } : { text };
    v.ids = ids;
    v.ids_special = Array.from(withSpecial.getIds());
    v.decoded = await tok.decode(ids, false);
    v.decoded_skip = await tok.decode(ids, true);
    vectors.push(v);
  }
  return vectors;
}

const version = require("tokenizers/package.json").version;
const write = (path, obj) => writeFileSync(path, JSON.stringify(obj).replace(/\},\{"(text|utf16)"/g, '},\n{"$1"') + "\n");
const withSurrogates = texts => [...texts.map(t => ({ text: t })), ...loneSurrogates.map(t => ({ text: t, utf16: true }))];

for (const name of ["deepseek-v3", "qwen2.5"]) {
  const file = join(data, name, "tokenizer.json");
  const json = JSON.parse(readFileSync(file, "utf8"));
  const vectors = await vectorsFor(Tokenizer.fromFile(file), withSurrogates(corpus(json.added_tokens.map(t => t.content))));
  write(join(data, name, "vectors.json"), { tokenizer: name, generator: "tests/reference/tokenizer/generate.mjs", tokenizers_version: version, count: vectors.length, vectors });
  console.log(`${name}: ${vectors.length} vectors`);
}

// Synthetic tokenizers: each file holds the tokenizer.json object and its vectors.
const qwen = JSON.parse(readFileSync(join(data, "qwen2.5", "tokenizer.json"), "utf8"));
for (const [name, tokenizer] of Object.entries(syntheticTokenizers(qwen))) {
  const texts = [...plainCorpus(), "<s>hello</s>", "say hello there", "sayhello", "a [MASK] b", "a   [MASK]   b", "[MASK]", "ＦＵＬＬ ＦＵＬＬstop", "FULL", "x <tool>  y", "ⅻ ﬁ ①"];
  const vectors = await vectorsFor(Tokenizer.fromString(JSON.stringify(tokenizer)), withSurrogates(texts));
  write(join(data, "synthetic", `${name}.json`), { name, generator: "tests/reference/tokenizer/synthetic.mjs", tokenizers_version: version, tokenizer, count: vectors.length, vectors });
  console.log(`synthetic/${name}: ${vectors.length} vectors`);
}
