import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { isAllowAnswer, signBody, SIGNATURE_HEADER, Webhooks, type HookClient, type WebhookOptions } from '../../origin/webhooks';

interface Call {
  path: string;
  body: Record<string, unknown>;
  raw: string;
  signature?: string;
  at: number;
}

type Answer = { status?: number; body?: string; delayMs?: number; destroy?: boolean };

/** A hook receiver on a free port: records every call and answers with `answer(call, n)`. */
class HookServer {
  readonly calls: Call[] = [];
  answer: (call: Call, n: number) => Answer = () => ({ body: '0' });
  private readonly server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      const call: Call = { path: req.url ?? '', body: JSON.parse(raw) as Record<string, unknown>, raw, signature: req.headers[SIGNATURE_HEADER] as string | undefined, at: Date.now() };
      this.calls.push(call);
      const a = this.answer(call, this.calls.filter((c) => c.path === call.path).length);
      if (a.destroy) return req.socket.destroy();
      setTimeout(() => {
        if (res.destroyed) return;
        res.writeHead(a.status ?? 200, { 'content-type': 'text/plain' });
        res.end(a.body ?? '0');
      }, a.delayMs ?? 0);
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

test('on_publish: SRS body fields, signed with X-Cascade-Signature', async () => {
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
  expect(call.signature).toBe(`sha256=${createHmac('sha256', 'hook-secret-0123456789').update(call.raw).digest('hex')}`);
  expect(signBody('hook-secret-0123456789', call.raw)).toBe(call.signature);
});

test('on_play carries pageUrl; no secret means no signature header', async () => {
  await make({ secret: '' }).authorize('on_play', CLIENT);
  expect(server.calls[0].body).toMatchObject({ action: 'on_play', pageUrl: '' });
  expect(server.calls[0].signature).toBeUndefined();
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
