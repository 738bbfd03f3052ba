// Every committed sequence diagram, drawn by Mermaid 11 in a real headless browser (Debian's
// chromium, driven by playwright-core). Parsing is not drawing: scripts/mermaid-check proves
// that Mermaid reads each label as written; this suite proves that what it draws is whole.
// For every ```mermaid block of every .md file under counterexamples/ it fails, naming the
// file, the block's line and the text, when
//
// - a text lies outside the SVG's viewBox: whoever shows the diagram cuts it off;
// - a note's text runs out of its note;
// - a message's text runs past the lifelines it joins (a message to itself is only held
//   to the viewBox);
// - a participant's name runs out of its box.
//
// Mermaid measures text in the page's font but draws it in its own (its default fontFamily
// ends in `;`, which makes the measuring text's font invalid, so it inherits the page's).
// So each diagram is drawn in two pages:
//
// - `mermaid-font`: a page in Mermaid's own font, where what Mermaid measures is what it
//   draws; every check above applies.
// - `default-font`: a page with the browser's default font (a serif, narrower than
//   Mermaid's), as a bare `mermaid.render` gets; Mermaid makes every box a few percent too
//   small for its text there whatever the diagram says, so only the first check applies.
//
// Before the committed diagrams, each host must catch every fault in MUST_FAIL below, so
// the suite cannot pass because it stopped looking. Screenshots of every diagram go to
// target/diagrams/<host>/ (kept by the run, not committed).
//
// Needs: /usr/bin/chromium (or CHROMIUM=path), `npm ci` here and in scripts/mermaid-check,
// whose Mermaid this suite draws with, so the repository holds one Mermaid version.
// Run: `npm test` in this directory.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const browserPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const mermaidJs = path.join(root, 'scripts/mermaid-check/node_modules/mermaid/dist/mermaid.min.js');
const counterexamples = path.join(root, 'counterexamples');
const shots = path.join(root, 'target/diagrams');
const TIMEOUT = 60_000;

// Mermaid 11's default font (its `fontFamily`, without the trailing `;`).
const MERMAID_FONT = '"trebuchet ms", verdana, arial, sans-serif';
const HOSTS = [
  { name: 'mermaid-font', css: `body { font-family: ${MERMAID_FONT}; }`, boxes: true },
  { name: 'default-font', css: '', boxes: false },
];

// Diagrams the suite must reject, with the fault each must be reported for in each host.
const MUST_FAIL = [
  {
    what: 'a long note over two neighbours, cut off at the diagram\'s edge',
    faults: { 'mermaid-font': ['cut off', 'note'], 'default-font': ['cut off'] },
    code: `sequenceDiagram
    participant A
    participant B
    A->>B: x
    Note over A,B: AtMostOneLeader violated: two leaders at once: node 0 with token 1 and node 1 with token 1, both trusting their leases
`,
  },
  {
    what: 'a long message passing over a participant, past its lifelines',
    faults: { 'mermaid-font': ['message'] },
    code: `sequenceDiagram
    participant A
    participant B
    participant C
    A->>C: a message far too long for the gaps between the three participants it spans
    Note over B: x
`,
  },
];

// Every .md file under `dir`, sorted.
function markdownFiles(dir) {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => {
      const p = path.join(dir, e.name);
      return e.isDirectory() ? markdownFiles(p) : e.isFile() && e.name.endsWith('.md') ? [p] : [];
    })
    .sort();
}

// The ```mermaid blocks of a Markdown text, each with the line its code starts on.
function mermaidBlocks(text) {
  const lines = text.split('\n');
  const blocks = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== '```mermaid') continue;
    const line = i + 2;
    const body = [];
    for (i++; i < lines.length && lines[i].trim() !== '```'; i++) body.push(lines[i]);
    blocks.push({ line, code: body.join('\n') + '\n' });
  }
  return blocks;
}

