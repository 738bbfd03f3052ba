// Runs Mermaid's own parser over every ```mermaid block of every Markdown file under the
// given directories (default: counterexamples/ at the repository root), the way GitHub
// renders them. A block fails when:
//
// - `mermaid.parse` rejects it (the error box GitHub would show), or
// - it parses, but Mermaid understood something other than what is written: a message,
//   note or participant label that Mermaid recorded differently from the source line
//   (a `#` starts a comment and silently cuts the rest of a line; a `%%{...}%%` is taken
//   as a directive; a leading `wrap:` is taken as an option), or a different number of
//   messages and notes than the block has lines for.
//
// Each failure names the file, the block's first line and Mermaid's message. Before that,
// every block of must-fail.md (beside this script) must fail, so the check cannot pass
// because it stopped looking. Exit code 0 when every block passes, 1 when one fails, when
// no block is found at all or when a must-fail block passes, 2 on bad usage.
//
//   node scripts/mermaid-check/check.mjs [DIR...]

import { readdir, readFile } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const root = resolve(here, "..", "..");

let mermaid;
try {
  ({ default: mermaid } = await import("mermaid"));
} catch (e) {
  console.error(
    `scripts/mermaid-check: mermaid is not installed (${e.code ?? e.message}): run \`npm ci --prefix scripts/mermaid-check\` (.ci/run does)`,
  );
  process.exit(2);
}
mermaid.initialize({ startOnLoad: false, logLevel: "fatal" });

/** Every `.md` file under `dir`, sorted, as absolute paths. */
async function markdownFiles(dir) {
  const out = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      out.push(...(await markdownFiles(path)));
    } else if (entry.isFile() && entry.name.endsWith(".md")) {
      out.push(path);
    }
  }
  return out.sort();
}

/** The ```mermaid blocks of a Markdown text: their source and the line they start on. */
function mermaidBlocks(text) {
  const lines = text.split("\n");
  const blocks = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== "```mermaid") {
      continue;
    }
    const start = i + 2;
    const body = [];
    for (i++; i < lines.length && lines[i].trim() !== "```"; i++) {
      body.push(lines[i]);
    }
    blocks.push({ line: start, code: body.join("\n") + "\n" });
  }
  return blocks;
}

const ARROW = /^\s*([^\s:]+?)\s*(<<-->>|<<->>|-->>|->>|-->|->|--x|-x|--\)|-\))\s*([+-]?[^\s:]+)\s*:(.*)$/;
const NOTE = /^\s*note\s+(?:over|left of|right of)\s+[^:]+:(.*)$/i;
const PARTICIPANT = /^\s*(?:participant|actor)\s+(\S+?)(?:\s+as\s+(.*))?\s*$/;

/** Mermaid's placeholders for entity codes (`#59;`), turned back into the source's form. */
function asWritten(recorded) {
  return recorded.replace(/\uFB02\xB0\xB0/g, "#").replace(/\uFB02\xB0/g, "#").replace(/\xB6\xDF/g, ";");
}

/** What Mermaid recorded differs from what the block says: the differences, as lines. */
async function misread(code) {
  const diagram = await mermaid.mermaidAPI.getDiagramFromText(code);
  if (diagram.type !== "sequence") {
    return [];
  }
  const db = diagram.db;
  const t = db.LINETYPE;
  const drawn = new Set([
    t.SOLID, t.DOTTED, t.NOTE, t.SOLID_CROSS, t.DOTTED_CROSS, t.SOLID_OPEN, t.DOTTED_OPEN,
    t.SOLID_POINT, t.DOTTED_POINT, t.BIDIRECTIONAL_SOLID, t.BIDIRECTIONAL_DOTTED,
  ]);
  const recorded = db.getMessages().filter((m) => drawn.has(m.type)).map((m) => asWritten(m.message));
  const written = [];
  const problems = [];
  for (const line of code.split("\n")) {
    const arrow = ARROW.exec(line);
    const note = NOTE.exec(line);
    const participant = PARTICIPANT.exec(line);
    if (note) {
      written.push(note[1].trim());
    } else if (arrow) {
      written.push(arrow[4].trim());
    } else if (participant) {
      const actor = db.getActors().get(participant[1]);
      const alias = (participant[2] ?? participant[1]).trim();
      if (!actor) {
        problems.push(`participant \`${participant[1]}\` is not recorded as one`);
      } else if (asWritten(actor.description) !== alias) {
        problems.push(`participant \`${participant[1]}\` reads \`${asWritten(actor.description)}\`, not \`${alias}\``);
      }
    }
  }
  if (recorded.length !== written.length) {
    problems.push(`${written.length} messages and notes written, ${recorded.length} recorded`);
  }
  for (let i = 0; i < Math.min(recorded.length, written.length); i++) {
    if (recorded[i] !== written[i]) {
      problems.push(`label \`${written[i]}\` reads \`${recorded[i]}\``);
    }
  }
  return problems;
}

/** What is wrong with one block, as lines (none: it parses and reads as written). */
async function problems(code) {
  try {
    await mermaid.parse(code);
  } catch (e) {
    return [`Mermaid cannot parse this diagram: ${e.message}`];
  }
  return (await misread(code)).map((p) => `Mermaid misreads this diagram: ${p}`);
}

/** Every block of must-fail.md fails; returns the ones that do not. */
async function selfTest() {
  const text = await readFile(join(here, "must-fail.md"), "utf8");
  const blocks = mermaidBlocks(text);
  const passed = [];
  for (const block of blocks) {
    if ((await problems(block.code)).length === 0) {
      passed.push(`scripts/mermaid-check/must-fail.md:${block.line}: passes, but must fail`);
    }
  }
  return blocks.length === 0 ? ["scripts/mermaid-check/must-fail.md: no block"] : passed;
}

async function main() {
  const args = process.argv.slice(2);
  if (args.some((a) => a.startsWith("-"))) {
    console.error("usage: node scripts/mermaid-check/check.mjs [DIR...]");
    process.exit(2);
  }
  const dirs = args.length > 0 ? args.map((d) => resolve(d)) : [join(root, "counterexamples")];
  let files = [];
  for (const dir of dirs) {
    try {
      files.push(...(await markdownFiles(dir)));
    } catch (e) {
      console.error(`${relative(process.cwd(), dir) || dir}: ${e.message}`);
      process.exit(2);
    }
  }
  const vacuous = await selfTest();
  if (vacuous.length > 0) {
    for (const v of vacuous) {
      console.error(v);
    }
    console.error("the check no longer catches what it must: fix scripts/mermaid-check/check.mjs");
    process.exit(1);
  }
  let blocks = 0;
  const failures = [];
  for (const file of files) {
    const name = relative(root, file);
    for (const block of mermaidBlocks(await readFile(file, "utf8"))) {
      blocks++;
      for (const problem of await problems(block.code)) {
        failures.push(`${name}:${block.line}: ${problem}`);
      }
    }
  }
  for (const f of failures) {
    console.error(f);
  }
  if (blocks === 0) {
    console.error(`no mermaid diagram found under ${dirs.map((d) => relative(root, d)).join(", ")}`);
    process.exit(1);
  }
  const summary = `${blocks} mermaid diagram${blocks === 1 ? "" : "s"} in ${files.length} file${files.length === 1 ? "" : "s"}`;
  if (failures.length > 0) {
    console.error(`${failures.length} problems in ${summary}`);
    process.exit(1);
  }
  console.log(`${summary}: all parse, every label as written`);
}

await main();
