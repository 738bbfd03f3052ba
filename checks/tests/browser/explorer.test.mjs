// `coordlab explore` in a real headless browser: Debian's chromium, driven by
// playwright-core. Each test starts the release binary on a free port, reads the address it
// prints, and uses the page as a person would. Screenshots go to target/explorer/ (kept by
// the run, not committed).
//
// Needs: target/release/coordlab (`cargo build --release`), /usr/bin/chromium (or
// CHROMIUM=path), `npm ci` here. Run: `npm test` in this directory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const binary = process.env.COORDLAB ?? path.join(root, 'target/release/coordlab');
const browserPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const shots = path.join(root, 'target/explorer');
// Generous: the machine may be busy building; a hung step still ends the test.
const TIMEOUT = 60_000;

// Starts `coordlab explore ARGS... --port 0` (ARGS: the check, then options such as
// `--set`); resolves to { url, child } once it prints its address.
function startExplorer(args) {
  assert.ok(existsSync(binary), `${binary} is missing: run cargo build --release first`);
  const child = spawn(binary, ['explore', ...args, '--port', '0'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`no address printed in time; stdout: ${out} stderr: ${err}`));
    }, TIMEOUT);
    child.stderr.on('data', (d) => (err += d));
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/at (http:\/\/127\.0\.0\.1:\d+\/)/);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1], child });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`coordlab explore exited with ${code}: ${err}`));
    });
  });
}

// A fresh browser profile, with the flags this machine's chromium needs (no sandbox, no
// GPU, no network of its own).
async function startBrowser() {
  assert.ok(
    existsSync(browserPath),
    `${browserPath} is missing: apt-get install chromium (as .ci/run does), or set CHROMIUM`,
  );
  const profile = mkdtempSync(path.join(tmpdir(), 'coordlab-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: browserPath,
    headless: true,
    viewport: { width: 1440, height: 1000 },
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
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

// Runs `body(page, url, errors)` against an explorer of TARGET (a check, or the check and
// options as an array), then stops both; `errors` collects what the page logs as errors,
// and must be empty at the end.
async function withExplorer(target, body) {
  const { url, child } = await startExplorer(Array.isArray(target) ? target : [target]);
  const browser = await startBrowser();
  try {
    const page = browser.context.pages()[0] ?? (await browser.context.newPage());
    const failures = [];
    page.on('pageerror', (e) => failures.push(e.message));
    page.on('console', (m) => m.type() === 'error' && failures.push(m.text()));
    await body(page, url, failures);
    assert.deepEqual(failures, [], 'the page logs no errors');
  } finally {
    await browser.close();
    child.kill();
  }
}

const text = (page, selector) => page.locator(selector).innerText();

// The text of the walk's banner once it says `step K of`.
async function walkingAt(page, k) {
  await page.waitForFunction((k) => {
    const node = document.getElementById('walking');
    return !node.hidden && node.innerText.includes(`: step ${k} of `);
  }, k);
  return text(page, '#walking');
}

// Nothing wider than the window: no sideways scrolling, and every cell of the property
// table (its last column, "in this state", included) inside the window.
async function assertFits(page, width) {
  await page.setViewportSize({ width, height: 900 });
  const fit = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    inner: innerWidth,
    cut: [...document.querySelectorAll('#properties td, #bounds td, #fields td, #actions a, #walking')]
      .filter((n) => n.getBoundingClientRect().right > innerWidth + 0.5)
      .map((n) => n.className || n.id || n.tagName),
  }));
  assert.ok(fit.scroll <= fit.inner, `at ${width} px the page is ${fit.scroll} px wide`);
  assert.deepEqual(fit.cut, [], `at ${width} px these reach past the window's right edge`);
}

