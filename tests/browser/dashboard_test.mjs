// The dashboard in a real browser: Debian's chromium, headless, driven by
// playwright-core. Started by tests/dashboard/browser_test.py, which runs
// the cluster:
//   node dashboard_test.mjs <url> <victim node id> <victim pid> <artifact dir> [docs png]
// Checks: the topology shows 3 nodes, all up; killing the victim (kill -9)
// shows it down within 5 s; no console errors. Saves screenshots.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const [url, victim, victimPid, artifacts, docsShot] = process.argv.slice(2);
if (!url || !victim || !victimPid || !artifacts) {
  console.error('usage: dashboard_test.mjs URL VICTIM_ID VICTIM_PID ARTIFACT_DIR [DOCS_PNG]');
  process.exit(2);
}
fs.mkdirSync(artifacts, { recursive: true });

// Without these flags chromium reaches for the internet (updates, sync,
// field trials) and floods the log with refused connections.
const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'troupe-chromium-'));
const failures = [];
const consoleErrors = [];
let passed = 0;

function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (ok) passed += 1; else failures.push(what);
}

const context = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium', headless: true, args: flags,
  viewport: { width: 1440, height: 1000 },
});
try {
  const page = await context.newPage();
  page.on('console', (msg) => { if (msg.type() === 'error') consoleErrors.push(msg.text()); });
  page.on('pageerror', (err) => consoleErrors.push(String(err)));
  await page.goto(url, { waitUntil: 'load' });

  const cards = page.locator('#topology [data-node-id]');
  await page.waitForFunction(() => document.querySelectorAll('#topology [data-node-id]').length === 3
    && document.querySelectorAll('#topology [data-status="up"]').length === 3,
    null, { timeout: 15000 }).catch(() => {});
  check(await cards.count() === 3, `topology shows 3 nodes (saw ${await cards.count()})`);
  const up = await page.locator('#topology [data-status="up"]').count();
  check(up === 3, `all 3 nodes are up (saw ${up})`);
  // Let the other panels fill: Raft members, trees, two chart points.
  await page.waitForFunction(() => document.querySelectorAll('#raft tbody tr').length >= 3
    && document.querySelectorAll('#tree-rows .row').length > 3, null, { timeout: 15000 })
    .catch(() => {});
  check(await page.locator('#raft tbody tr').count() >= 3, 'the Raft panel lists 3 members');
  // n1 runs every role: the cache and edge panels list it.
  const cacheRow = page.locator('#cache tbody tr[data-node-id="n1"]');
  const edgeRow = page.locator('#edge tbody tr[data-node-id="n1"]');
  const panels = await Promise.all([cacheRow, edgeRow].map((l) =>
    l.waitFor({ timeout: 10000 }).then(() => true, () => false)));
  check(panels[0] && panels[1], `the cache and edge panels list n1 (${panels})`);
  const rows = await page.locator('#tree-rows .row').count();
  check(rows > 3 && rows < 200, `the supervision tree renders a window of rows (${rows})`);
  await page.waitForTimeout(2500);
  await page.screenshot({ path: path.join(artifacts, 'dashboard-3-nodes.png'), fullPage: true });
  if (docsShot) fs.copyFileSync(path.join(artifacts, 'dashboard-3-nodes.png'), docsShot);

  const started = Date.now();
  process.kill(Number(victimPid), 'SIGKILL');
  const down = page.locator(`#topology [data-node-id="${victim}"][data-status="down"]`);
  const shown = await down.waitFor({ timeout: 5000 }).then(() => true, () => false);
  const elapsed = Date.now() - started;
  check(shown, `${victim} shows as down within 5 s of kill -9 (${elapsed} ms)`);
  // The decision journal explains it, on the same page, within the same 5 s.
  const line = page.locator('#journal li', { has: page.locator('span.kind.down') })
    .filter({ hasText: victim });
  const explained = await line.first()
    .waitFor({ timeout: Math.max(0, 5000 - (Date.now() - started)) })
    .then(() => true, () => false);
  const why = explained ? await line.first().innerText() : '';
  check(explained, `the journal shows why ${victim} is down within 5 s of kill -9 ` +
    `(${Date.now() - started} ms): ${why.replace(/\s+/g, ' ')}`);
  await page.screenshot({ path: path.join(artifacts, 'dashboard-node-down.png'), fullPage: true });

  // Scale: a synthetic snapshot of 50 nodes and 10,000 actors, fed to the
  // page's own message handler (its revision is far ahead, so live deltas
  // are ignored from then on). The tree must stay virtualized.
  const scale = await page.evaluate(() => {
    const nodes = {}; const actors = {};
    for (let n = 0; n < 50; n++) {
      const id = `s${String(n).padStart(2, '0')}`;
      nodes[id] = { id, status: n % 7 ? 'up' : 'down', region: `r${n % 3}`, zone: `z${n % 4}`,
        roles: ['cache'], reason: '' };
      const list = actors[id] = {};
      list[`sup/${id}`] = { name: `sup/${id}`, parent: '', type: 'supervisor', status: 'running',
        restarts: 0, mailbox: 0, capacity: 0, dropped: 0, kind: 'permanent' };
      for (let a = 0; a < 199; a++) {
        const name = `worker/${id}/${a}`;
        list[name] = { name, parent: `sup/${id}`, type: 'worker', status: 'running',
          restarts: a % 5, mailbox: a % 13, capacity: 100, dropped: 0, kind: 'permanent' };
      }
    }
    const started = performance.now();
    onMessage({ type: 'snapshot', rev: 1e12, nodes, actors, raft: {}, journal: [], metrics: [] });
    render();
    const ms = performance.now() - started;
    const tree = document.getElementById('tree');
    tree.scrollTop = tree.scrollHeight / 2;
    renderRows();
    return { ms, cards: document.querySelectorAll('#topology [data-node-id]').length,
      rows: document.querySelectorAll('#tree-rows .row').length, total: ui.rows.length };
  });
  check(scale.cards === 50 && scale.total === 10050 && scale.rows < 100,
    `50 nodes and 10,000 actors: ${scale.cards} cards, ${scale.rows} of ${scale.total} ` +
    `tree rows in the DOM, rendered in ${scale.ms.toFixed(0)} ms`);
  check(scale.ms < 1000, 'that render took under a second');
  await page.screenshot({ path: path.join(artifacts, 'dashboard-50-nodes.png') });

  const distinct = [...new Set(consoleErrors)];
  check(consoleErrors.length === 0, `no console errors (${consoleErrors.length}` +
    `${distinct.length ? ': ' + distinct.slice(0, 3).join(' | ').slice(0, 600) : ''})`);
} finally {
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failures.length} failed`);
process.exit(failures.length ? 1 : 0);
