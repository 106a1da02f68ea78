/*
 * Cascade console (served by discovery at `/`; docs/console.md). Plain browser JavaScript, no build
 * step: the page's Content-Security-Policy allows scripts from this origin only, so there is no
 * inline script or event handler anywhere, and no inline style (styles are set through the CSSOM).
 *
 * Data: `GET /v1/cluster` every 2 s (tables, totals and a client-side history of 450 points = 15
 * minutes for the charts) and the Server-Sent Events of `GET /v1/events` (event log; each event
 * also triggers an early refresh). Actions (`POST /v1/admin/...`) carry the admin token from
 * sessionStorage in an Authorization header.
 */
'use strict';

(function main() {
  const POLL_MS = 2000;
  const HISTORY_POINTS = 450;
  const MAX_EVENTS = 200;
  const TOKEN_KEY = 'cascade.adminToken';
  const EVENT_TYPES = ['stream.claimed', 'stream.released', 'stream.moved', 'origin.up', 'origin.draining', 'origin.down', 'edge.up', 'edge.down'];

  const $ = (id) => document.getElementById(id);

  /** What the tests (and a curious operator in devtools) can read. */
  const exposed = { polls: 0, failures: 0, playing: null, source: null, errors: [], charts: 0 };
  window.consoleState = exposed;

  let cluster = null;
  let lastOkAt = 0;
  let player = null;

  // ---- small DOM helpers -----------------------------------------------------------------------

  /** `el('td', { class: 'num', 'data-label': 'in' }, 'text' | Node | [..])` */
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      node.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of [].concat(children === undefined ? [] : children)) {
      if (c === null || c === undefined) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function setText(node, text) {
    const s = String(text);
    if (node.textContent !== s) node.textContent = s;
  }

  /** Replaces a node's children only when what they would show changed (keeps hover and focus). */
  function setChildren(node, key, children) {
    if (node.dataset.render === key) return;
    node.dataset.render = key;
    node.replaceChildren(...children);
  }

  function setClass(node, cls) {
    if (node.className !== cls) node.className = cls;
  }

  /**
   * Keyed rows: existing `<tr>`s are updated in place and only moved when the order changed, so a
   * focused button keeps its focus across the 2-second refreshes.
   */
  function syncRows(tbody, items, keyOf, create, update) {
    const existing = new Map();
    for (const tr of Array.from(tbody.children)) existing.set(tr.dataset.key, tr);
    items.forEach((item, i) => {
      const key = keyOf(item);
      let tr = existing.get(key);
      if (tr) existing.delete(key);
      else {
        tr = create(item);
        tr.dataset.key = key;
      }
      update(tr, item);
      if (tbody.children[i] !== tr) tbody.insertBefore(tr, tbody.children[i] || null);
    });
    for (const tr of existing.values()) tr.remove();
  }

  /** A `<td>` with the column label used by the narrow (card) layout. */
  const td = (label, cls) => el('td', { 'data-label': label, class: cls });

  // ---- formatting -------------------------------------------------------------------------------

  function bitrate(bps) {
    if (typeof bps !== 'number' || !Number.isFinite(bps)) return '–';
    if (bps >= 1e6) return (bps / 1e6).toFixed(bps >= 1e8 ? 0 : bps >= 1e7 ? 1 : 2) + ' Mbit/s';
    return Math.round(bps / 1e3) + ' kbit/s';
  }
  /** Mbit/s as a bare figure (the column header says the unit). */
  function mbit(bps) {
    if (typeof bps !== 'number' || !Number.isFinite(bps)) return '–';
    return (bps / 1e6).toFixed(bps >= 1e8 ? 0 : bps >= 1e7 ? 1 : 2);
  }
  const mbps = (bps) => (typeof bps === 'number' && Number.isFinite(bps) ? bps / 1e6 : null);
  const num = (n) => (typeof n === 'number' && Number.isFinite(n) ? String(n) : '–');
  const clock = (ms) => new Date(ms).toLocaleTimeString();

  function ago(ms) {
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) return '–';
    if (ms < 1000) return 'now';
    if (ms < 60_000) return Math.round(ms / 1000) + ' s ago';
    return Math.round(ms / 60_000) + ' min ago';
  }

  function videoText(v) {
    if (!v) return '–';
    const parts = [String(v.codec || '?') + (v.profile ? ' ' + v.profile : '')];
    if (v.width && v.height) parts.push(v.width + '×' + v.height);
    if (typeof v.fps === 'number' && v.fps > 0) parts.push((Math.round(v.fps * 10) / 10) + ' fps');
    return parts.join(' · ');
  }

  function audioText(a) {
    if (!a) return '–';
    const parts = [String(a.codec || '?')];
    if (a.sampleRate) parts.push((a.sampleRate / 1000) + ' kHz');
    if (a.channels) parts.push(a.channels === 1 ? 'mono' : a.channels === 2 ? 'stereo' : a.channels + ' ch');
    return parts.join(' · ');
  }

  // ---- tables -----------------------------------------------------------------------------------

  /** Sum of the streams' ingest rates (measured by their owners' node API), optionally of one origin's. */
  function streamIngress(c, originId) {
    let sum = 0;
    let any = false;
    for (const s of c.streams || []) {
      if (originId !== undefined && (!s.owner || s.owner.id !== originId)) continue;
      const bps = s.media && s.media.ingressBps;
      if (typeof bps === 'number') {
        sum += bps;
        any = true;
      }
    }
    return any ? sum : undefined;
  }

  /** Cluster ingest: the origins' reported figure, or (when they report none) the streams' sum. */
  function ingressOf(c) {
    const t = (c.totals || {}).ingressBps;
    return typeof t === 'number' && t > 0 ? t : (streamIngress(c) ?? t);
  }

  function renderTotals(c) {
    const t = c.totals || {};
    const items = [
      ['origins', num(t.origins)], ['edges', num(t.edges)], ['streams', num(t.streams)], ['publishers', num(t.publishers)],
      ['viewers', num(t.viewers)], ['in', bitrate(ingressOf(c))], ['out', bitrate(t.egressBps)],
    ];
    setChildren($('totals'), JSON.stringify(items), items.map(([k, v]) => el('div', { 'data-total': k }, [el('dt', {}, k), el('dd', {}, v)])));
  }

  function renderOrigins(c) {
    const origins = c.origins || [];
    $('origins-empty').hidden = origins.length > 0;
    setText($('origins-empty'), 'No origin is registered.');
    syncRows($('origins'), origins, (o) => o.id, () => {
      const tr = el('tr');
      const util = el('td', { 'data-label': 'utilisation', class: 'full' }, [el('div', { class: 'util' }, [el('meter', { min: 0, max: 1, low: 0.7, high: 0.85, optimum: 0.3 }), el('span')])]);
      const drain = el('button', { type: 'button', class: 'danger', 'data-action': 'drain' }, 'Drain');
      tr.append(td('origin', 'id full'), td('state', 'state'), util, td('publishers', 'num'), td('viewers', 'num'), td('in Mbit/s', 'num'), td('out Mbit/s', 'num'), el('td', { class: 'actions full' }, el('div', { class: 'buttons' }, drain)));
      return tr;
    }, (tr, o) => {
      const load = o.load || {};
      const status = String(o.status || o.state || 'unknown');
      const cells = tr.children;
      tr.dataset.origin = o.id;
      setText(cells[0], o.id + (o.region ? ' (' + o.region + ')' : ''));
      setText(cells[1], status);
      setClass(cells[1], 'state state-' + status);
      const u = typeof o.utilisation === 'number' ? o.utilisation : 0;
      const meter = cells[2].querySelector('meter');
      meter.value = Math.min(1, u);
      const cap = o.capacity ? ' of capacity ' + o.capacity : '';
      meter.setAttribute('aria-label', 'utilisation ' + Math.round(u * 100) + '%' + cap);
      const pct = cells[2].querySelector('span');
      setText(pct, Math.round(u * 100) + '%');
      setClass(pct, u >= 0.85 ? 'hot' : '');
      setText(cells[3], num(load.publishers));
      setText(cells[4], num(load.viewers));
      setText(cells[5], mbit(typeof load.ingressBps === 'number' ? load.ingressBps : streamIngress(c, o.id)));
      setText(cells[6], mbit(load.egressBps));
      const button = cells[7].querySelector('button');
      button.disabled = status !== 'active';
      button.setAttribute('aria-label', 'Drain ' + o.id);
    });
  }

  function renderEdges(c) {
    const edges = c.edges || [];
    $('edges-empty').hidden = edges.length > 0;
    syncRows($('edges'), edges, (e) => e.id, () => {
      const tr = el('tr');
      tr.append(td('edge', 'id full'), td('state', 'state'), td('viewers', 'num viewers'), td('streams', 'num'), td('out Mbit/s', 'num'), td('region'), td('heartbeat'));
      return tr;
    }, (tr, e) => {
      const load = e.load || {};
      const cells = tr.children;
      tr.dataset.edge = e.id;
      setText(cells[0], e.id);
      setText(cells[1], String(e.state || 'unknown'));
      setClass(cells[1], 'state state-' + String(e.state || 'unknown'));
      setText(cells[2], num(load.viewers));
      setText(cells[3], num(load.streams));
      setText(cells[4], mbit(load.egressBps));
      setText(cells[5], e.region || '–');
      setText(cells[6], ago((c.generatedAt || Date.now()) - e.updatedAt));
    });
  }

  function viewerItems(v) {
    const items = [];
    for (const b of v.byEdge || []) {
      items.push(el('li', { 'data-edge': b.edge }, b.edge + ': RTMP ' + b.rtmp + ' · FLV ' + b.flv + ' · HLS ' + b.hls + ' · ' + bitrate(b.egressBps)));
    }
    if (v.atOrigins) items.push(el('li', { 'data-edge': '' }, 'at origins: ' + v.atOrigins));
    return items;
  }

  function renderStreams(c) {
    const streams = c.streams || [];
    $('streams-empty').hidden = streams.length > 0;
    if (streams.length === 0) setText($('publish-command'), publishCommand(c));
    syncRows($('streams'), streams, (s) => s.app + '/' + s.name, (s) => {
      const tr = el('tr', { 'data-stream': s.app + '/' + s.name });
      const actions = el('td', { class: 'actions' }, el('div', { class: 'buttons' }, [
        el('button', { type: 'button', 'data-kind': 'hls', 'aria-label': 'Play ' + s.app + '/' + s.name + ' over HLS' }, 'HLS'),
        el('button', { type: 'button', 'data-kind': 'flv', 'aria-label': 'Play ' + s.app + '/' + s.name + ' over HTTP-FLV' }, 'FLV'),
        el('button', { type: 'button', class: 'danger', 'data-action': 'shed', 'aria-label': 'Shed ' + s.app + '/' + s.name }, 'Shed'),
      ]));
      const viewers = el('td', { 'data-label': 'viewers', class: 'viewers' }, el('div', {}, [el('span', { class: 'total' }), el('ul', { class: 'byedge' })]));
      tr.append(td('stream', 'stream'), td('owner', 'owner'), td('video', 'video'), td('audio', 'audio'), td('bitrate in', 'bitrate'), viewers, actions);
      return tr;
    }, (tr, s) => {
      const cells = tr.children;
      const since = typeof s.since === 'number' ? ' since ' + clock(s.since) : '';
      setChildren(cells[0], s.app + '/' + s.name + since, [el('div', {}, [s.app + '/' + s.name, el('div', { class: 'muted' }, since.trim())])]);
      setText(cells[1], s.owner ? s.owner.id : 'no owner');
      const media = s.media || {};
      setText(cells[2], videoText(media.video));
      setText(cells[3], audioText(media.audio));
      setText(cells[4], bitrate(media.ingressBps));
      const v = s.viewers || { total: 0, atOrigins: 0, byEdge: [] };
      setText(cells[5].querySelector('.total'), v.total + (v.total === 1 ? ' viewer' : ' viewers'));
      setChildren(cells[5].querySelector('.byedge'), JSON.stringify([v.byEdge, v.atOrigins]), viewerItems(v));
      cells[6].querySelector('[data-action="shed"]').disabled = !s.owner;
    });
  }

  function publishCommand(c) {
    const edge = (c.edges || []).find((e) => e.state === 'active' && e.rtmp);
    const origin = (c.origins || []).find((o) => o.status === 'active');
    const target = edge ? edge.rtmp : origin ? origin.rtmp : 'rtmp://127.0.0.1:1935';
    return 'ffmpeg -re -f lavfi -i testsrc2=size=640x360:rate=30 -f lavfi -i sine=frequency=440 \\\n' +
      '  -c:v libx264 -preset ultrafast -tune zerolatency -g 30 -c:a aac -f flv ' + target + '/live/demo';
  }

  // ---- history and charts (uPlot) -------------------------------------------------------------------

  const history = { t: [], viewers: [], ingress: [], egress: [], util: new Map() };
  const charts = {};
  const CHART_HEIGHT = 150;
  const PALETTE = ['#2f6fc9', '#c94f2f', '#2c8a3a', '#8a3ac9', '#c9a22f', '#2fa8c9', '#c92f86', '#5b6475'];

  function pushHistory(c, okay) {
    if (!okay && history.t.length === 0) return false; // nothing to chart before the first answer
    const t = (okay && c.generatedAt ? c.generatedAt : Date.now()) / 1000;
    const last = history.t[history.t.length - 1];
    if (last !== undefined && t - last < (POLL_MS / 1000) * 0.75) return false; // an early, event-driven refresh
    const totals = okay ? c.totals || {} : {};
    history.t.push(t);
    history.viewers.push(okay ? totals.viewers ?? null : null);
    history.ingress.push(okay ? mbps(ingressOf(c)) : null);
    history.egress.push(okay ? mbps(totals.egressBps) : null);
    let seriesChanged = false;
    const seen = new Set();
    for (const o of okay ? c.origins || [] : []) {
      seen.add(o.id);
      if (!history.util.has(o.id)) {
        history.util.set(o.id, new Array(history.t.length - 1).fill(null));
        seriesChanged = true;
      }
      history.util.get(o.id).push(o.status === 'down' || typeof o.utilisation !== 'number' ? null : Math.round(o.utilisation * 1000) / 10);
    }
    for (const [id, values] of history.util) if (!seen.has(id)) values.push(null);
    if (history.t.length > HISTORY_POINTS) {
      for (const a of [history.t, history.viewers, history.ingress, history.egress, ...history.util.values()]) a.shift();
      for (const [id, values] of history.util) {
        if (values.every((v) => v === null)) {
          history.util.delete(id);
          seriesChanged = true;
        }
      }
    }
    return seriesChanged;
  }

  /** One-line time labels (uPlot's default adds a date line that collides on a phone). */
  function timeLabels(u, splits) {
    const span = u.scales.x.max - u.scales.x.min;
    const fmt = span <= 300 ? { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false } : { hour: '2-digit', minute: '2-digit', hour12: false };
    return splits.map((s) => new Date(s * 1000).toLocaleTimeString([], fmt));
  }

  function axisOpts() {
    const grid = { stroke: '#eceef2', width: 1 };
    return [{ stroke: '#5b6475', grid, ticks: grid, values: timeLabels, space: 70, size: 32 }, { stroke: '#5b6475', grid, ticks: grid, size: 42 }];
  }

  function makeChart(key, series, data, yRange) {
    const node = $(key);
    if (charts[key]) charts[key].destroy();
    node.replaceChildren();
    const opts = {
      width: Math.max(200, node.clientWidth),
      height: CHART_HEIGHT,
      series: [{}, ...series],
      axes: axisOpts(),
      // At least a minute wide, so a fresh page's axis reads in whole seconds and minutes.
      scales: { x: { time: true, range: (_u, min, max) => (Number.isFinite(min) && Number.isFinite(max) ? [Math.min(min, max - 60), max] : [Date.now() / 1000 - 60, Date.now() / 1000]) }, y: { range: yRange } },
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
    };
    charts[key] = new window.uPlot(opts, data, node);
    exposed.charts = Object.keys(charts).length;
  }

  const line = (label, stroke, extra) => Object.assign({ label, stroke, width: 2, spanGaps: false, points: { show: false } }, extra || {});

  function renderCharts(seriesChanged) {
    if (typeof window.uPlot !== 'function' || history.t.length === 0) return;
    const upTo = (floor) => (_u, _min, max) => [0, Math.max(floor, Math.ceil((max || 0) * 1.15))];
    if (!charts['chart-viewers']) makeChart('chart-viewers', [line('viewers', PALETTE[0], { fill: 'rgba(47,111,201,.12)' })], [history.t, history.viewers], upTo(2));
    else charts['chart-viewers'].setData([history.t, history.viewers]);
    if (!charts['chart-bw']) makeChart('chart-bw', [line('ingest', PALETTE[2], { value: (_u, v) => (v === null ? '–' : v.toFixed(2)) }), line('egress', PALETTE[1], { value: (_u, v) => (v === null ? '–' : v.toFixed(2)) })], [history.t, history.ingress, history.egress], upTo(1));
    else charts['chart-bw'].setData([history.t, history.ingress, history.egress]);
    const ids = Array.from(history.util.keys());
    const utilData = [history.t, ...ids.map((id) => history.util.get(id))];
    if (!charts['chart-util'] || seriesChanged) {
      makeChart('chart-util', ids.map((id, i) => line(id, PALETTE[i % PALETTE.length], { value: (_u, v) => (v === null ? '–' : v.toFixed(1) + '%') })), utilData, upTo(100));
    } else charts['chart-util'].setData(utilData);
    const v = history.viewers[history.viewers.length - 1];
    setText($('viewers-now'), v === null || v === undefined ? '' : '— now ' + v);
    const i = history.ingress[history.ingress.length - 1];
    const e = history.egress[history.egress.length - 1];
    setText($('bw-now'), i === null || i === undefined ? '' : '— now ' + i.toFixed(2) + ' in / ' + (e || 0).toFixed(2) + ' out');
  }

  if (typeof ResizeObserver === 'function') {
    const resize = new ResizeObserver((entries) => {
      for (const entry of entries) {
        const chart = charts[entry.target.id];
        const width = Math.max(200, Math.floor(entry.contentRect.width));
        if (chart && chart.width !== width) chart.setSize({ width, height: CHART_HEIGHT });
      }
    });
    for (const id of ['chart-viewers', 'chart-util', 'chart-bw']) resize.observe($(id));
  }

  // ---- polling ------------------------------------------------------------------------------------

  let inFlight = null;
  let again = false;

  /**
   * Reads are anonymous unless discovery runs with `protectReads`: after an anonymous 401, reads
   * carry the token too (a read token is enough), and the event stream is read through fetch
   * (EventSource cannot send an Authorization header).
   */
  let readsNeedToken = false;

  function authHeaders() {
    const token = readToken();
    return token ? { authorization: 'Bearer ' + token } : {};
  }

  async function readCluster() {
    const get = (headers) => fetch('/v1/cluster', { cache: 'no-store', headers, signal: AbortSignal.timeout(5000) });
    if (readsNeedToken) return get(authHeaders());
    const res = await get({});
    if (res.status !== 401 || !readToken()) return res;
    readsNeedToken = true;
    listen();
    return get(authHeaders());
  }

  /** The answer with the shape the renderers rely on (lists are lists, entries are objects). */
  function normalise(c) {
    if (!c || typeof c !== 'object' || Array.isArray(c)) throw new Error('unexpected answer from /v1/cluster');
    const list = (x) => (Array.isArray(x) ? x.filter((e) => e && typeof e === 'object') : []);
    const streams = list(c.streams).map((st) => {
      const v = st.viewers && typeof st.viewers === 'object' ? st.viewers : {};
      const count = (n) => (typeof n === 'number' && Number.isFinite(n) ? n : 0);
      return Object.assign({}, st, { viewers: { total: count(v.total), atOrigins: count(v.atOrigins), byEdge: list(v.byEdge) } });
    });
    return Object.assign({}, c, {
      origins: list(c.origins).filter((o) => typeof o.id === 'string'),
      edges: list(c.edges).filter((e) => typeof e.id === 'string'),
      streams: streams.filter((st) => typeof st.app === 'string' && typeof st.name === 'string'),
      totals: c.totals && typeof c.totals === 'object' ? c.totals : {},
    });
  }

  /** The header pill: the poll decides "unreachable"; otherwise the event stream's state. */
  const link = { pollOk: false, events: 'connecting' };

  function showStatus() {
    const s = $('status');
    const [text, cls] = !link.pollOk && exposed.failures > 0 ? ['unreachable', 'down']
      : link.events === 'open' ? ['live', 'live']
        : link.events === 'closed' ? ['events: retrying', ''] : ['reconnecting…', ''];
    setText(s, exposed.polls === 0 && exposed.failures === 0 ? 'connecting…' : text);
    setClass(s, 'pill ' + cls);
  }

  async function refresh() {
    if (inFlight) {
      again = true;
      return inFlight;
    }
    inFlight = (async () => {
      try {
        const res = await readCluster();
        if (res.status === 401) throw new Error(readToken() ? 'HTTP 401: the token is refused' : 'HTTP 401: this discovery protects reads, enter a token under Actions');
        if (!res.ok) throw new Error('HTTP ' + res.status);
        const c = normalise(await res.json());
        cluster = c;
        lastOkAt = Date.now();
        exposed.polls++;
        link.pollOk = true;
        showStatus();
        $('banner').hidden = true;
        document.body.classList.remove('stale');
        renderTotals(c);
        renderOrigins(c);
        renderEdges(c);
        renderStreams(c);
        renderCharts(pushHistory(c, true));
      } catch (err) {
        exposed.failures++;
        const banner = $('banner');
        banner.hidden = false;
        setText(banner, 'Discovery unreachable (' + (err && err.name === 'TimeoutError' ? 'timeout' : err && err.message ? err.message : 'network error') + '): retrying every ' + POLL_MS / 1000 + ' s' + (lastOkAt ? '; figures below are from ' + clock(lastOkAt) : '') + '.');
        document.body.classList.add('stale');
        link.pollOk = false;
        showStatus();
        renderCharts(pushHistory(null, false));
      }
    })();
    try {
      await inFlight;
    } finally {
      inFlight = null;
    }
    if (again) {
      again = false;
      await refresh();
    }
  }

  function poll() {
    refresh().finally(() => setTimeout(poll, POLL_MS));
  }

  // ---- event log (SSE) ------------------------------------------------------------------------------

  function describe(type, d) {
    const s = d.app !== undefined ? d.app + '/' + d.name : '';
    switch (type) {
      case 'stream.claimed': return ['publish', s + ' on ' + (d.origin ? d.origin.id : '?'), 'good'];
      case 'stream.released': return ['unpublish', s + ' from ' + d.originId + ' (' + d.reason + ')', ''];
      case 'stream.moved': return ['failover', s + ' ' + d.from + ' → ' + (d.origin ? d.origin.id : '?') + ' (' + d.reason + ')', 'bad'];
      case 'origin.up': return ['origin up', d.id, 'good'];
      case 'origin.draining': return ['origin draining', d.id, 'bad'];
      case 'origin.down': return ['origin down', d.id + (d.reason ? ' (' + d.reason + ')' : ''), 'bad'];
      case 'edge.up': return ['edge up', d.id, 'good'];
      case 'edge.down': return ['edge down', d.id, 'bad'];
      default: return [type, JSON.stringify(d), ''];
    }
  }

  function logEvent(type, label, text, tone) {
    const list = $('events');
    const now = new Date();
    const item = el('li', { 'data-type': type, class: tone ? 'ev-' + tone : undefined }, [
      el('time', { datetime: now.toISOString() }, now.toLocaleTimeString()),
      el('span', { class: 'ev-type' }, label),
      text,
    ]);
    list.prepend(item);
    while (list.children.length > MAX_EVENTS) list.lastElementChild.remove();
  }

  let source = null;
  let streamReader = null;

  function onEvent(type, raw) {
    let data = {};
    try {
      data = JSON.parse(raw);
    } catch {
      data = { raw: String(raw) };
    }
    const [label, text, tone] = describe(type, data);
    logEvent(type, label, text, tone);
    void refresh();
  }

  /** `/v1/events` through fetch with the token (protectReads); reconnects like EventSource does. */
  async function listenWithToken(ctrl) {
    try {
      const res = await fetch('/v1/events', { cache: 'no-store', headers: authHeaders(), signal: ctrl.signal });
      if (!res.ok || !res.body) throw new Error('HTTP ' + res.status);
      link.events = 'open';
      showStatus();
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value.replace(/\r\n?/g, '\n');
        for (let end = buf.indexOf('\n\n'); end >= 0; end = buf.indexOf('\n\n')) {
          const frame = buf.slice(0, end);
          buf = buf.slice(end + 2);
          let type = 'message';
          const data = [];
          for (const line of frame.split('\n')) {
            if (line.startsWith('event:')) type = line.slice(6).trim();
            else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
          }
          if (data.length > 0 && EVENT_TYPES.includes(type)) onEvent(type, data.join('\n'));
        }
      }
    } catch {
      // aborted, refused or cut: retried below unless aborted
    }
    if (ctrl.signal.aborted) return;
    link.events = 'connecting';
    showStatus();
    setTimeout(() => {
      if (!ctrl.signal.aborted) void listenWithToken(ctrl);
    }, 3000);
  }

  function listen() {
    if (source) source.close();
    source = null;
    if (streamReader) streamReader.abort();
    streamReader = null;
    if (readsNeedToken && readToken()) {
      streamReader = new AbortController();
      void listenWithToken(streamReader);
      return;
    }
    source = new EventSource('/v1/events');
    source.onopen = () => {
      link.events = 'open';
      showStatus();
    };
    const mine = source;
    source.onerror = () => {
      if (mine.readyState === EventSource.CLOSED) {
        // Refused (503 at the stream cap, 401 under protectReads): EventSource gives up; try again ourselves.
        link.events = 'closed';
        setTimeout(() => {
          if (source === mine) listen();
        }, 5000);
      } else link.events = 'connecting';
      showStatus();
    };
    for (const type of EVENT_TYPES) source.addEventListener(type, (e) => onEvent(type, e.data));
  }

  // ---- player -------------------------------------------------------------------------------------

  /** Where to play a stream: an active edge (one already serving it first), else its owner origin. */
  function playbackBase(s) {
    const edges = ((cluster && cluster.edges) || []).filter((e) => e.state === 'active' && e.http);
    const serving = edges.find((e) => ((s.viewers && s.viewers.byEdge) || []).some((b) => b.edge === e.id));
    const edge = serving || edges[0];
    if (edge) return { base: edge.http.replace(/\/+$/, ''), via: 'edge ' + edge.id };
    if (s.owner && s.owner.http) return { base: s.owner.http.replace(/\/+$/, ''), via: 'origin ' + s.owner.id };
    return null;
  }

  function play(s, kind) {
    if (player) {
      player.destroy();
      player = null;
    }
    const where = playbackBase(s);
    const label = s.app + '/' + s.name + ' (' + kind.toUpperCase() + ')';
    if (!where) {
      setText($('playing'), '— ' + label + ': no edge or origin to play from');
      return;
    }
    const url = where.base + '/' + encodeURIComponent(s.app) + '/' + encodeURIComponent(s.name) + (kind === 'hls' ? '.m3u8' : '.flv');
    const video = $('video');
    const onError = (what) => {
      exposed.errors.push(what);
      setText($('playing'), '— ' + label + ' from ' + where.via + ': ' + what);
    };
    if (kind === 'hls') {
      if (typeof window.Hls !== 'function') return onError('hls.js not loaded');
      player = new window.Hls({ liveSyncDurationCount: 2 });
      player.on(window.Hls.Events.ERROR, (_e, d) => {
        if (d.fatal) onError('hls: ' + d.details);
      });
      player.loadSource(url);
      player.attachMedia(video);
    } else {
      if (!window.mpegts) return onError('mpegts.js not loaded');
      player = window.mpegts.createPlayer({ type: 'flv', isLive: true, url });
      player.on(window.mpegts.Events.ERROR, (t, d) => onError('flv: ' + t + ': ' + d));
      player.attachMediaElement(video);
      player.load();
    }
    video.play().catch(() => {});
    exposed.playing = label;
    exposed.source = where.via;
    setText($('playing'), '— ' + label + ' from ' + where.via);
  }

  // ---- admin actions ---------------------------------------------------------------------------

  function readToken() {
    try {
      return sessionStorage.getItem(TOKEN_KEY) || '';
    } catch {
      return '';
    }
  }

  function showTokenState() {
    setText($('token-state'), readToken()
      ? 'Admin token set for this tab (sessionStorage; never in the URL). Shed and drain send it as a bearer token.'
      : 'No token: shed and drain will be refused (and a discovery with protectReads shows nothing). The token stays in this tab (sessionStorage), never in the URL.');
  }

  /** The outcome of an action, in a toast at the bottom of the window (seen wherever the page is scrolled). */
  let toastTimer = 0;

  function showResult(kind, text) {
    const toast = $('toast');
    setClass(toast, 'toast ' + kind);
    setText($('action-result'), text);
    toast.hidden = false;
    // Successes and cancellations fade after a while (they are in the event log); errors stay until dismissed.
    clearTimeout(toastTimer);
    if (kind !== 'error' && kind !== 'pending') toastTimer = setTimeout(() => (toast.hidden = true), 10_000);
  }

  /** A modal confirmation (native <dialog>: focus moves into it, Escape cancels); focus returns to the opener. */
  function confirmAction(title, text, okLabel, opener) {
    const dialog = $('confirm');
    setText($('confirm-title'), title);
    setText($('confirm-text'), text);
    setText($('confirm-ok'), okLabel);
    return new Promise((resolve) => {
      dialog.returnValue = '';
      dialog.addEventListener('close', () => {
        resolve(dialog.returnValue === 'ok');
        if (opener && opener.isConnected) opener.focus();
      }, { once: true });
      dialog.showModal();
      $('confirm-cancel').focus();
    });
  }

  const HINTS = {
    401: 'enter the admin token (.cascade/admin-token with npm start) above',
    403: 'this token may not run admin actions: use the admin token',
    404: 'it is gone already',
    502: 'discovery could not reach the origin',
  };

  async function runAction(what, path, opener) {
    const token = readToken();
    showResult('pending', what + ': sending…');
    try {
      const res = await fetch(path, { method: 'POST', cache: 'no-store', headers: token ? { authorization: 'Bearer ' + token } : {}, signal: AbortSignal.timeout(15_000) });
      const body = await res.json().catch(() => ({}));
      if (res.ok) {
        const detail = body.result ? ' ' + JSON.stringify(body.result) : '';
        showResult('ok', what + ': done by ' + (body.origin || 'the origin') + '.' + detail);
        logEvent('action', 'action', what + ' → ok', 'good');
      } else {
        const hint = HINTS[res.status] ? ' (' + HINTS[res.status] + ')' : '';
        showResult('error', what + ' refused: ' + res.status + ' ' + (body.code || '') + ' ' + (body.message || '') + hint);
        logEvent('action', 'action', what + ' → ' + res.status + ' ' + (body.code || ''), 'bad');
      }
    } catch (err) {
      showResult('error', what + ' failed: ' + (err && err.name === 'TimeoutError' ? 'no answer within 15 s' : 'discovery unreachable'));
    }
    if (opener && opener.isConnected) opener.focus();
    void refresh();
  }

  async function shed(s, opener) {
    const id = s.app + '/' + s.name;
    const ok = await confirmAction('Shed ' + id + '?', 'Its publisher on ' + (s.owner ? s.owner.id : '?') + ' is disconnected and asked to re-publish; placement avoids that origin for a while, so the stream moves. Viewers reconnect.', 'Shed', opener);
    if (!ok) return showResult('', 'Shed ' + id + ': cancelled.');
    await runAction('Shed ' + id, '/v1/admin/streams/' + encodeURIComponent(s.app) + '/' + encodeURIComponent(s.name) + '/shed', opener);
  }

  async function drain(o, opener) {
    const ok = await confirmAction('Drain ' + o.id + '?', o.id + ' stops taking publishers, sheds its streams one by one to the other origins, then exits (a supervisor restarts it).', 'Drain', opener);
    if (!ok) return showResult('', 'Drain ' + o.id + ': cancelled.');
    await runAction('Drain ' + o.id, '/v1/admin/origins/' + encodeURIComponent(o.id) + '/drain', opener);
  }

  // ---- wiring -------------------------------------------------------------------------------------

  $('streams').addEventListener('click', (e) => {
    const button = e.target.closest('button');
    if (!button || !cluster) return;
    const key = button.closest('tr').dataset.key;
    const s = (cluster.streams || []).find((x) => x.app + '/' + x.name === key);
    if (!s) return;
    if (button.dataset.kind) play(s, button.dataset.kind);
    else if (button.dataset.action === 'shed') void shed(s, button);
  });

  $('origins').addEventListener('click', (e) => {
    const button = e.target.closest('button[data-action="drain"]');
    if (!button || !cluster) return;
    const o = (cluster.origins || []).find((x) => x.id === button.closest('tr').dataset.key);
    if (o) void drain(o, button);
  });

  $('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = $('token');
    // Accept a pasted `Bearer …` header value too.
    const value = input.value.trim().replace(/^Bearer\s+/i, '');
    try {
      if (value) sessionStorage.setItem(TOKEN_KEY, value);
      else sessionStorage.removeItem(TOKEN_KEY);
    } catch {
      showResult('error', 'This browser refuses sessionStorage: the token cannot be kept.');
    }
    input.value = '';
    showTokenState();
    if (readsNeedToken) listen();
    void refresh();
  });

  $('toast-close').addEventListener('click', () => {
    $('toast').hidden = true;
  });

  $('token-forget').addEventListener('click', () => {
    try {
      sessionStorage.removeItem(TOKEN_KEY);
    } catch {
      // nothing stored
    }
    $('token').value = '';
    showTokenState();
  });

  showTokenState();
  poll();
  listen();
})();