test('the explorer shows the variant, bounds, state, actions, steps and every verdict, and walks a lasso', { timeout: 4 * TIMEOUT }, async () => {
  await withExplorer('queue/no-dead-letter', async (page, url, errors) => {
    await page.goto(url);
    await page.waitForFunction(() => location.hash === '#/0');

    // The variant and what it changes, and the bounds as the traces' Configuration table.
    assert.equal(await text(page, '#check-id'), 'queue/no-dead-letter');
    assert.match(
      await text(page, '#summary'),
      /Variant no-dead-letter of queue: no redrive policy: a message that always fails is retried forever\./,
    );
    // Each bound with its meaning, in the words of the trace's Configuration table, which
    // also says when this variant does not use a bound.
    const bounds = await page.locator('#bounds tbody tr').allInnerTexts();
    const configuration = readFileSync(
      path.join(root, 'counterexamples/queue/no-dead-letter/EveryMessageResolved.md'),
      'utf8',
    );
    assert.equal(bounds.length, 10);
    for (const row of bounds) {
      const line = `| ${row.split('\t').join(' | ')} |`;
      assert.ok(configuration.includes(line), `${line} is not in the trace's Configuration table`);
    }
    assert.ok(
      bounds.includes('max-receives\t2\tnot used by this variant: it has no dead-letter queue'),
      bounds.join(' | '),
    );
    assert.equal(await page.locator('#bounds tr.overridden').count(), 0);
    assert.equal(await page.locator('#overrides').isVisible(), false);

    // The state as the model's fields, the enabled action in the model's words.
    await page.locator('#fields tr[data-field="m0"]').waitFor();
    assert.equal(await text(page, '#fields tr[data-field="m0"] td'), 'not sent');
    assert.equal(await text(page, '#state-title'), 'Initial state');
    const send = page.locator('#actions a[data-index="0"]');
    assert.equal(await send.locator('.description').innerText(), 'producer sends m0');

    // Taking it: the step appears with only the field it changed, as in the traces.
    await send.click();
    await page.waitForFunction(() => location.hash === '#/0/0');
    const step1 = page.locator('#steps li[data-step="1"]');
    await step1.waitFor();
    assert.match(await step1.innerText(), /producer sends m0 \(t=0\) send\s+m0: not sent → visible/);
    assert.equal(await text(page, '#state-title'), 'State after step 1');
    assert.equal(await text(page, '#fields tr.changed th'), 'm0');

    // Every property with its verdict, liveness included, once the background check ends.
    const rows = page.locator('#properties tbody tr');
    assert.equal(await rows.count(), 12);
    const live = page.locator('#properties tr[data-property="EveryMessageResolved"]');
    await live.locator('.mark').waitFor();
    assert.equal(await live.locator('td.kind').innerText(), 'eventually');
    assert.match(await live.locator('td.verdict').innerText(), /violated ✓ as expected/);
    assert.equal(await live.locator('td.here').innerText(), 'goal false');
    for (const row of await rows.all()) {
      assert.match(await row.locator('td.verdict').innerText(), /✓ as expected/, await row.innerText());
    }
    assert.match(await text(page, '#run-status'), /Every verdict is what the manifest expects\./);

    // Walking the lasso starts at its initial state, step 1's action marked, and goes
    // step by step: buttons, the arrow keys, and a jump to its end.
    await live.locator('button.walk').click();
    await page.waitForFunction(() => location.hash === '#/0');
    assert.match(
      await walkingAt(page, 0),
      /^Counterexample of EveryMessageResolved: step 0 of 10 \(the initial state\)\. Step 1 is marked under Next step\./,
    );
    assert.equal(await text(page, '#state-title'), 'Initial state');
    assert.equal(await page.locator('#walking [data-step="previous"]').count(), 0);
    assert.equal(await page.locator('#actions a.next').count(), 1);
    assert.match(await text(page, '#actions a.next'), /^the counterexample's step 1\s+producer sends m0/);
    await page.locator('#walking [data-step="next"]').click();
    assert.match(await walkingAt(page, 1), /step 1 of 10\. Step 2 is marked under Next step\./);
    assert.equal(await text(page, '#state-title'), 'State after step 1');
    assert.match(await text(page, '#actions a.next'), /^the counterexample's step 2\s+consumer 0 receives m0/);
    await page.keyboard.press('ArrowRight');
    await walkingAt(page, 2);
    assert.equal(await text(page, '#state-title'), 'State after step 2');
    await page.keyboard.press('ArrowLeft');
    await walkingAt(page, 1);
    await page.locator('#walking [data-step="previous"]').click();
    await walkingAt(page, 0);
    await page.locator('#walking [data-step="end"]').click();
    await page.locator('#steps li[data-step="10"]').waitFor();
    assert.equal(await page.locator('#steps li.step').count(), 11);
    assert.equal(await text(page, '#steps li.lasso'), 'From step 6 on, steps 6–10 repeat forever.');
    assert.match(
      await walkingAt(page, 10),
      /Counterexample of EveryMessageResolved: step 10 of 10, the last\. After step 10 the system is back in the state it had after step 5: steps 6–10 repeat forever\./,
    );
    assert.equal(await page.locator('#walking [data-step="next"]').count(), 0);
    assert.match(await text(page, '#actions a.next'), /the cycle goes on: step 6 again\s+one tick passes/);
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: path.join(shots, 'explorer.png'), fullPage: true });

    // A step of the path is a link back to it; the browser's back button undoes a walk.
    await page.locator('#steps li[data-step="5"] > a').click();
    assert.match(await walkingAt(page, 5), /step 5 of 10\. Step 6 is marked/);
    assert.equal(await text(page, '#state-title'), 'State after step 5');
    assert.equal(await page.locator('#actions a.next').count(), 1);
    await page.goBack();
    await page.locator('#steps li[data-step="10"]').waitFor();
    // Back past the jump to the end: the walk's start, where `previous` had taken it.
    await page.goBack();
    await page.locator('#steps li[data-step="1"]').waitFor({ state: 'detached' });
    assert.equal(await text(page, '#state-title'), 'Initial state');
    assert.match(await walkingAt(page, 0), /step 0 of 10/);
    await page.goBack();
    await page.locator('#steps li[data-step="1"]').waitFor();
    assert.equal(await text(page, '#state-title'), 'State after step 1');
    assert.match(await walkingAt(page, 1), /step 1 of 10/);

    // A path that does not exist: the server's message in place of the state (nothing
    // stale left on screen), with links to the initial state and to the last state the
    // address reaches.
    assert.deepEqual(errors, []);
    const checkError = async (hash, message, prefix) => {
      await page.evaluate((hash) => (location.hash = hash), hash);
      await page.locator('#error').waitFor();
      assert.equal(await page.locator('#stepper').isVisible(), false);
      assert.equal(await page.locator('#fields').isVisible(), false);
      assert.deepEqual(await page.locator('#properties td.here').allInnerTexts(), Array(12).fill(''));
      assert.match(await text(page, '#error'), message);
      assert.equal(await page.locator('#error a[data-link="initial"]').getAttribute('href'), '#/0');
      const link = page.locator('#error a[data-link="prefix"]');
      assert.equal(await link.count(), prefix ? 1 : 0);
      // The browser logs the refused request itself; nothing else went wrong.
      assert.deepEqual(errors, ['Failed to load resource: the server responded with a status of 400 (Bad Request)']);
      errors.length = 0;
      return link;
    };
    await checkError('#/0/99', /^No state at this address\n+step 1: action 99 is out of range: 1 action is enabled in the initial state \(0 to 0\)\n+Go to the initial state\.$/);
    await page.locator('#error a[data-link="initial"]').click();
    await page.locator('#fields').waitFor();
    assert.equal(await page.locator('#error').isVisible(), false);
    assert.equal(await text(page, '#state-title'), 'Initial state');
    const prefix = await checkError('#/0/0/99', /step 2: action 99 is out of range: 2 actions are enabled after step 1 \(0 to 1\)/, true);
    assert.equal(await prefix.innerText(), 'to the last state this address reaches (after step 1)');
    await prefix.click();
    await page.locator('#fields').waitFor();
    assert.equal(await text(page, '#state-title'), 'State after step 1');
  });
});

