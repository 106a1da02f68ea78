import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import pino from 'pino';
import { createHttpApp } from '../../mediaserver/http-app';
import { EdgeMetrics, OriginMetrics, REJECTION_REASONS, registerEdgeMetrics, registerOriginMetrics } from '../../mediaserver/metrics';
import { emptyStats } from '../../mediaserver/guarded-connection';
import type { NodeSession } from '../../mediaserver/node-api';

/** The metric names the issue fixes, per role (the dashboards' contract). */
const ORIGIN_METRICS = [
  'cascade_origin_publishers',
  'cascade_origin_viewers',
  'cascade_origin_redirects_total',
  'cascade_origin_rejections_total',
  'cascade_lease_renew_failures_total',
  'cascade_origin_bytes_in_total',
  'cascade_origin_bytes_out_total',
  'cascade_stream_bitrate_kbps',
  'cascade_origin_utilisation',
  'cascade_origin_high_water',
];
const EDGE_METRICS = ['cascade_edge_viewers', 'cascade_edge_upstream_reconnects_total', 'cascade_edge_redirects_followed_total', 'cascade_edge_drops_total', 'cascade_edge_ttff_seconds', 'cascade_stream_bitrate_kbps'];

/** `# TYPE name type` lines of a Prometheus text exposition. */
function types(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) out.set(m[1], m[2]);
  return out;
}

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const deployed = JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', 'deploy', 'metrics.json'), 'utf8')) as { metrics: Array<{ name: string; type: string; role: string }> };

function session(id: string, isPublisher: boolean, inBytes: number, outBytes: number): NodeSession {
  return { id, ip: '10.0.0.1:1000', protocol: 'rtmp', isPublisher, streamApp: 'live', streamName: 's', createTime: Date.now(), inBytes, outBytes, close: () => undefined };
}

describe('origin metrics', () => {
  const sessions = [session('p', true, 1000, 0), session('v1', false, 10, 500), session('v2', false, 10, 700)];
  const bytes = { in: 100, out: 50 };
  const m = new OriginMetrics({
    media: { sessions: () => sessions, on: () => undefined },
    streams: () => [{ app: 'live', name: 's', kbpsIn: 2600 }],
    publishers: () => 1,
    utilisation: () => 0.25,
    highWater: 0.85,
    bytes: () => bytes,
  });

  test('every origin metric of the issue and of deploy/metrics.json, with its type', async () => {
    const t = types(await m.render());
    for (const name of ORIGIN_METRICS) expect({ name, exported: t.has(name) }).toEqual({ name, exported: true });
    for (const d of deployed.metrics.filter((x) => x.role === 'origin')) expect({ name: d.name, type: t.get(d.name) }).toEqual({ name: d.name, type: d.type });
    expect(t.get('cascade_stream_bitrate_kbps')).toBe('gauge');
    expect(t.get('process_cpu_user_seconds_total')).toBe('counter'); // default process metrics
  });

  test('webhook bounds: pending gauge (0 without a source), drops and too-large answers by action, all present from the start', async () => {
    let text = await m.render();
    expect(sample(text, 'cascade_origin_webhook_notifications_pending')).toBe(0);
    for (const action of ['on_unpublish', 'on_stop']) expect(sample(text, `cascade_origin_webhook_notifications_dropped_total{action="${action}"}`)).toBe(0);
    for (const action of ['on_publish', 'on_play']) expect(sample(text, `cascade_origin_webhook_answers_too_large_total{action="${action}"}`)).toBe(0);
    let pending = 7;
    const withHooks = new OriginMetrics({ streams: () => [], publishers: () => 0, utilisation: () => 0, highWater: 0.85, bytes: () => ({ in: 0, out: 0 }), webhookPending: () => pending, processMetrics: false });
    withHooks.webhookDrops.inc({ action: 'on_stop' });
    withHooks.webhookTooLarge.inc({ action: 'on_play' });
    text = await withHooks.render();
    expect(sample(text, 'cascade_origin_webhook_notifications_pending')).toBe(7);
    expect(sample(text, 'cascade_origin_webhook_notifications_dropped_total{action="on_stop"}')).toBe(1);
    expect(sample(text, 'cascade_origin_webhook_answers_too_large_total{action="on_play"}')).toBe(1);
    pending = 0;
    expect(sample(await withHooks.render(), 'cascade_origin_webhook_notifications_pending')).toBe(0);
  });

  test('values: gauges read at scrape time, rejections by reason, byte counters only grow', async () => {
    m.redirects.inc();
    m.reject('unauthorized');
    m.reject('unauthorized');
    m.leaseRenewFailures.inc();
    let text = await m.render();
    expect(sample(text, 'cascade_origin_publishers')).toBe(1);
    expect(sample(text, 'cascade_origin_viewers')).toBe(2);
    expect(sample(text, 'cascade_origin_utilisation')).toBe(0.25);
    expect(sample(text, 'cascade_origin_high_water')).toBe(0.85);
    expect(sample(text, 'cascade_origin_redirects_total')).toBe(1);
    expect(sample(text, 'cascade_lease_renew_failures_total')).toBe(1);
    expect(sample(text, 'cascade_origin_rejections_total{reason="unauthorized"}')).toBe(2);
    for (const reason of REJECTION_REASONS.filter((r) => r !== 'unauthorized')) expect(sample(text, `cascade_origin_rejections_total{reason="${reason}"}`)).toBe(0);
    expect(sample(text, 'cascade_stream_bitrate_kbps{app="live",name="s"}')).toBe(2600);
    expect(sample(text, 'cascade_origin_bytes_in_total')).toBe(100);
    bytes.in = 90; // a source that went back is ignored, not subtracted
    bytes.out = 80;
    text = await m.render();
    expect(sample(text, 'cascade_origin_bytes_in_total')).toBe(100);
    expect(sample(text, 'cascade_origin_bytes_out_total')).toBe(80);
  });
});

