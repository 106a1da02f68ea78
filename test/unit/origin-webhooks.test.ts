import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { until } from '../helpers/wait';
import { isAllowAnswer, signBody, SIGNATURE_HEADER, TIMESTAMP_HEADER, verifyWebhook, Webhooks, type HookClient, type WebhookOptions } from '../../origin/webhooks';

interface Call {
  path: string;
  body: Record<string, unknown>;
  raw: string;
  signature?: string;
  timestamp?: string;
  at: number;
  /** The origin closed the request before it was answered (dropped or aborted). */
  abandoned: boolean;
}

type Answer = {
  status?: number;
  body?: string;
  delayMs?: number;
  destroy?: boolean;
  /** Never answer (until the client goes away). */
  hold?: boolean;
  /** Append this many bytes of spaces after `body`; with `chunked` no Content-Length is sent. */
  padBytes?: number;
  chunked?: boolean;
  /** Send the headers and one byte, then nothing more. */
  trickle?: boolean;
};

/** A hook receiver on a free port: records every call and answers with `answer(call, n)`. */
class HookServer {
  readonly calls: Call[] = [];
  answer: (call: Call, n: number) => Answer = () => ({ body: '0' });
  private readonly server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      const call: Call = {
        path: req.url ?? '',
        body: JSON.parse(raw) as Record<string, unknown>,
        raw,
        signature: req.headers[SIGNATURE_HEADER] as string | undefined,
        timestamp: req.headers[TIMESTAMP_HEADER] as string | undefined,
        at: Date.now(),
        abandoned: false,
      };
      this.calls.push(call);
      res.on('close', () => (call.abandoned = !res.writableFinished));
      const a = this.answer(call, this.calls.filter((c) => c.path === call.path).length);
      if (a.destroy) return req.socket.destroy();
      if (a.hold) return;
      if (a.trickle) {
        res.writeHead(a.status ?? 200, { 'content-type': 'text/plain' });
        res.write('0');
        return;
      }
      const timer = setTimeout(() => {
        if (res.destroyed) return;
        const text = `${a.body ?? '0'}${' '.repeat(a.padBytes ?? 0)}`;
        res.writeHead(a.status ?? 200, { 'content-type': 'text/plain', ...(a.chunked ? {} : { 'content-length': Buffer.byteLength(text) }) });
        if (a.chunked) {
          // Several writes without a length: the origin must stop reading on its own.
          for (let i = 0; i < text.length; i += 16_384) res.write(text.slice(i, i + 16_384));
          res.end();
        } else res.end(text);
      }, a.delayMs ?? 0);
      res.on('close', () => clearTimeout(timer));
    });
  });
  url = '';

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

const server = new HookServer();
const hooks: Webhooks[] = [];
const log = pino({ level: 'silent' });
const CLIENT: HookClient = { clientId: 'c1', ip: '10.0.0.7', app: 'live', stream: 'cam1', param: '?token=abc', tcUrl: 'rtmp://origin-1:1936/live' };

function make(opts: Partial<WebhookOptions> = {}): Webhooks {
  const h = new Webhooks({
    urls: { on_publish: `${server.url}/on_publish`, on_play: `${server.url}/on_play`, on_unpublish: `${server.url}/on_unpublish`, on_stop: `${server.url}/on_stop` },
    secret: 'hook-secret-0123456789',
    timeoutMs: 300,
    failOpen: false,
    serverId: 'origin-1',
    serviceId: 'svc1',
    streamId: (app, name) => `id-${app}-${name}`,
    log,
    backoffMs: 50,
    ...opts,
  });
  hooks.push(h);
  return h;
}

beforeAll(() => server.start());
afterAll(async () => {
  await Promise.all(hooks.map((h) => h.close()));
  await server.stop();
});
beforeEach(() => {
  server.calls.length = 0;
  server.answer = () => ({ body: '0' });
});

test.each([
  [200, '0', true],
  [200, ' 0\n', true],
  [200, '{"code":0}', true],
  [200, '{"code":0,"data":{}}', true],
  [200, '1', false],
  [200, '{"code":1}', false],
  [200, '{"code":"0"}', false],
  [200, '', false],
  [200, 'ok', false],
  [200, 'null', false],
  [201, '0', false],
  [403, '0', false],
])('SRS answer: HTTP %d %j allows: %s', (status, body, allowed) => {
  expect(isAllowAnswer(status, body)).toBe(allowed);
});