test('the explorer shows real time and each node\'s clock, and why a safety property fails', { timeout: 4 * TIMEOUT }, async () => {
  await withExplorer('election/no-fencing', async (page, url) => {
    await page.goto(url);
    await page.locator('#fields tr[data-field="lease store"]').waitFor();
    assert.equal(await text(page, '#clock'), 't=0; clocks: node 0 at 0, node 1 at 0');
    const leadsTo = page.locator('#properties tr[data-property="CrashedLeaderReplaced"]');
    assert.equal(await leadsTo.locator('td.kind').innerText(), 'leads-to');
    assert.equal(await leadsTo.locator('td.here').innerText(), 'premise false, goal false');
    await leadsTo.locator('.mark').waitFor();
    assert.match(await leadsTo.locator('td.verdict').innerText(), /holds ✓ as expected/);

    const stale = page.locator('#properties tr[data-property="StaleTokenWriteRejected"]');
    await stale.locator('button.walk').click();
    await walkingAt(page, 0);
    await page.locator('#walking [data-step="end"]').click();
    await page.locator('#steps li[data-step="9"]').waitFor();
    // At the end of a safety counterexample, the banner says what is false there, and why.
    assert.match(
      await walkingAt(page, 9),
      /step 9 of 9, the last: StaleTokenWriteRejected is false here: storage accepted a write with token 1 after it had accepted token 2/,
    );
    assert.equal(await page.locator('#actions a.next').count(), 0);
    // The last step of Kleppmann's scenario, and the property false in its state.
    assert.match(await text(page, '#steps li[data-step="9"]'), /node 0's write with token 1 reaches storage: storage accepts it although it already accepted token 2/);
    assert.match(await text(page, '#steps li[data-step="9"]'), /storage: accepted writes with token 2 → accepted writes with tokens 2, 1/);
    await page.locator('#properties tr.false-here[data-property="StaleTokenWriteRejected"]').waitFor();
    assert.match(await stale.locator('td.here').innerText(), /^false\n/);
    assert.match(await text(page, '#clock'), /^t=\d+; clocks: node 0 at \d+, node 1 at \d+$/);
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: path.join(shots, 'explorer-election.png'), fullPage: true });
  });
});