const NOTE = /^\s*note\s+(?:over|left of|right of)\s/i;
const ARROW = /^\s*[^\s:]+?\s*(?:<<-->>|<<->>|-->>|->>|-->|->|--x|-x|--\)|-\))\s*[+-]?[^\s:]+\s*:/;
const count = (code, re) => code.split('\n').filter((l) => re.test(l)).length;

let context;
let profile;
const pages = new Map();

before(async () => {
  assert.ok(
    existsSync(browserPath),
    `${browserPath} is missing: apt-get install chromium (as .ci/run does), or set CHROMIUM`,
  );
  assert.ok(
    existsSync(mermaidJs),
    `${path.relative(root, mermaidJs)} is missing: run \`npm ci --prefix scripts/mermaid-check\` (.ci/run does)`,
  );
  profile = mkdtempSync(path.join(tmpdir(), 'coordlab-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: browserPath,
    headless: true,
    viewport: { width: 1200, height: 800 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  context.setDefaultTimeout(TIMEOUT);
  for (const host of HOSTS) {
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.setContent(
      `<!doctype html><html><head><meta charset="utf-8"><style>${host.css} body { margin: 0; } #diagram { display: inline-block; padding: 8px; }</style></head><body><div id="diagram"></div></body></html>`,
    );
    await page.addScriptTag({ path: mermaidJs });
    await page.evaluate(() => window.mermaid.initialize({ startOnLoad: false }));
    pages.set(host.name, { page, errors });
  }
});

after(async () => {
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

// Draws `code` in `host`'s page; returns what the diagram holds and every text that is cut
// off or runs out of its box, as { kind, text, detail }.
async function draw(host, code, id) {
  const { page } = pages.get(host.name);
  return page.evaluate(
    async ({ code, id, boxes }) => {
      const { svg } = await window.mermaid.render(id, code);
      const holder = document.getElementById('diagram');
      holder.innerHTML = svg;
      const s = holder.querySelector('svg');
      const vb = s.viewBox.baseVal;
      // Drawn at its own size, so the screenshot shows it as laid out.
      s.style.maxWidth = 'none';
      s.setAttribute('width', vb.width);
      s.setAttribute('height', vb.height);
      // `el`'s bounding box in the SVG's own coordinates (those of the viewBox).
      const toSvg = s.getScreenCTM().inverse();
      const box = (el) => {
        const b = el.getBBox();
        const m = toSvg.multiply(el.getScreenCTM());
        const corners = [
          [b.x, b.y],
          [b.x + b.width, b.y],
          [b.x, b.y + b.height],
          [b.x + b.width, b.y + b.height],
        ].map(([x, y]) => new DOMPoint(x, y).matrixTransform(m));
        const xs = corners.map((p) => p.x);
        const ys = corners.map((p) => p.y);
        return { left: Math.min(...xs), top: Math.min(...ys), right: Math.max(...xs), bottom: Math.max(...ys) };
      };
      const px = (n) => `${Math.round(n * 10) / 10} px`;
      // How far `inner` runs out of `outer`, side by side; empty when it does not.
      const outside = (inner, outer, sides = ['left', 'right', 'top', 'bottom']) =>
        sides
          .map((side) => {
            const over = side === 'left' || side === 'top' ? outer[side] - inner[side] : inner[side] - outer[side];
            return over > 0 ? `${px(over)} on the ${side}` : null;
          })
          .filter(Boolean)
          .join(', ');
      const problems = [];
      const texts = [...s.querySelectorAll('text')].filter((t) => t.textContent.trim() !== '');
      const frame = { left: vb.x, top: vb.y, right: vb.x + vb.width, bottom: vb.y + vb.height };
      for (const t of texts) {
        const over = outside(box(t), frame);
        if (over) problems.push({ kind: 'cut off', text: t.textContent, detail: `outside the diagram by ${over}` });
      }
      const notes = [...s.querySelectorAll('rect.note')];
      const messages = [...s.querySelectorAll('[data-et="message"]')];
      if (boxes) {
        for (const rect of notes) {
          for (const t of rect.parentNode.querySelectorAll('text.noteText')) {
            const over = outside(box(t), box(rect));
            if (over) problems.push({ kind: 'note', text: t.textContent, detail: `runs out of its note by ${over}` });
          }
        }
        // A message's texts are the text.messageText elements just before its line.
        for (const m of messages) {
          if (m.tagName !== 'line') continue;
          const span = box(m);
          for (let t = m.previousElementSibling; t?.matches('text.messageText'); t = t.previousElementSibling) {
            const over = outside(box(t), span, ['left', 'right']);
            if (over) problems.push({ kind: 'message', text: t.textContent, detail: `runs past its lifelines by ${over}` });
          }
        }
        for (const t of s.querySelectorAll('text.actor')) {
          const rect = t.parentNode.querySelector('rect.actor');
          if (!rect) continue;
          const over = outside(box(t), box(rect));
          if (over) problems.push({ kind: 'participant', text: t.textContent, detail: `runs out of its box by ${over}` });
        }
      }
      return {
        problems,
        texts: texts.length,
        notes: notes.length,
        messages: messages.length,
        width: vb.width,
        height: vb.height,
      };
    },
    { code, id, boxes: host.boxes },
  );
}

async function screenshot(host, file, drawn) {
  const { page } = pages.get(host.name);
  mkdirSync(path.dirname(file), { recursive: true });
  // A page in the background is drawn about once a second.
  await page.bringToFront();
  await page.setViewportSize({ width: Math.ceil(drawn.width) + 16, height: Math.ceil(drawn.height) + 16 });
  await page.locator('#diagram').screenshot({ path: file });
}

let ids = 0;
const nextId = () => `diagram-${++ids}`;

for (const host of HOSTS) {
  test(`[${host.name}] the suite catches what it must`, { timeout: 4 * TIMEOUT }, async () => {
    for (const fixture of MUST_FAIL) {
      const want = fixture.faults[host.name] ?? [];
      const drawn = await draw(host, fixture.code, nextId());
      const kinds = new Set(drawn.problems.map((p) => p.kind));
      for (const kind of want) {
        assert.ok(
          kinds.has(kind),
          `${fixture.what}: not reported as \`${kind}\` (reported: ${JSON.stringify(drawn.problems)}); fix checks/tests/browser/diagrams.test.mjs`,
        );
      }
    }
  });

  test(`[${host.name}] every committed diagram is drawn whole`, { timeout: 10 * TIMEOUT }, async () => {
    const failures = [];
    let blocks = 0;
    for (const file of markdownFiles(counterexamples)) {
      const name = path.relative(root, file);
      const found = mermaidBlocks(readFileSync(file, 'utf8'));
      for (const [k, block] of found.entries()) {
        blocks++;
        const drawn = await draw(host, block.code, nextId());
        const stem = path.relative(counterexamples, file).replace(/\.md$/, '');
        const png = path.join(shots, host.name, `${stem}${found.length > 1 ? `-${k + 1}` : ''}.png`);
        await screenshot(host, png, drawn);
        // The checks looked at every note and message the block writes.
        assert.equal(drawn.notes, count(block.code, NOTE), `${name}:${block.line}: notes drawn`);
        assert.equal(drawn.messages, count(block.code, ARROW), `${name}:${block.line}: messages drawn`);
        assert.ok(drawn.texts > 0, `${name}:${block.line}: no text drawn`);
        for (const p of drawn.problems) {
          failures.push(`${name}:${block.line}: [${host.name}] ${p.kind} text "${p.text}" ${p.detail}`);
        }
      }
    }
    assert.ok(blocks > 0, `no mermaid diagram found under ${path.relative(root, counterexamples)}`);
    assert.deepEqual(pages.get(host.name).errors, [], 'the page logs no errors');
    assert.equal(
      failures.length,
      0,
      `${failures.length} texts not drawn whole in ${blocks} diagrams (screenshots in ${path.relative(root, shots)}/${host.name}/):\n${failures.join('\n')}`,
    );
  });
}