test('on_publish: SRS body fields, X-Cascade-Timestamp, signed with X-Cascade-Signature over "<timestamp>.<body>"', async () => {
  const t0 = Math.floor(Date.now() / 1000);
  const verdict = await make().authorize('on_publish', CLIENT);
  expect(verdict).toEqual({ allowed: true, outcome: 'allowed' });
  expect(server.calls).toHaveLength(1);
  const call = server.calls[0];
  expect(call.path).toBe('/on_publish');
  expect(call.body).toEqual({
    server_id: 'origin-1',
    service_id: 'svc1',
    action: 'on_publish',
    client_id: 'c1',
    ip: '10.0.0.7',
    vhost: '__defaultVhost__',
    app: 'live',
    tcUrl: 'rtmp://origin-1:1936/live',
    stream: 'cam1',
    param: '?token=abc',
    stream_url: '/live/cam1',
    stream_id: 'id-live-cam1',
  });
  const ts = Number(call.timestamp);
  expect(ts).toBeGreaterThanOrEqual(t0);
  expect(ts).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
  expect(call.signature).toBe(`sha256=${createHmac('sha256', 'hook-secret-0123456789').update(`${call.timestamp}.${call.raw}`).digest('hex')}`);
  expect(signBody('hook-secret-0123456789', call.raw, ts)).toBe(call.signature);
  // The old scheme (body alone) no longer verifies: receivers must update (docs/origin-api.md).
  expect(call.signature).not.toBe(`sha256=${createHmac('sha256', 'hook-secret-0123456789').update(call.raw).digest('hex')}`);
  expect(verifyWebhook('hook-secret-0123456789', call.raw, call.signature, call.timestamp)).toEqual({ ok: true });
});

describe('verifyWebhook (the receiver check of docs/origin-api.md)', () => {
  const SECRET = 'hook-secret-0123456789';
  const NOW = Date.UTC(2030, 0, 1);
  const T = NOW / 1000;
  const BODY = '{"action":"on_publish"}';
  const sig = (t: number, body = BODY, secret = SECRET): string => signBody(secret, body, t);
  test.each([
    ['fresh', BODY, sig(T), String(T), { ok: true }],
    ['4 min 59 s old', BODY, sig(T - 299), String(T - 299), { ok: true }],
    ['exactly 5 min old', BODY, sig(T - 300), String(T - 300), { ok: true }],
    ['5 min 1 s old: replay refused', BODY, sig(T - 301), String(T - 301), { ok: false, reason: 'stale' }],
    ['5 min 1 s ahead', BODY, sig(T + 301), String(T + 301), { ok: false, reason: 'stale' }],
    ['timestamp swapped for a fresh one', BODY, sig(T - 3600), String(T), { ok: false, reason: 'invalid' }],
    ['body changed', '{"action":"on_play"}', sig(T), String(T), { ok: false, reason: 'invalid' }],
    ['another secret', BODY, sig(T, BODY, 'other-secret-0123456789'), String(T), { ok: false, reason: 'invalid' }],
    ['old scheme (body only)', BODY, `sha256=${createHmac('sha256', SECRET).update(BODY).digest('hex')}`, String(T), { ok: false, reason: 'invalid' }],
    ['no timestamp', BODY, sig(T), undefined, { ok: false, reason: 'missing' }],
    ['no signature', BODY, undefined, String(T), { ok: false, reason: 'missing' }],
    ['timestamp not a number', BODY, sig(T), '1e9', { ok: false, reason: 'invalid' }],
    ['signature of another length', BODY, 'sha256=00', String(T), { ok: false, reason: 'invalid' }],
  ])('%s', (_what, body, signature, timestamp, expected) => {
    expect(verifyWebhook(SECRET, body, signature, timestamp, NOW)).toEqual(expected);
  });
});

