/**
 * SRS-style webhooks on real origin processes (origin/webhooks.ts): on_publish / on_play decide,
 * on_unpublish / on_stop notify with retries; fail-closed and fail-open on a hook that times out.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { waitFor, type TestProcess } from '../helpers/processes';
import { playWithRedirects, RtmpStatusError } from '../../protocol/redirect';
import { verifyWebhook } from '../../origin/webhooks';
import { HookRecorder, metricValue, ownerOf, rawPublish, startDiscovery, startOrigin, type Node, type RawPublish } from './origin-helpers';

jest.setTimeout(60_000);

const WEBHOOK_SECRET = randomBytes(16).toString('hex');
const hooks = new HookRecorder();
let discovery: { proc: TestProcess; url: string };
let closed: Node; // fail-closed, every hook
let open: Node; // fail-open, on_publish only
let capped: Node; // small webhookMaxPending; on_publish and on_unpublish
const clients: RawPublish[] = [];
const id = randomBytes(3).toString('hex');

/** An AVC sequence header (640x360 baseline) and one keyframe: enough for a player to start. */
const SPS = Buffer.from('6742c01eda0280bfe5c044000003000400000300f23c58ba80', 'hex');
const PPS = Buffer.from('68ce3c80', 'hex');
const AVC_HEADER = Buffer.concat([Buffer.from([0x17, 0, 0, 0, 0, 1, SPS[1], SPS[2], SPS[3], 0xff, 0xe1, 0, SPS.length]), SPS, Buffer.from([1, 0, PPS.length]), PPS]);
const KEYFRAME = Buffer.from([0x17, 1, 0, 0, 0, 0, 0, 0, 5, 0x65, 0x88, 0x84, 0x00, 0x10]);

beforeAll(async () => {
  await hooks.start();
  hooks.answer = (call, n) => {
    const stream = String(call.body.stream);
    if (call.action === 'on_publish' && stream.startsWith('deny')) return { body: '{"code":403,"msg":"not on the list"}' };
    if (call.action === 'on_publish' && stream.startsWith('slow')) return { delayMs: 1500 };
    if (call.action === 'on_unpublish' && stream.startsWith('retry') && n < 3) return { status: 500, body: 'try later' };
    if (call.action === 'on_play' && String(call.body.param).includes('viewer=bad')) return { body: '1' };
    // An allow drowned in 100 KB: over the 64 KiB cap, so a deny.
    if (call.action === 'on_publish' && stream.startsWith('huge')) return { body: '0', padBytes: 100_000 };
    if (call.action === 'on_unpublish' && stream.startsWith('stuck')) return { hold: true };
    return { body: call.action === 'on_play' ? '{"code":0}' : '0' };
  };
  discovery = await startDiscovery();
  const all = ['on-publish', 'on-unpublish', 'on-play', 'on-stop'].flatMap((a) => [`--webhook-${a}`, `${hooks.url}/${a.replace('-', '_')}`]);
  [closed, open, capped] = await Promise.all([
    startOrigin(discovery.url, 'origin-1', [...all, '--webhook-secret', WEBHOOK_SECRET, '--webhook-timeout-ms', '400']),
    startOrigin(discovery.url, 'origin-2', ['--webhook-on-publish', `${hooks.url}/on_publish`, '--webhook-timeout-ms', '400', '--webhook-fail-open']),
    startOrigin(discovery.url, 'origin-3', [
      '--webhook-on-publish', `${hooks.url}/on_publish`,
      '--webhook-on-unpublish', `${hooks.url}/on_unpublish`,
      '--webhook-timeout-ms', '20000',
      '--webhook-max-pending', '2',
      '--webhook-fail-open',
    ]),
  ]);
});

afterAll(async () => {
  for (const c of clients) c.client.close();
  hooks.releaseHeld();
  await Promise.all([closed?.proc.stop(), open?.proc.stop(), capped?.proc.stop()]);
  await discovery?.proc.stop();
  await hooks.stop();
});

async function publish(node: Node, stream: string, settleMs = 1500): Promise<RawPublish> {
  const r = await rawPublish(node.rtmp, 'live', stream, settleMs);
  clients.push(r);
  return r;
}

