// coordlab explore: the page. It reads three things from the server (see
// checks/src/explorer.rs): /api/check once, /api/verdicts until the background check is
// done, and /api/state/<path> for the state named by the address's fragment (#/0/3/1:
// initial state 0, then enabled actions 3 and 1), so back, forward and links work.
'use strict';

const page = {
  check: null, // /api/check
  run: null, // /api/verdicts
  view: null, // /api/state/…
  walking: null, // the counterexample being walked: a verdict's `counterexample` plus `property`
  seq: 0, // the latest state request; older answers are dropped
};

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function code(text) {
  return el('code', {}, text);
}

function fill(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
}

const number = (n) => n.toLocaleString('en');

function hashOf(path) {
  return '#/' + path.join('/');
}

// The path in the fragment, or null if there is none yet.
function currentPath() {
  const h = decodeURIComponent(location.hash.replace(/^#/, ''));
  return h.startsWith('/') && h.length > 1 ? h : null;
}

async function getJSON(url) {
  const response = await fetch(url, { cache: 'no-store' });
  let body = null;
  try {
    body = await response.json();
  } catch (e) {
    throw new Error(`${url}: HTTP ${response.status}, not JSON`);
  }
  if (!response.ok) {
    const error = new Error(body && body.error ? body.error : `HTTP ${response.status}`);
    // For a path that names no state: the longest prefix of it that does.
    error.validPrefix = body && body.valid_prefix ? body.valid_prefix : null;
    throw error;
  }
  return body;
}

// "t=3" or "t=3; clocks: node 0 at 3, node 1 at 2", as in the traces.
// The time after a step ('' for a model without time, whose `time` is null).
function clock(time, local) {
  if (time === null || time === undefined) return '';
  return local ? `t=${time}; ${local}` : `t=${time}`;
}

// The time after a step in parentheses, or nothing for a model without time.
function clockNote(time, local) {
  const c = clock(time, local);
  return c ? `(${c})` : '';
}

function changeList(changes, extra) {
  const items = changes.map((c) =>
    el('li', {}, el('span', { class: 'field' }, c.name), ': ', c.before, ' → ', el('strong', {}, c.after)),
  );
  if (extra) items.push(el('li', {}, extra));
  return items.length ? el('ul', { class: 'changes' }, items) : null;
}

// ---- the check: header, configuration, properties -------------------------------------

// "consumers=4 messages=3": the bounds changed with --set, as the terminal prints them.
function overridesLine(c) {
  return c.overrides.map((o) => `${o.name}=${o.value}`).join(' ');
}

// The check as the terminal names it: `queue/correct (consumers=4)` when bounds were changed.
function checkName(c) {
  const set = overridesLine(c);
  return set ? `${c.check} (${set})` : c.check;
}

function renderHeader() {
  const c = page.check;
  const set = overridesLine(c);
  document.title = `coordlab explore ${checkName(c)}`;
  fill(document.getElementById('check-id'), c.check);
  const overrides = document.getElementById('overrides');
  overrides.hidden = !set;
  fill(overrides, set ? `(${set})` : null);
  overrides.title = set ? "bounds changed with --set: not the manifest's" : '';
  fill(
    document.getElementById('summary'),
    'Variant ', code(c.variant), ' of ', code(c.protocol), ': ', c.summary, '.',
  );
  fill(
    document.querySelector('#bounds tbody'),
    c.bounds.map((b) =>
      el(
        'tr',
        { class: b.overridden ? 'overridden' : null, 'data-bound': b.name },
        el('td', { class: 'bound' }, b.name),
        el(
          'td',
          { class: 'value' },
          b.value,
          b.overridden ? el('span', { class: 'set', title: 'changed on the command line' }, '--set') : null,
        ),
        el('td', { class: 'meaning' }, b.meaning || ''),
      ),
    ),
  );
  const note = document.getElementById('bounds-note');
  note.hidden = !set;
  fill(
    note,
    set ? ['Bounds marked ', el('span', { class: 'set' }, '--set'), " were changed on the command line; the others are the manifest's."] : null,
  );
}

function verdictOf(name) {
  if (!page.run || page.run.status !== 'done') return null;
  return page.run.verdicts.find((v) => v.property === name) || null;
}

function hereText(kind, here) {
  if (!here) return '';
  switch (kind) {
    case 'always':
      return here.holds_here ? 'true' : 'false';
    case 'sometimes':
      return here.holds_here ? 'true: an example' : 'false';
    case 'eventually':
    case 'always-eventually':
    case 'eventually-always':
      return here.holds_here ? 'goal true' : 'goal false';
    case 'leads-to':
      return `premise ${here.premise_here ? 'true' : 'false'}, goal ${here.holds_here ? 'true' : 'false'}`;
    default:
      return here.holds_here ? 'true' : 'false';
  }
}

function verdictCell(p) {
  if (!page.run) return el('td', { class: 'verdict', 'data-label': 'verdict' }, '…');
  if (page.run.status === 'failed') return el('td', { class: 'verdict', 'data-label': 'verdict' }, '—');
  const v = verdictOf(p.name);
  if (!v) return el('td', { class: 'verdict pending', 'data-label': 'verdict' }, 'checking…');
  const mark = v.matches
    ? el('span', { class: 'mark ok', title: 'as the manifest expects' }, '✓ as expected')
    : el('span', { class: 'mark bad', title: 'not what the manifest expects' }, `✗ expected ${v.expected}`);
  const cex = v.counterexample;
  let walk = null;
  if (cex) {
    const what = cex.cycle_start === null ? 'counterexample' : 'lasso';
    walk = el(
      'button',
      {
        class: 'walk',
        'data-walk': p.name,
        title: `take the ${cex.steps} steps of ${cex.file} in the explorer`,
        onclick: () => {
          // The walk starts where the counterexample does, with its first action marked.
          page.walking = Object.assign({ property: p.name }, cex);
          const target = hashOf(cex.path.slice(0, 1));
          if (location.hash === target) renderAll();
          else location.hash = target;
        },
      },
      `walk the ${what} (${cex.steps} steps)`,
    );
  }
  return el(
    'td',
    { class: 'verdict', 'data-label': 'verdict' },
    el('span', { class: `word ${v.verdict}` }, v.verdict),
    ' ',
    mark,
    walk ? el('div', {}, walk) : null,
  );
}

function renderProperties() {
  const c = page.check;
  if (!c) return;
  const here = page.view ? page.view.properties : [];
  fill(
    document.querySelector('#properties tbody'),
    c.properties.map((p) => {
      const h = here.find((x) => x.name === p.name);
      const falseHere = h && p.kind === 'always' && !h.holds_here;
      return el(
        'tr',
        { 'data-property': p.name, class: falseHere ? 'false-here' : null },
        el('td', { class: 'name' }, code(p.name), el('div', { class: 'doc' }, p.doc)),
        el('td', { class: 'kind', 'data-label': 'kind' }, p.kind),
        el('td', { class: 'expected', 'data-label': 'expected' }, p.expected),
        verdictCell(p),
        el(
          'td',
          // No state on screen (a bad link): no label either, in the narrow layout.
          { class: 'here' + (h && h.holds_here ? ' yes' : ' no'), 'data-label': h ? 'in this state' : null },
          hereText(p.kind, h),
          h && h.why ? el('div', { class: 'why' }, h.why) : null,
        ),
      );
    }),
  );
}

function renderRunStatus() {
  const node = document.getElementById('run-status');
  const r = page.run;
  const c = page.check;
  if (!r || !c) return;
  const checkers = c.liveness ? `${c.checker} and ${c.liveness}` : c.checker;
  if (r.status === 'running') {
    const phase = r.phase === 'safety' ? 'safety and reachability search' : 'liveness graph';
    node.className = 'run-status running';
    fill(
      node,
      `Checking ${checkName(c)} with ${checkers} in the background — ${phase}: `,
      `${number(r.states)} states, depth ${number(r.depth)}…`,
    );
    return;
  }
  if (r.status === 'failed') {
    node.className = 'run-status bad';
    fill(node, r.error);
    return;
  }
  // Every number in one format (6,761), the pins included.
  const pin = (got, want) =>
    want === null || want === undefined ? '' : want === got ? ' (as pinned)' : ` (the manifest pins ${number(want)})`;
  const parts = [
    `Checked ${checkName(c)} with ${checkers} in ${r.seconds < 0.01 ? 'under 0.01' : r.seconds.toFixed(2)} s on ${r.threads} ${r.threads === 1 ? 'thread' : 'threads'}: `,
    `${number(r.unique_states)} states${pin(r.unique_states, r.expected_unique_states)}`,
  ];
  if (r.liveness_states !== null) {
    parts.push(`, liveness graph ${number(r.liveness_states)} states${pin(r.liveness_states, r.expected_liveness_states)}`);
  }
  parts.push('. ');
  if (!r.complete) parts.push('The check ran out of budget before it could decide every property. ');
  if (r.overrides.length) {
    parts.push(
      "The bounds were changed with --set, so the state counts are not compared with the manifest's pins, which count the states at its own bounds. ",
    );
  } else if (r.drift.length) {
    // `drift` says the same in words, with the numbers unformatted: said here instead.
    parts.push("The state counts differ from the manifest's pins: the model's state space changed (update the manifest if that was intended). ");
  }
  parts.push(r.passed ? 'Every verdict is what the manifest expects.' : 'Not everything is what the manifest expects.');
  node.className = 'run-status ' + (r.passed ? 'ok' : 'bad');
  fill(node, parts);
}

// ---- the walk: path, state, next actions ----------------------------------------------

// Whether `prefix` is a prefix of `path` (arrays of indices).
function isPrefix(prefix, path) {
  return prefix.length <= path.length && prefix.every((x, i) => x === path[i]);
}

// How many indices `a` and `b` share from the start.
function common(a, b) {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

// The address of step `k` of the counterexample being walked (0: its initial state).
function walkStep(k) {
  return hashOf(page.walking.path.slice(0, k + 1));
}

// Where the walk goes from here: `previous`, `next`, `start` or `end`; null if it cannot.
function walkTarget(where) {
  const w = page.walking;
  const v = page.view;
  if (!w || !v || !isPrefix(v.path, w.path)) return null;
  const at = v.path.length - 1;
  switch (where) {
    case 'start':
    case 'previous':
      return at > 0 ? walkStep(where === 'start' ? 0 : at - 1) : null;
    case 'next':
    case 'end':
      return at < w.steps ? walkStep(where === 'end' ? w.steps : at + 1) : null;
    default:
      return null;
  }
}

function renderWalking() {
  const node = document.getElementById('walking');
  const w = page.walking;
  const v = page.view;
  if (!w || !v) {
    node.hidden = true;
    return;
  }
  node.hidden = false;
  const at = v.path.length - 1;
  const stop = el('button', { class: 'small', 'data-step': 'stop', onclick: () => { page.walking = null; renderAll(); } }, 'stop');
  if (!isPrefix(v.path, w.path)) {
    const back = Math.max(common(v.path, w.path) - 1, 0);
    fill(
      node,
      `You left the counterexample of ${w.property}. `,
      el('a', { href: walkStep(back), 'data-step': 'back' }, back === 0 ? 'back to its start' : `back to its step ${back}`),
      ' ',
      stop,
    );
    return;
  }
  const button = (where, label, title) => {
    const target = walkTarget(where);
    return target ? el('a', { class: 'button', href: target, 'data-step': where, title }, label) : null;
  };
  let where;
  if (at === 0) where = ' (the initial state). Step 1 is marked under Next step.';
  else if (at < w.steps) where = `. Step ${at + 1} is marked under Next step.`;
  else if (w.cycle_start === null) {
    const here = v.properties.find((p) => p.name === w.property);
    where = here && here.why ? `, the last: ${w.property} is false here: ${here.why}` : `, the last: ${w.property} is false here.`;
  } else if (w.cycle_start === w.steps) {
    where = `, the last. After step ${w.steps} the system stays in the same state forever: no fairly scheduled action is enabled there.`;
  } else {
    where = `, the last. After step ${w.steps} the system is back in the state it had after step ${w.cycle_start}: steps ${w.cycle_start + 1}–${w.steps} repeat forever.`;
  }
  fill(
    node,
    el('strong', {}, `Counterexample of ${w.property}`),
    `: step ${at} of ${w.steps}`,
    where,
    el(
      'span',
      { class: 'walk-buttons' },
      button('start', '◂◂ start', 'its initial state'),
      button('previous', '◂ previous', 'one step back (← key)'),
      button('next', 'next ▸', 'take the marked step (→ key)'),
      button('end', 'end ▸▸', `its last step, ${w.steps}`),
      stop,
    ),
  );
}

function renderSteps() {
  const v = page.view;
  const w = page.walking;
  const onLasso = w && w.cycle_start !== null && w.cycle_start < w.steps && isPrefix(v.path, w.path);
  const last = v.steps.length;
  const items = [];
  const first = v.path.slice(0, 1);
  items.push(
    el(
      'li',
      { value: 0, class: 'step' + (last === 0 ? ' current' : ''), 'data-step': 0 },
      el('a', { href: hashOf(first) }, 'Initial state'),
      ' ',
      el('span', { class: 'clock' }, clockNote(v.time === null ? null : 0, v.initial_local_times)),
      initialChoice(),
    ),
  );
  for (const s of v.steps) {
    if (onLasso && s.number === w.cycle_start + 1) {
      items.push(
        el('li', { class: 'lasso' }, `From step ${s.number} on, steps ${s.number}–${w.steps} repeat forever.`),
      );
    }
    items.push(
      el(
        'li',
        { value: s.number, class: 'step' + (s.number === last ? ' current' : ''), 'data-step': s.number },
        el('a', { href: hashOf(v.path.slice(0, s.number + 1)) }, s.description),
        ' ',
        el('span', { class: 'clock' }, clockNote(s.time, s.local_times)),
        ' ',
        code(s.action),
        changeList(s.changes),
      ),
    );
  }
  fill(document.getElementById('steps'), items);
}

// Links to the other initial states, for a model with more than one.
function initialChoice() {
  const n = page.check ? page.check.initial_states : 1;
  if (n <= 1) return null;
  const links = [];
  for (let i = 0; i < n; i++) {
    links.push(' ', i === page.view.path[0] ? el('strong', {}, String(i)) : el('a', { href: hashOf([i]) }, String(i)));
  }
  return el('span', { class: 'inits' }, ' — initial state', links);
}

function renderState() {
  const v = page.view;
  const n = v.steps.length;
  fill(document.getElementById('state-title'), n === 0 ? 'Initial state' : `State after step ${n}`);
  fill(document.getElementById('clock'), clock(v.time, v.local_times));
  const changed = new Map(n ? v.steps[n - 1].changes.map((c) => [c.name, c.before]) : []);
  fill(
    document.querySelector('#fields tbody'),
    v.fields.map((f) =>
      el(
        'tr',
        { class: changed.has(f.name) ? 'changed' : null, 'data-field': f.name },
        el('th', {}, f.name),
        el('td', {}, f.value, changed.has(f.name) ? el('div', { class: 'was' }, `was: ${changed.get(f.name)}`) : null),
      ),
    ),
  );
}

function renderActions() {
  const v = page.view;
  const w = page.walking;
  const on = w && isPrefix(v.path, w.path);
  // On the counterexample: the step it takes next; at the end of a lasso, the first step of
  // its cycle (this state is the state where the cycle starts, so the indices agree).
  let next = null;
  let badge = `the counterexample's step ${v.path.length}`;
  if (on && v.path.length < w.path.length) next = w.path[v.path.length];
  else if (on && w.cycle_start !== null && w.cycle_start < w.steps) {
    next = w.path[w.cycle_start + 1];
    badge = `the cycle goes on: step ${w.cycle_start + 1} again`;
  }
  const list = document.getElementById('actions');
  if (v.actions.length === 0) {
    fill(list, el('li', { class: 'none' }, 'No action changes this state: the system stays here forever.'));
    return;
  }
  fill(
    list,
    v.actions.map((a) =>
      el(
        'li',
        {},
        el(
          'a',
          {
            class: 'action' + (a.index === next ? ' next' : ''),
            href: hashOf(v.path.concat([a.index])),
            'data-index': a.index,
          },
          a.index === next ? el('span', { class: 'badge' }, badge) : null,
          el('span', { class: 'description' }, a.description),
          ' ',
          code(a.action),
          changeList(a.changes, a.tick ? `time: t=${v.time} → ${v.time + 1}` : null),
        ),
      ),
    ),
  );
}

function renderAll() {
  renderProperties();
  if (!page.view) return;
  renderWalking();
  renderSteps();
  renderState();
  renderActions();
}

// ---- loading --------------------------------------------------------------------------

// Shows why the address names no state, in place of the state (which is gone, so nothing
// stale stays on screen), with links to states that exist; `null` clears it.
function showError(error) {
  const node = document.getElementById('error');
  const stepper = document.getElementById('stepper');
  if (!error) {
    node.hidden = true;
    stepper.hidden = false;
    return;
  }
  page.view = null;
  stepper.hidden = true;
  node.hidden = false;
  const links = [el('a', { href: '#/0', 'data-link': 'initial' }, 'Go to the initial state')];
  const prefix = error.validPrefix;
  if (prefix && prefix.length > 1) {
    links.push(
      ', or ',
      el('a', { href: hashOf(prefix), 'data-link': 'prefix' }, `to the last state this address reaches (after step ${prefix.length - 1})`),
    );
  }
  fill(
    node,
    el('h2', {}, 'No state at this address'),
    el('p', { class: 'message' }, error.message),
    el('p', {}, links, '.'),
  );
  renderProperties();
}

async function loadState() {
  const path = currentPath();
  if (path === null) {
    location.replace('#/0');
    return;
  }
  const seq = ++page.seq;
  try {
    const view = await getJSON('/api/state' + path);
    if (seq !== page.seq) return;
    page.view = view;
    showError(null);
    renderAll();
  } catch (e) {
    if (seq !== page.seq) return;
    showError(e);
  }
}

async function pollVerdicts() {
  try {
    page.run = await getJSON('/api/verdicts');
  } catch (e) {
    page.run = { status: 'failed', error: `cannot read the verdicts: ${e.message}` };
  }
  renderRunStatus();
  renderProperties();
  if (page.run.status === 'running') setTimeout(pollVerdicts, 300);
}

async function start() {
  try {
    page.check = await getJSON('/api/check');
  } catch (e) {
    showError(e);
    return;
  }
  renderHeader();
  renderProperties();
  window.addEventListener('hashchange', loadState);
  // While walking a counterexample: → takes the marked step, ← goes one back.
  document.addEventListener('keydown', (e) => {
    if (e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return;
    const target = walkTarget({ ArrowRight: 'next', ArrowLeft: 'previous' }[e.key]);
    if (!target) return;
    e.preventDefault();
    location.hash = target;
  });
  await Promise.all([loadState(), pollVerdicts()]);
}

start();