test('on_play carries pageUrl; no secret means no signature header', async () => {
  await make({ secret: '' }).authorize('on_play', CLIENT);
  expect(server.calls[0].body).toMatchObject({ action: 'on_play', pageUrl: '' });
  expect(server.calls[0].signature).toBeUndefined();
  expect(server.calls[0].timestamp).toMatch(/^\d+$/);
});

test.each([
  ['body 1', { body: '1' }],
  ['{"code":403}', { body: '{"code":403}' }],
  ['HTTP 403', { status: 403, body: 'no' }],
])('deny: %s', async (_what, answer) => {
  server.answer = () => answer;
  const verdict = await make().authorize('on_publish', CLIENT);
  expect(verdict).toMatchObject({ allowed: false, outcome: 'denied' });
});

test.each([
  ['a timeout', { delayMs: 1000 }],
  ['HTTP 500', { status: 500, body: 'oops' }],
  ['a dropped connection', { destroy: true }],
])('unavailable (%s): fail-closed denies, fail-open allows', async (_what, answer) => {
  server.answer = () => answer;
  const t0 = Date.now();
  expect(await make().authorize('on_publish', CLIENT)).toMatchObject({ allowed: false, outcome: 'unavailable' });
  expect(await make({ failOpen: true }).authorize('on_publish', CLIENT)).toMatchObject({ allowed: true, outcome: 'fail_open' });
  expect(Date.now() - t0).toBeLessThan(1500); // each call bounded by timeoutMs (300)
});

test('unreachable hook (connection refused) is unavailable', async () => {
  const h = make({ urls: { on_publish: 'http://127.0.0.1:1/on_publish' } });
  expect(await h.authorize('on_publish', CLIENT)).toMatchObject({ allowed: false, outcome: 'unavailable' });
});

test('no URL for the action: allowed without a call; enabled() says so', async () => {
  const h = make({ urls: {} });
  expect(h.enabled('on_publish')).toBe(false);
  expect(await h.authorize('on_publish', CLIENT)).toEqual({ allowed: true, outcome: 'no_hook' });
  h.notify('on_stop', CLIENT);
  await h.flush(200);
  expect(server.calls).toHaveLength(0);
});

test('notifications retry with backoff: two failures, then success = 3 calls', async () => {
  server.answer = (_c, n) => (n < 3 ? { status: 503 } : { body: '0' });
  const h = make();
  h.notify('on_unpublish', CLIENT);
  await h.flush(3000);
  const calls = server.calls.filter((c) => c.path === '/on_unpublish');
  expect(calls).toHaveLength(3);
  expect(calls.every((c) => c.body.action === 'on_unpublish')).toBe(true);
  // backoff 50 ms then 100 ms
  expect(calls[1].at - calls[0].at).toBeGreaterThanOrEqual(40);
  expect(calls[2].at - calls[1].at).toBeGreaterThanOrEqual(90);
});

test('notifications give up after 3 tries (timeouts count as failures)', async () => {
  server.answer = () => ({ delayMs: 500 });
  const h = make();
  h.notify('on_stop', CLIENT);
  await h.flush(5000);
  expect(server.calls.filter((c) => c.path === '/on_stop')).toHaveLength(3);
});

test('flush waits at most its deadline', async () => {
  server.answer = () => ({ delayMs: 2000 });
  const h = make({ timeoutMs: 5000 });
  h.notify('on_stop', CLIENT);
  const t0 = Date.now();
  await h.flush(100);
  expect(Date.now() - t0).toBeLessThan(1000);
});