test('allow: on_publish answers 0; SRS body, signed; the stream is claimed and plays; on_unpublish when it ends', async () => {
  const stream = `ok${id}`;
  const r = await publish(closed, `${stream}?token=t1`);
  expect(r.closed).toBe(false);
  expect(r.codes()).toEqual(['NetStream.Publish.Start']);
  await waitFor(async () => (await ownerOf(discovery.url, 'live', stream)) === 'origin-1', 5000, 'the claim');
  const [call] = hooks.of('on_publish', stream);
  expect(call.body).toMatchObject({
    action: 'on_publish',
    server_id: 'origin-1',
    client_id: expect.any(String),
    ip: '127.0.0.1',
    vhost: '__defaultVhost__',
    app: 'live',
    stream,
    param: '?token=t1',
    stream_url: `/live/${stream}`,
    tcUrl: `${closed.rtmp}/live`,
  });
  // Signed over "<X-Cascade-Timestamp>.<body>"; the timestamp is the time of the call.
  expect(Math.abs(Number(call.timestamp) - call.at / 1000)).toBeLessThan(5);
  expect(call.signature).toBe(`sha256=${createHmac('sha256', WEBHOOK_SECRET).update(`${call.timestamp}.${call.raw}`).digest('hex')}`);
  expect(verifyWebhook(WEBHOOK_SECRET, call.raw, call.signature, call.timestamp)).toEqual({ ok: true });
  const clientsApi = (await (await fetch(`${closed.http}/api/v1/clients`)).json()) as { clients: Array<{ id: string; name: string; type: string }> };
  expect(clientsApi.clients.find((c) => c.name === stream)).toMatchObject({ id: call.body.client_id, type: 'fmle-publish' });

  r.client.sendMedia({ type: 9, streamId: 0, timestamp: 0, payload: AVC_HEADER });
  r.client.sendMedia({ type: 9, streamId: 0, timestamp: 0, payload: KEYFRAME });

  // on_play: allowed with {"code":0}; denied with 1 (NetStream.Play.Unauthorized, nothing sent); on_stop when the player leaves.
  const viewer = await playWithRedirects(`${closed.rtmp}/live/${stream}?viewer=good`, { timeoutMs: 5000 });
  expect(viewer.firstMessages.some((m) => m.type === 9)).toBe(true);
  const denied = playWithRedirects(`${closed.rtmp}/live/${stream}?viewer=bad`, { timeoutMs: 5000 });
  await expect(denied).rejects.toBeInstanceOf(RtmpStatusError);
  await expect(denied).rejects.toMatchObject({ info: { code: 'NetStream.Play.Unauthorized' } });
  viewer.client.close();
  await waitFor(() => hooks.of('on_stop', stream).length === 1, 5000, 'on_stop');
  expect(hooks.of('on_stop', stream)[0].body).toMatchObject({ action: 'on_stop', param: '?viewer=good', pageUrl: '' });
  expect(hooks.of('on_play', stream).map((c) => c.body.param)).toEqual(['?viewer=good', '?viewer=bad']);

  r.client.close();
  await waitFor(() => hooks.of('on_unpublish', stream).length === 1, 5000, 'on_unpublish');
  expect(hooks.of('on_unpublish', stream)[0].body).toMatchObject({ action: 'on_unpublish', client_id: call.body.client_id, stream });
  await waitFor(async () => (await ownerOf(discovery.url, 'live', stream)) === null, 5000, 'the release');
});

test('deny: anything but 0 / {"code":0} refuses the publisher (NetStream.Publish.Unauthorized, closed, never claimed)', async () => {
  const stream = `deny${id}`;
  const r = await publish(closed, stream, 3000);
  expect(r.codes()).toEqual(['NetStream.Publish.Start', 'NetStream.Publish.Unauthorized']);
  expect(r.closed).toBe(true);
  expect(await ownerOf(discovery.url, 'live', stream)).toBeNull();
  expect(closed.proc.logs().find((l) => l.msg === 'publish refused: denied by on_publish' && l.stream === `live/${stream}`)).toBeDefined();
  // No on_unpublish for a publisher that was never admitted.
  await new Promise((r2) => setTimeout(r2, 300));
  expect(hooks.of('on_unpublish', stream)).toEqual([]);
});

test('timeout, fail-closed (default): refused with NetStream.Publish.Rejected within the hook timeout', async () => {
  const stream = `slow${id}a`;
  const r = await publish(closed, stream, 3000);
  expect(r.codes()).toEqual(['NetStream.Publish.Start', 'NetStream.Publish.Rejected']);
  expect(r.closed).toBe(true);
  // Refused on the 400 ms hook timeout, not after the hook's answer (1500 ms after it was called).
  expect(r.closedAt - hooks.of('on_publish', stream)[0].at).toBeLessThan(1300);
  expect(await ownerOf(discovery.url, 'live', stream)).toBeNull();
  expect(closed.proc.logs().some((l) => l.msg === 'publish refused: on_publish unavailable (fail-closed)' && l.stream === `live/${stream}`)).toBe(true);
});

test('timeout, fail-open (webhookFailOpen): admitted and claimed', async () => {
  const stream = `slow${id}b`;
  const r = await publish(open, stream, 1000);
  expect(r.closed).toBe(false);
  expect(r.codes()).toEqual(['NetStream.Publish.Start']);
  await waitFor(async () => (await ownerOf(discovery.url, 'live', stream)) === 'origin-2', 5000, 'origin-2 to claim');
  expect(open.proc.logs().some((l) => l.msg === 'on_publish unavailable; publish allowed (webhookFailOpen)' && l.stream === `live/${stream}`)).toBe(true);
  expect(hooks.of('on_publish', stream)).toHaveLength(1);
  r.client.close();
});

