// The troupe dashboard page: one WebSocket to /ws, a snapshot then deltas
// (docs/dashboard.md). Plain JS, no framework, nothing loaded from
// elsewhere. Renders are batched per animation frame; the supervision tree
// is virtualized (only the visible rows exist in the DOM).
'use strict';

const ROW_HEIGHT = 22;
const MAX_JOURNAL_ROWS = 200;
const CHART_SERIES = 8;
const COLORS = ['#3d7bd9', '#1f9d55', '#d98e04', '#b23aab', '#d64545', '#1aa3a3', '#6b5bd6',
                '#7a8a00'];

const state = { rev: 0, nodes: {}, actors: {}, raft: {}, journal: [], metrics: [] };
const ui = { hello: null, authed: false, filter: '', collapsed: new Set(), rows: [],
             dirty: new Set(), frame: 0, resumeAsked: false, retryMs: 500, ws: null };

const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? '').replace(/[&<>"']/g,
  (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

// -- connection ---------------------------------------------------------------

function connect() {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(`${proto}//${location.host}/ws`);
  ui.ws = ws;
  setConn('connecting', 'connecting…');
  ws.onopen = () => { ui.retryMs = 500; setConn('open', 'live'); };
  ws.onmessage = (e) => {
    let msg;
    try { msg = JSON.parse(e.data); } catch (err) { return; }
    onMessage(msg);
  };
  ws.onclose = (e) => {
    setConn('closed', `disconnected (${e.code}${e.reason ? ': ' + e.reason : ''}); retrying`);
    ui.authed = false;
    setTimeout(connect, ui.retryMs);
    ui.retryMs = Math.min(ui.retryMs * 2, 8000);
  };
}

function send(msg) {
  if (ui.ws && ui.ws.readyState === WebSocket.OPEN) ui.ws.send(JSON.stringify(msg));
}

function setConn(stateName, text) {
  const el = $('conn');
  el.dataset.state = stateName;
  el.textContent = text;
}

function onMessage(msg) {
  switch (msg.type) {
    case 'hello': onHello(msg); break;
    case 'snapshot': onSnapshot(msg); break;
    case 'delta': onDelta(msg); break;
    case 'auth':
      ui.authed = !!msg.ok;
      $('auth-state').textContent = msg.message || '';
      markDirty('tree');
      break;
    case 'action': $('footer').textContent = msg.message || ''; break;
    case 'error': $('footer').textContent = 'server: ' + (msg.message || ''); break;
    default: break;
  }
}

function onHello(msg) {
  ui.hello = msg;
  $('auth').hidden = !msg.actions_available;
  $('footer').textContent = `served by ${msg.node}` +
    (msg.actions_available ? '' : ' · read-only (no --dashboard-token)');
}

function onSnapshot(msg) {
  state.rev = msg.rev;
  state.nodes = msg.nodes || {};
  state.actors = msg.actors || {};
  state.raft = msg.raft || {};
  state.journal = msg.journal || [];
  state.metrics = msg.metrics || [];
  ui.resumeAsked = false;
  markDirty('topology', 'tree', 'raft', 'journal', 'charts', 'summary');
}

function onDelta(msg) {
  if (msg.rev <= state.rev) return;
  if (msg.rev !== state.rev + 1) {
    if (!ui.resumeAsked) { ui.resumeAsked = true; send({ type: 'resume', rev: state.rev }); }
    return;
  }
  ui.resumeAsked = false;
  state.rev = msg.rev;
  for (const id of msg.removed_nodes || []) { delete state.nodes[id]; delete state.actors[id]; }
  if (msg.nodes) { Object.assign(state.nodes, msg.nodes); markDirty('topology', 'tree'); }
  if (msg.removed_nodes) markDirty('topology', 'tree');
  if (msg.actors) {
    for (const [node, change] of Object.entries(msg.actors)) {
      const actors = state.actors[node] || (state.actors[node] = {});
      for (const name of change.removed || []) delete actors[name];
      Object.assign(actors, change.set || {});
    }
    markDirty('tree');
  }
  if (msg.raft) { state.raft = msg.raft; markDirty('raft', 'topology'); }
  if (msg.journal) {
    state.journal = state.journal.concat(msg.journal).slice(-500);
    markDirty('journal');
  }
  if (msg.metrics) {
    state.metrics.push(msg.metrics);
    if (state.metrics.length > 120) state.metrics.shift();
    markDirty('charts');
  }
  markDirty('summary');
}

// -- rendering ------------------------------------------------------------------

function markDirty(...sections) {
  for (const s of sections) ui.dirty.add(s);
  if (!ui.frame) ui.frame = requestAnimationFrame(render);
}

function render() {
  ui.frame = 0;
  const d = ui.dirty;
  ui.dirty = new Set();
  if (d.has('topology')) renderTopology();
  if (d.has('tree')) { buildRows(); renderRows(); }
  if (d.has('raft')) renderRaft();
  if (d.has('journal')) renderJournal();
  if (d.has('charts')) renderCharts();
  if (d.has('summary')) renderSummary();
}

function renderSummary() {
  const nodes = Object.values(state.nodes);
  const up = nodes.filter((n) => n.status === 'up').length;
  const leader = state.raft.leader ? ` · raft leader ${state.raft.leader}` : '';
  $('summary').textContent = `${up}/${nodes.length} nodes up${leader} · rev ${state.rev}`;
}

function groupBy(items, key) {
  const groups = new Map();
  for (const it of items) {
    const k = key(it);
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push(it);
  }
  return [...groups.entries()].sort((a, b) => a[0].localeCompare(b[0]));
}

function nodeCard(n) {
  const leader = state.raft.leader === n.id;
  const why = n.status !== 'up' && n.reason ? `<div class="reason" title="${esc(n.reason)}">` +
    `${esc(n.reason)}</div>` : '';
  return `<div class="node" data-node-id="${esc(n.id)}" data-status="${esc(n.status)}">` +
    `<span class="status">${esc(n.status)}</span><div class="id">${esc(n.id)}</div>` +
    `<div class="roles" title="${esc((n.roles || []).join(', '))}">` +
    `${esc((n.roles || []).join(', '))}</div>` +
    (leader ? '<div class="leader">★ raft leader</div>' : '') + why + '</div>';
}

function renderTopology() {
  const nodes = Object.values(state.nodes).sort((a, b) => a.id.localeCompare(b.id));
  $('topology-count').textContent = `${nodes.length} nodes`;
  const html = groupBy(nodes, (n) => n.region || '').map(([region, inRegion]) => {
    const zones = groupBy(inRegion, (n) => n.zone || '').map(([zone, inZone]) =>
      `<div class="zone"><div class="label">${zone ? 'zone ' + esc(zone) : 'no zone'}</div>` +
      `<div class="nodes">${inZone.map(nodeCard).join('')}</div></div>`).join('');
    return `<div class="region"><div class="label">${region ? 'region ' + esc(region)
      : 'no region'}</div>${zones}</div>`;
  }).join('');
  $('topology').innerHTML = html || '<em>no members yet</em>';
}

// The tree as rows: a group row per node, then its actors depth first.
function buildRows() {
  const rows = [];
  const filter = ui.filter.toLowerCase();
  let total = 0;
  for (const id of Object.keys(state.nodes).sort()) {
    const actors = state.actors[id] || {};
    const list = Object.values(actors);
    total += list.length;
    const key = 'node:' + id;
    rows.push({ group: true, id, key, count: list.length, status: state.nodes[id].status });
    if (ui.collapsed.has(key)) continue;
    if (filter) {
      for (const a of list.sort((x, y) => x.name.localeCompare(y.name))) {
        if ((a.name + ' ' + a.type + ' ' + a.status).toLowerCase().includes(filter)) {
          rows.push({ actor: a, depth: 1, hasChildren: false });
        }
      }
      continue;
    }
    const children = new Map();
    for (const a of list) {
      if (!children.has(a.parent)) children.set(a.parent, []);
      children.get(a.parent).push(a);
    }
    for (const c of children.values()) c.sort((x, y) => x.name.localeCompare(y.name));
    const visit = (a, depth) => {
      const kids = children.get(a.name) || [];
      rows.push({ actor: a, depth, hasChildren: kids.length > 0 });
      if (ui.collapsed.has(a.name)) return;
      for (const k of kids) visit(k, depth + 1);
    };
    for (const root of children.get('') || []) visit(root, 1);
  }
  ui.rows = rows;
  $('actors-count').textContent = `${total} actors on ${Object.keys(state.nodes).length} nodes`;
  $('tree-spacer').style.height = `${rows.length * ROW_HEIGHT}px`;
}

function rowHtml(r) {
  if (r.group) {
    const sign = ui.collapsed.has(r.key) ? '▸' : '▾';
    return `<div class="row group" data-key="${esc(r.key)}"><span><span class="toggle">` +
      `${sign}</span>${esc(r.id)}</span><span>node</span><span>${esc(r.status)}</span>` +
      `<span>${r.count} actors</span><span></span><span></span><span></span></div>`;
  }
  const a = r.actor;
  const sign = r.hasChildren ? (ui.collapsed.has(a.name) ? '▸' : '▾') : '';
  // A transient or temporary child that finished is "stopped" and fine.
  const bad = a.status === 'restarting' || a.status === 'escalated'
    || (a.status === 'stopped' && a.kind === 'permanent') ? ' bad' : '';
  const busy = a.capacity && a.mailbox > a.capacity / 2 ? ' busy' : '';
  const mailbox = a.capacity ? `${a.mailbox}/${a.capacity}` : '';
  const kill = ui.authed && a.type !== 'supervisor'
    ? `<button data-kill="${esc(a.name)}" type="button">kill</button>` : '';
  return `<div class="row${bad}${busy}" data-key="${esc(a.name)}" title="${esc(a.last_exit)}">` +
    `<span style="padding-left:${r.depth * 14}px"><span class="toggle">${sign}</span>` +
    `${esc(a.name)}</span><span>${esc(a.type)}</span><span class="st">${esc(a.status)}</span>` +
    `<span>${a.restarts}</span><span class="mb">${mailbox}</span><span>${a.dropped || 0}</span>` +
    `<span>${kill}</span></div>`;
}

function renderRows() {
  const tree = $('tree');
  const first = Math.max(0, Math.floor(tree.scrollTop / ROW_HEIGHT) - 5);
  const count = Math.ceil(tree.clientHeight / ROW_HEIGHT) + 10;
  const slice = ui.rows.slice(first, first + count);
  const rows = $('tree-rows');
  rows.style.transform = `translateY(${first * ROW_HEIGHT}px)`;
  rows.innerHTML = slice.map(rowHtml).join('');
}

function renderRaft() {
  const r = state.raft;
  const members = r.members || [];
  $('raft-summary').textContent = members.length
    ? `term ${r.term ?? '?'} · leader ${r.leader || 'none'}` : 'no consensus members';
  $('raft').querySelector('tbody').innerHTML = members.map((m) => {
    if (!m.role) {
      return `<tr><td>${esc(m.node_id)}</td><td class="error" colspan="6">` +
        `${esc(m.error || 'no answer')}</td></tr>`;
    }
    const cls = m.role === 'leader' ? ' class="leader"' : '';
    return `<tr${cls}><td>${esc(m.node_id)}</td><td>${esc(m.role)}${m.voter === false
      ? ' (learner)' : ''}</td><td>${m.term}</td><td>${m.commit}</td><td>${m.applied}</td>` +
      `<td>${m.match ?? '–'}</td><td>${m.last_index}</td></tr>`;
  }).join('');
}

function clock(ms) {
  const d = new Date(ms);
  return d.toLocaleTimeString([], { hour12: false });
}

function renderJournal() {
  const entries = state.journal.slice(-MAX_JOURNAL_ROWS).reverse();
  $('journal-count').textContent = entries.length ? `${state.journal.length} entries` : '';
  $('journal').innerHTML = entries.length ? entries.map((e) =>
    `<li data-seq="${e.seq}"><time>${esc(clock(e.time_ms))}</time>` +
    `<span class="kind ${esc(e.kind)}">${esc(e.kind)}</span>${esc(e.node)}` +
    `${e.subject ? ' · ' + esc(e.subject) : ''} — ${esc(e.reason)}` +
    `${e.by ? ` <small>(by ${esc(e.by)})</small>` : ''}</li>`).join('')
    : '<li class="empty">no journal entries yet (the decision journal lives under ' +
      '/troupe/sys/journal/ in the consensus KV)</li>';
}

// -- charts ---------------------------------------------------------------------

function series(field) {
  const byNode = new Map();
  state.metrics.forEach((p, i) => {
    for (const [id, v] of Object.entries(p.nodes || {})) {
      if (v[field] == null) continue;
      if (!byNode.has(id)) byNode.set(id, []);
      byNode.get(id).push([p.t, v[field], i]);
    }
  });
  // The busiest nodes get lines; the rest are summed into one.
  const latest = (pts) => pts[pts.length - 1][1];
  const sorted = [...byNode.entries()].sort((a, b) => latest(b[1]) - latest(a[1]));
  return { shown: sorted.slice(0, CHART_SERIES), hidden: sorted.length - CHART_SERIES };
}

function drawChart(canvasId, legendId, field, unit) {
  const canvas = $(canvasId);
  const ratio = window.devicePixelRatio || 1;
  const w = canvas.clientWidth;
  const h = canvas.clientHeight || 160;
  canvas.width = Math.max(1, Math.round(w * ratio));
  canvas.height = Math.round(h * ratio);
  const ctx = canvas.getContext('2d');
  ctx.scale(ratio, ratio);
  ctx.clearRect(0, 0, w, h);
  const { shown, hidden } = series(field);
  const points = state.metrics;
  if (!points.length || !shown.length) {
    ctx.fillStyle = '#687083';
    ctx.fillText('waiting for data…', 10, 20);
    $(legendId).textContent = '';
    return;
  }
  const t0 = points[0].t;
  const t1 = Math.max(points[points.length - 1].t, t0 + 1);
  let max = 0;
  for (const [, pts] of shown) for (const p of pts) max = Math.max(max, p[1]);
  max = max > 0 ? max * 1.15 : 1;
  const pad = 28;
  ctx.strokeStyle = '#e2e5ea';
  ctx.fillStyle = '#687083';
  ctx.font = '10px system-ui, sans-serif';
  for (let i = 0; i <= 2; i++) {
    const y = 6 + (h - 20) * (i / 2);
    ctx.beginPath(); ctx.moveTo(pad, y); ctx.lineTo(w, y); ctx.stroke();
    ctx.fillText(fmt(max * (1 - i / 2)), 0, y + 3);
  }
  shown.forEach(([id, pts], k) => {
    ctx.strokeStyle = COLORS[k % COLORS.length];
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    pts.forEach(([t, v], j) => {
      const x = pad + (w - pad) * ((t - t0) / (t1 - t0));
      const y = 6 + (h - 20) * (1 - v / max);
      if (j === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    });
    ctx.stroke();
  });
  $(legendId).innerHTML = shown.map(([id, pts], k) =>
    `<span><i style="background:${COLORS[k % COLORS.length]}"></i>${esc(id)} ` +
    `${fmt(pts[pts.length - 1][1])}${unit}</span>`).join('') +
    (hidden > 0 ? `<span>+${hidden} more nodes</span>` : '');
}

function fmt(v) {
  if (v >= 1000) return (v / 1000).toFixed(1) + 'k';
  if (v >= 10) return v.toFixed(0);
  return v.toFixed(1);
}

function renderCharts() {
  drawChart('chart-rate', 'legend-rate', 'msgs_per_s', '/s');
  drawChart('chart-rtt', 'legend-rtt', 'rtt_ms', ' ms');
  renderRoles();
}

// -- role panels: the latest metrics point, rates from the one before ----------

function bytes(v) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return `${i ? v.toFixed(1) : v} ${units[i]}`;
}

function ratio(v) {
  return v == null ? '–' : `${(v * 100).toFixed(1)}%`;
}

// Per second between the last two points that both have `role`.`field`.
function rate(node, role, field) {
  const pts = state.metrics.filter((p) => p.nodes?.[node]?.[role]?.[field] != null);
  if (pts.length < 2) return null;
  const [a, b] = pts.slice(-2);
  const dt = (b.t - a.t) / 1000;
  const dv = b.nodes[node][role][field] - a.nodes[node][role][field];
  return dt > 0 && dv >= 0 ? dv / dt : null;
}

function roleRows(role) {
  const last = state.metrics[state.metrics.length - 1];
  const nodes = last?.nodes || {};
  return Object.keys(nodes).sort().filter((id) => nodes[id][role])
    .map((id) => [id, nodes[id][role], nodes[id]]);
}

function renderRoles() {
  const cache = roleRows('cache');
  $('cache-summary').textContent = cache.length
    ? `${cache.length} node${cache.length === 1 ? '' : 's'}` : 'no cache nodes';
  $('cache').querySelector('tbody').innerHTML = cache.map(([id, c]) => {
    const ops = rate(id, 'cache', 'commands');
    return `<tr data-node-id="${esc(id)}"><td title="${esc(c.address)}">${esc(id)}</td>` +
      `<td>${ops == null ? '–' : fmt(ops)}</td><td>${ratio(c.hit_ratio)}</td>` +
      `<td>${c.keys}</td><td>${bytes(c.memory)} / ${bytes(c.max_memory)}</td>` +
      `<td>${c.evicted}</td><td>${c.clients}</td></tr>`;
  }).join('');
  const edge = roleRows('edge');
  $('edge-summary').textContent = edge.length
    ? `${edge.length} node${edge.length === 1 ? '' : 's'}` : 'no edge nodes';
  $('edge').querySelector('tbody').innerHTML = edge.map(([id, e, all]) => {
    const rps = rate(id, 'edge', 'requests');
    const origins = all.origins || [];
    const healthy = origins.filter((o) => o.healthy).length;
    const cls = origins.length && healthy < origins.length ? ' class="error"' : '';
    return `<tr data-node-id="${esc(id)}"><td title="${esc(e.address)}">${esc(id)}</td>` +
      `<td>${rps == null ? '–' : fmt(rps)}</td><td>${ratio(e.requests ? e.hit_ratio : null)}</td>` +
      `<td>${e.objects} (${bytes(e.bytes)})</td>` +
      `<td${cls} title="${esc(origins.map((o) => `${o.address} ${o.breaker}`).join(', '))}">` +
      `${origins.length ? `${healthy}/${origins.length} healthy` : 'none'}</td>` +
      `<td>${e.origin_errors}</td></tr>`;
  }).join('');
}

// -- interaction ----------------------------------------------------------------

function setup() {
  $('tree').addEventListener('scroll', () => { if (!ui.frame) ui.frame = requestAnimationFrame(() => {
    ui.frame = 0; renderRows(); }); });
  $('tree-rows').addEventListener('click', (e) => {
    const kill = e.target.closest('[data-kill]');
    if (kill) {
      const name = kill.dataset.kill;
      if (window.confirm(`Kill ${name}? Its supervisor restarts it.`)) send({ type: 'kill', actor: name });
      return;
    }
    const row = e.target.closest('.row');
    if (!row) return;
    const key = row.dataset.key;
    if (ui.collapsed.has(key)) ui.collapsed.delete(key); else ui.collapsed.add(key);
    markDirty('tree');
  });
  $('filter').addEventListener('input', (e) => { ui.filter = e.target.value; markDirty('tree'); });
  $('expand-all').addEventListener('click', () => { ui.collapsed.clear(); markDirty('tree'); });
  $('collapse-all').addEventListener('click', () => {
    for (const id of Object.keys(state.nodes)) ui.collapsed.add('node:' + id);
    markDirty('tree');
  });
  $('auth').addEventListener('submit', (e) => {
    e.preventDefault();
    send({ type: 'auth', token: $('token').value });
    $('token').value = '';
  });
  window.addEventListener('resize', () => markDirty('charts', 'tree'));
  connect();
}

document.addEventListener('DOMContentLoaded', setup);