describe('answer size cap (maxResponseBytes)', () => {
  test.each([
    ['"0" padded past the cap, with Content-Length', { body: '0', padBytes: 70_000 }, 'denied'],
    ['"0" padded past the cap, chunked (no length)', { body: '0', padBytes: 70_000, chunked: true }, 'denied'],
    ['a 5xx past the cap is a deny too (not fail-open)', { status: 503, body: 'x', padBytes: 70_000 }, 'denied'],
    ['"0" padded to exactly the cap', { body: '0', padBytes: 65_535 }, 'allowed'],
  ])('%s: %s', async (_what, answer, outcome) => {
    server.answer = () => answer;
    const oversized: string[] = [];
    const h = make({ failOpen: true, onOversized: (a) => oversized.push(a) });
    const verdict = await h.authorize('on_play', CLIENT);
    expect(verdict).toMatchObject({ outcome });
    if (outcome === 'denied') {
      expect(verdict).toMatchObject({ allowed: false, detail: expect.stringContaining('answer larger than 65536 bytes') });
      expect(oversized).toEqual(['on_play']);
    } else expect(oversized).toEqual([]);
  });

  test('the cap is configurable', async () => {
    server.answer = () => ({ body: '0', padBytes: 2000 });
    expect(await make({ maxResponseBytes: 1024 }).authorize('on_publish', CLIENT)).toMatchObject({ allowed: false, outcome: 'denied' });
    expect(await make({ maxResponseBytes: 4096 }).authorize('on_publish', CLIENT)).toMatchObject({ allowed: true });
  });

  test('an answer that starts and never ends is unavailable within the timeout', async () => {
    server.answer = () => ({ trickle: true });
    const t0 = Date.now();
    expect(await make().authorize('on_publish', CLIENT)).toMatchObject({ allowed: false, outcome: 'unavailable', detail: expect.stringContaining('no answer within 300 ms') });
    expect(Date.now() - t0).toBeLessThan(1500);
  });

  test('a notification answered 200 with a huge body is delivered (the body is not read)', async () => {
    server.answer = () => ({ body: '0', padBytes: 1_000_000 });
    const h = make();
    h.notify('on_stop', CLIENT);
    await h.flush(3000);
    expect(server.calls.filter((c) => c.path === '/on_stop')).toHaveLength(1);
  });
});

describe('pending notifications cap (maxPending)', () => {
  function capture(): { log: pino.Logger; lines: Array<Record<string, unknown>> } {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({ write: (chunk: Buffer, _enc, cb) => (lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>), cb()) });
    return { log: pino({ level: 'info' }, sink), lines };
  }

  test('a hook that never answers: the oldest are dropped, warned once (throttled) and counted; the newest stay', async () => {
    server.answer = () => ({ hold: true });
    const { log: captured, lines } = capture();
    const dropped: string[] = [];
    const h = make({ maxPending: 3, timeoutMs: 10_000, log: captured, onDropped: (a) => dropped.push(a) });
    const byClient = (id: string): Call | undefined => server.calls.find((c) => c.body.client_id === id);
    for (let i = 0; i < 3; i++) h.notify(i % 2 ? 'on_stop' : 'on_unpublish', { ...CLIENT, clientId: `c${i}` });
    await until('3 webhook calls', () => server.calls.length === 3);
    expect(h.pendingCount).toBe(3);
    for (let i = 3; i < 5; i++) h.notify('on_stop', { ...CLIENT, clientId: `c${i}` });
    expect(h.pendingCount).toBe(3);
    expect(h.droppedCount).toBe(2);
    expect(dropped).toEqual(['on_unpublish', 'on_stop']);
    // The dropped ones' requests in flight are abandoned at once; the newest three wait for their answer.
    await until('c0 and c1 abandoned, c4 sent', () => Boolean(byClient('c0')?.abandoned && byClient('c1')?.abandoned && byClient('c4')));
    expect(['c0', 'c1', 'c2', 'c3', 'c4'].map((id) => byClient(id)?.abandoned)).toEqual([true, true, false, false, false]);
    const warns = lines.filter((l) => l.msg === 'webhook notifications backlog full: oldest dropped');
    expect(warns).toHaveLength(1);
    expect(warns[0]).toMatchObject({ level: 40, dropped: 1, droppedTotal: 1, maxPending: 3 });
    await h.close();
    expect(h.pendingCount).toBe(0);
  });

  test('a thousand notifications to a dead hook stay bounded (default cap 1000)', async () => {
    server.answer = () => ({ hold: true });
    const h = make({ timeoutMs: 10_000, urls: { on_stop: 'http://127.0.0.1:9/on_stop' }, notifyTries: 1000, backoffMs: 60_000 });
    for (let i = 0; i < 1500; i++) h.notify('on_stop', { ...CLIENT, clientId: `x${i}` });
    expect(h.pendingCount).toBe(1000);
    expect(h.droppedCount).toBe(500);
    await h.close();
  });
});