test('retry: on_unpublish answered 500 twice is sent a third time, with backoff', async () => {
  const stream = `retry${id}`;
  const r = await publish(closed, stream, 500);
  await waitFor(async () => (await ownerOf(discovery.url, 'live', stream)) === 'origin-1', 5000, 'the claim');
  r.client.close();
  await waitFor(() => hooks.of('on_unpublish', stream).length === 3, 5000, 'three on_unpublish calls');
  const [a, b, c] = hooks.of('on_unpublish', stream);
  expect(b.at - a.at).toBeGreaterThanOrEqual(150); // 200 ms, then 400 ms
  expect(c.at - b.at).toBeGreaterThanOrEqual(350);
  expect([a, b, c].every((x) => x.raw === a.raw)).toBe(true);
  await new Promise((r2) => setTimeout(r2, 800));
  expect(hooks.of('on_unpublish', stream)).toHaveLength(3);
});

test('decisions are counted by reason in /metrics', async () => {
  const text = await (await fetch(`${closed.http}/metrics`)).text();
  expect(metricValue(text, 'cascade_origin_rejections_total{reason="hook_denied"}')).toBe(1);
  expect(metricValue(text, 'cascade_origin_rejections_total{reason="hook_unavailable"}')).toBe(1);
  expect(metricValue(text, 'cascade_origin_rejections_total{reason="play_hook_denied"}')).toBe(1);
});

describe('webhook bounds (origin-3: webhookMaxPending 2, default 64 KiB answer cap, fail-open)', () => {
  test('an on_publish answer over 64 KiB is a deny, even with webhookFailOpen: logged and counted', async () => {
    const stream = `huge${id}`;
    const r = await publish(capped, stream, 3000);
    expect(r.codes()).toEqual(['NetStream.Publish.Start', 'NetStream.Publish.Unauthorized']);
    expect(r.closed).toBe(true);
    expect(await ownerOf(discovery.url, 'live', stream)).toBeNull();
    await waitFor(() => capped.proc.logs().some((l) => l.msg === 'webhook answer too large: denied' && l.hook === 'on_publish'), 5000, 'the too-large log line');
    const text = await (await fetch(`${capped.http}/metrics`)).text();
    expect(metricValue(text, 'cascade_origin_webhook_answers_too_large_total{action="on_publish"}')).toBe(1);
    expect(metricValue(text, 'cascade_origin_rejections_total{reason="hook_denied"}')).toBe(1);
  });

  test('on_unpublish to a hook that never answers: at most 2 pending, the oldest dropped (request abandoned), warned and counted', async () => {
    const streams = [0, 1, 2, 3].map((i) => `stuck${id}${i}`);
    const pubs: RawPublish[] = [];
    for (const stream of streams) {
      const r = await publish(capped, stream, 300);
      expect(r.closed).toBe(false);
      pubs.push(r);
      await waitFor(async () => (await ownerOf(discovery.url, 'live', stream)) === 'origin-3', 5000, `the claim of ${stream}`);
    }
    // One at a time, so the order of the notifications is the order of the streams.
    for (const [i, stream] of streams.entries()) {
      pubs[i].client.close();
      await waitFor(() => hooks.of('on_unpublish', stream).length === 1, 5000, `on_unpublish of ${stream}`);
    }
    await waitFor(() => streams.slice(0, 2).every((s) => hooks.of('on_unpublish', s)[0].abandoned), 5000, 'the two oldest notifications abandoned');
    expect(streams.map((s) => hooks.of('on_unpublish', s)[0].abandoned)).toEqual([true, true, false, false]);
    const text = await (await fetch(`${capped.http}/metrics`)).text();
    expect(metricValue(text, 'cascade_origin_webhook_notifications_dropped_total{action="on_unpublish"}')).toBe(2);
    expect(metricValue(text, 'cascade_origin_webhook_notifications_pending')).toBe(2);
    await waitFor(() => capped.proc.logs().some((l) => l.msg === 'webhook notifications backlog full: oldest dropped'), 5000, 'the drop warning');
    expect(capped.proc.logs().find((l) => l.msg === 'webhook notifications backlog full: oldest dropped')).toMatchObject({ level: 40, hook: 'on_unpublish', maxPending: 2 });
    // The hook answers at last: nothing is pending any more.
    hooks.releaseHeld();
    await waitFor(async () => metricValue(await (await fetch(`${capped.http}/metrics`)).text(), 'cascade_origin_webhook_notifications_pending') === 0, 5000, 'no pending notification');
  });
});