describe('edge metrics', () => {
  const listeners: Array<(s: NodeSession) => void> = [];
  let resolveReady!: () => void;
  const ready = new Promise<void>((r) => (resolveReady = r));
  const m = new EdgeMetrics({
    media: { sessions: () => [session('v1', false, 0, 0)], on: (_e, fn) => listeners.push(fn) },
    streams: () => [{ app: 'live', name: 's', ready, view: () => ({ kbpsIn: 1200 }) }],
  });

  test('every edge metric of the issue and of deploy/metrics.json, with its type', async () => {
    const t = types(await m.render());
    for (const name of EDGE_METRICS) expect({ name, exported: t.has(name) }).toEqual({ name, exported: true });
    for (const d of deployed.metrics.filter((x) => x.role === 'edge')) expect({ name: d.name, type: t.get(d.name) }).toEqual({ name: d.name, type: d.type });
    expect(t.get('cascade_edge_ttff_seconds')).toBe('histogram');
    expect(t.has('cascade_origin_publishers')).toBe(false);
  });

  test('TTFF: prePlay to the stream being ready; stream events; viewers', async () => {
    listeners.forEach((fn) => fn(session('v1', false, 0, 0)));
    await new Promise((r) => setTimeout(r, 60));
    resolveReady();
    await new Promise((r) => setImmediate(r));
    m.streamEvent('reconnect', 1);
    m.streamEvent('redirects', 2);
    m.drops.inc(3);
    const text = await m.render();
    expect(sample(text, 'cascade_edge_ttff_seconds_count')).toBe(1);
    expect(sample(text, 'cascade_edge_ttff_seconds_sum')).toBeGreaterThanOrEqual(0.05);
    expect(sample(text, 'cascade_edge_upstream_reconnects_total')).toBe(1);
    expect(sample(text, 'cascade_edge_redirects_followed_total')).toBe(2);
    expect(sample(text, 'cascade_edge_drops_total')).toBe(3);
    expect(sample(text, 'cascade_edge_viewers')).toBe(1);
    expect(sample(text, 'cascade_stream_bitrate_kbps{app="live",name="s"}')).toBe(1200);
  });

  test('without a media adapter, viewers are summed from the streams', async () => {
    const e = new EdgeMetrics({ streams: () => [{ app: 'live', name: 'a', viewers: 3 }, { app: 'live', name: 'b', viewers: 4 }], processMetrics: false });
    e.observeTtff(0.2);
    const text = await e.render();
    expect(sample(text, 'cascade_edge_viewers')).toBe(7);
    expect(sample(text, 'cascade_edge_ttff_seconds_count')).toBe(1);
    expect(types(text).has('process_cpu_user_seconds_total')).toBe(false);
  });
});

test('the media server\'s hardening counters (NmsHost.stats()) are exported per event', async () => {
  const stats = { ...emptyStats(), rtmpRejected: 3, viewerGopsDropped: 2 };
  const m = new OriginMetrics({
    media: { sessions: () => [], on: () => undefined, stats: () => stats },
    streams: () => [],
    publishers: () => 0,
    utilisation: () => 0,
    highWater: 0.85,
    bytes: () => ({ in: 0, out: 0 }),
    processMetrics: false,
  });
  let text = await m.render();
  expect(types(text).get('cascade_origin_hardening_events_total')).toBe('counter');
  expect(sample(text, 'cascade_origin_hardening_events_total{event="rtmp_rejected"}')).toBe(3);
  expect(sample(text, 'cascade_origin_hardening_events_total{event="viewer_gops_dropped"}')).toBe(2);
  expect(sample(text, 'cascade_origin_hardening_events_total{event="nms_errors"}')).toBe(0);
  stats.rtmpRejected = 5;
  text = await m.render();
  expect(sample(text, 'cascade_origin_hardening_events_total{event="rtmp_rejected"}')).toBe(5);
  // Without a media server that counts (an edge, a test double): no such series.
  expect(types(await new OriginMetrics({ streams: () => [], publishers: () => 0, utilisation: () => 0, highWater: 0.85, bytes: () => ({ in: 0, out: 0 }), processMetrics: false }).render()).has('cascade_origin_hardening_events_total')).toBe(false);
});

test('GET /metrics serves the exposition with its content type', async () => {
  const log = pino({ level: 'silent' });
  const origin = createHttpApp(log, (h) => http.createServer(h));
  registerOriginMetrics(origin, { media: { sessions: () => [], on: () => undefined }, streams: () => [], publishers: () => 0, utilisation: () => 0, highWater: 0.85, bytes: () => ({ in: 0, out: 0 }), processMetrics: false });
  const edge = createHttpApp(log, (h) => http.createServer(h));
  registerEdgeMetrics(edge, { streams: () => [], processMetrics: false });
  for (const [app, name] of [[origin, 'cascade_origin_high_water'], [edge, 'cascade_edge_viewers']] as const) {
    const res = await app.inject('/metrics');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.body).toContain(`# TYPE ${name} gauge`);
    await app.close();
  }
});