test('bounds changed with --set are shown as such, and the page fits a 700 px window', { timeout: 4 * TIMEOUT }, async () => {
  await withExplorer(['queue/no-dead-letter', '--set', 'consumers=3'], async (page, url) => {
    await page.goto(url);
    await page.locator('#bounds tr[data-bound="consumers"]').waitFor();
    // As the terminal names it: `queue/no-dead-letter (consumers=3)`.
    assert.equal(await page.title(), 'coordlab explore queue/no-dead-letter (consumers=3)');
    assert.equal(await text(page, 'h1'), 'coordlab explore queue/no-dead-letter(consumers=3)');
    assert.equal(await text(page, '#overrides'), '(consumers=3)');
    const changed = page.locator('#bounds tr.overridden');
    assert.equal(await changed.count(), 1);
    assert.equal(await changed.getAttribute('data-bound'), 'consumers');
    assert.equal(await changed.innerText(), 'consumers\t3--set\tconsumers receiving from the queue');
    assert.match(await text(page, '#bounds-note'), /were changed on the command line; the others are the manifest's\./);
    // The state counts are not compared with pins made for other bounds, and it says so.
    await page.locator('#run-status.ok').waitFor();
    const status = await text(page, '#run-status');
    assert.match(
      status,
      /^Checked queue\/no-dead-letter \(consumers=3\) with bfs and fair-cycles in .* s on \d+ threads?: [\d,]+ states, liveness graph [\d,]+ states\. The bounds were changed with --set, so the state counts are not compared with the manifest's pins, which count the states at its own bounds\. Every verdict is what the manifest expects\.$/,
    );
    assert.doesNotMatch(status, /pinned|pins \d/);

    // Narrow windows: the lasso's end, the longest page, without sideways scrolling.
    const live = page.locator('#properties tr[data-property="EveryMessageResolved"]');
    await live.locator('button.walk').click();
    await walkingAt(page, 0);
    await page.locator('#walking [data-step="end"]').click();
    await page.locator('#steps li.lasso').waitFor();
    for (const width of [1100, 900, 700, 600]) await assertFits(page, width);
    await page.setViewportSize({ width: 700, height: 900 });
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: path.join(shots, 'explorer-700px.png'), fullPage: true });
  });
});

test('a state count that differs from its pin is reported in the same number format', { timeout: 4 * TIMEOUT }, async () => {
  // A copy of the manifests whose election/no-fencing pin is one state off.
  const manifests = mkdtempSync(path.join(tmpdir(), 'coordlab-manifests-'));
  try {
    const dir = path.join(root, 'checks/manifests');
    for (const name of readdirSync(dir)) {
      let body = readFileSync(path.join(dir, name), 'utf8');
      if (name === 'election.toml') {
        const pin = /variant = "no-fencing"\n[^[]*?unique-states = (\d+)\n/;
        const m = body.match(pin);
        assert.ok(m, 'election.toml pins no-fencing: update this test');
        const wrong = Number(m[1]) + 1;
        body = body.replace(m[0], m[0].replace(`unique-states = ${m[1]}`, `unique-states = ${wrong}`));
      }
      writeFileSync(path.join(manifests, name), body);
    }
    await withExplorer(['election/no-fencing', '--manifests', manifests], async (page, url) => {
      await page.goto(url);
      await page.locator('#run-status.bad').waitFor();
      const status = await text(page, '#run-status');
      assert.match(
        status,
        /: (\d{1,3}(,\d{3})+) states \(the manifest pins (\d{1,3}(,\d{3})+)\), liveness graph \d{1,3}(,\d{3})+ states \(as pinned\)\. The state counts differ from the manifest's pins: the model's state space changed \(update the manifest if that was intended\)\. Not everything is what the manifest expects\.$/,
      );
      // One format: no number of four digits or more without its thousands separators.
      assert.doesNotMatch(status, /\d{4}/);
    });
  } finally {
    rmSync(manifests, { recursive: true, force: true });
  }
});
