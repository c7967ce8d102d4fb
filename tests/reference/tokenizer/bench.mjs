// Single-thread encode throughput of Hugging Face's Rust tokenizer (npm `tokenizers`) on the corpus file written by
// benchmarks/Tokenizer. Usage (see README.md):
//   RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false NODE_PATH=/tmp/tokref/node_modules \
//     node tests/reference/tokenizer/bench.mjs [tokenizer.json] [corpus.txt] [runs]
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const { Tokenizer } = require("tokenizers");
const here = dirname(fileURLToPath(import.meta.url));
const tokPath = process.argv[2] || join(here, "..", "..", "TestData", "tokenizers", "deepseek-v3", "tokenizer.json");
const corpusPath = process.argv[3] || join(tmpdir(), "deepseek-tokenizer-bench.txt");
const runs = Number(process.argv[4] || 7);
const byLine = process.argv.includes("--lines"); // each line its own document, as benchmarks/Tokenizer --lines

const text = readFileSync(corpusPath, "utf8");
const mb = Buffer.byteLength(text, "utf8") / 1e6;
const tok = Tokenizer.fromFile(tokPath);
console.log(`corpus ${corpusPath}: ${mb.toFixed(2)} MB`);
const lines = text.split("\n");
async function encodeAll() {
  const all = [];
  const add = ids => { for (const id of ids) all.push(id); };
  if (byLine) for (const line of lines) add((await tok.encode(line, null, { addSpecialTokens: false })).getIds());
  else add((await tok.encode(text, null, { addSpecialTokens: false })).getIds());
  let sum = 0n;
  for (const id of all) sum = (sum * 31n + BigInt(id)) % 1000000007n;
  return [all.length, sum];
}
let ids = 0, checksum = 0n;
for (let i = 0; i < 2; i++) [ids, checksum] = await encodeAll();
const rates = [];
for (let i = 0; i < runs; i++) {
  const t0 = process.hrtime.bigint();
  [ids, checksum] = await encodeAll();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  rates.push(mb / s);
  console.log(`run ${i + 1} ${(s * 1000).toFixed(1)} ms ${rates.at(-1).toFixed(2)} MB/s`);
}
rates.sort((a, b) => a - b);
console.log(`ids ${ids} (checksum ${checksum}, mode ${byLine ? "lines" : "whole"})`);
console.log(`median ${rates[Math.floor(rates.length / 2)].toFixed(2)} MB/s (single thread, ${runs} runs after 2 warm-up)`);
