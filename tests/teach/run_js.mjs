// Runs functions of a page module (no DOM, no imports) for tests/teach: node run_js.mjs MODULE.js
// reads [{fn, args}, ...] as JSON on stdin and writes [result, ...] (or {error}) as JSON on stdout.
// The module is loaded from a data: URL so that node needs no package.json to treat it as ESM.
import { readFileSync } from "node:fs";

const source = readFileSync(process.argv[2], "utf8");
const module = await import("data:text/javascript;base64," + Buffer.from(source).toString("base64"));
const calls = JSON.parse(readFileSync(0, "utf8"));
const results = calls.map(({ fn, args }) => {
  try {
    return typeof module[fn] === "function" ? module[fn](...args) : module[fn];
  } catch (err) {
    return { error: String(err.message || err) };
  }
});
process.stdout.write(JSON.stringify(results));
