/**
 * The publish gateway in-process: an encoder (our RTMP client) publishes to an RtmpServer whose
 * sessions are handed to GatewayPublish, which pushes to scripted "origins" (PublishOrigin, same
 * process). Placement is a function of the test. Only loopback sockets this test opens.
 */
import { RtmpServer } from '../../edge/rtmp-server';
import { GatewayPublish, type GatewayDeps } from '../../edge/publish-gateway';
import { RtmpClient } from '../../protocol/rtmp/client';
import type { RtmpMessage } from '../../protocol/rtmp/message';
import type { AddressInfo } from 'node:net';
import { frameId, PublishOrigin, synth, type ReceivedPublish } from '../helpers/fake-origin';
import { silentLog } from '../helpers/origin-fakes';
import { waitFor } from '../helpers/processes';

jest.setTimeout(60_000);
const WAIT_MS = 20_000;

/** An encoder: publishes metadata, headers, then a frame (video + audio) every `frameMs`, a keyframe every `gop`. */
class Encoder {
  n = 0;
  readonly statuses: string[] = [];
  closed = false;
  private ts = 0;
  private timer?: NodeJS.Timeout;

  private constructor(readonly client: RtmpClient, private readonly gop: number) {
    client.on('status', (info) => this.statuses.push(String(info.code)));
    client.on('close', () => (this.closed = true));
  }

  static async publish(url: string, name: string, gop = 10, frameMs = 10): Promise<Encoder> {
    const client = await RtmpClient.connect(url, { timeoutMs: WAIT_MS });
    const enc = new Encoder(client, gop);
    try {
      await client.publish(name);
    } catch (err) {
      client.close();
      throw err;
    }
    client.sendMedia(synth.metadata());
    client.sendMedia(synth.avcHeader());
    client.sendMedia(synth.aacHeader());
    enc.timer = setInterval(() => enc.frame(), frameMs);
    return enc;
  }

  private frame(): void {
    if (this.closed) return clearInterval(this.timer);
    this.client.sendMedia(synth.frame(this.ts, this.n % this.gop === 0, 9, this.n));
    this.client.sendMedia(synth.audio(this.ts));
    this.n++;
    this.ts += 10;
  }

  stop(): void {
    clearInterval(this.timer);
    this.client.close();
  }
}

const framesOf = (p: ReceivedPublish): Array<{ n: number; key: boolean }> => p.media.flatMap((m) => frameId(m) ?? []);
const isHeader = (m: RtmpMessage): boolean => m.type === 18 || ((m.type === 9 || m.type === 8) && m.payload[1] === 0);

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function publishOrigin(): Promise<{ o: PublishOrigin; base: string }> {
  const o = new PublishOrigin();
  const url = await o.listen();
  cleanups.push(() => o.close());
  return { o, base: `${url}/live` };
}

/** An edge RTMP listener whose publishes go through GatewayPublish with `deps`. */
async function gateway(deps: Partial<GatewayDeps> & Pick<GatewayDeps, 'place'>): Promise<{ url: string; gateways: GatewayPublish[]; moves: Array<[string, string, string]> }> {
  const gateways: GatewayPublish[] = [];
  const moves: Array<[string, string, string]> = [];
  const server = new RtmpServer({}, (session) => {
    session.on('publish', (req) => {
      const gw = new GatewayPublish(session, req, { repushGraceMs: WAIT_MS, log: silentLog, onMoved: (f, t, r) => moves.push([f, t, r]), ...deps });
      gateways.push(gw);
      void gw.start();
    });
  });
  await server.listen(0, '127.0.0.1');
  cleanups.push(async () => {
    for (const g of gateways) g.close('test over');
    await server.close();
  });
  return { url: `rtmp://127.0.0.1:${(server.server.address() as AddressInfo).port}/live`, gateways, moves };
}

async function encoder(url: string, name = 'cam?k=v', gop = 10): Promise<Encoder> {
  const enc = await Encoder.publish(url, name, gop);
  cleanups.push(() => enc.stop());
  return enc;
}

test('a publish is forwarded to the origin placement picks, with the encoder\'s query, media in order', async () => {
  const a = await publishOrigin();
  const asked: Array<[string, string]> = [];
  const gw = await gateway({ place: async (app, name) => (asked.push([app, name]), a.base) });
  const enc = await encoder(gw.url);
  expect(asked).toEqual([['live', 'cam']]);
  expect(a.o.publishes.map((p) => p.name)).toEqual(['cam?k=v']);
  expect(enc.statuses).toContain('NetStream.Publish.Start');
  const pushed = a.o.publishes[0];
  await waitFor(() => framesOf(pushed).length >= 20, WAIT_MS, '20 frames at the origin');
  expect(pushed.media.slice(0, 3).every(isHeader)).toBe(true);
  const frames = framesOf(pushed);
  expect(frames[0]).toMatchObject({ n: 0, key: true });
  expect(frames.every((f, i) => f.n === i)).toBe(true);
  expect(gw.gateways[0].origin).toBe(a.base);
});

test('no origin takes the publish: the encoder gets Publish.Rejected', async () => {
  const a = await publishOrigin();
  a.o.refuse = true;
  const gw = await gateway({ place: async () => a.base });
  await expect(Encoder.publish(gw.url, 'cam')).rejects.toThrow(/Publish.Rejected/);
  const down = await gateway({
    place: async () => {
      throw new Error('placement down');
    },
  });
  await expect(Encoder.publish(down.url, 'cam')).rejects.toThrow(/Publish.Rejected/);
});

test('the origin drops the push (shed, crash): the gateway re-places and re-pushes headers and the cached GOP; the encoder notices nothing', async () => {
  const a = await publishOrigin();
  const b = await publishOrigin();
  const avoided: Array<readonly string[]> = [];
  const gw = await gateway({
    place: async (_app, _name, avoid = []) => {
      avoided.push(avoid);
      return avoid.includes(a.base) ? b.base : a.base;
    },
  });
  // GOPs of 3 s: the re-push must land within the GOP the origin lost for nothing to be lost, also on a loaded box.
  const enc = await encoder(gw.url, 'cam?k=v', 300);
  const first = a.o.publishes[0];
  await waitFor(() => framesOf(first).some((f) => f.n >= 5), WAIT_MS, 'the middle of a GOP at origin 1');
  a.o.dropPublishers();
  await waitFor(() => b.o.publishes.length === 1 && framesOf(b.o.publishes[0]).length >= 20, WAIT_MS, 'the re-push to origin 2');
  expect(avoided.at(-1)).toEqual([a.base]);
  const second = b.o.publishes[0];
  expect(second.name).toBe('cam?k=v');
  // Primer: metadata + sequence headers, then the cached GOP from its keyframe.
  expect(second.media.slice(0, 3).every(isHeader)).toBe(true);
  const frames = framesOf(second);
  expect(frames[0].key).toBe(true);
  expect(frames.every((f, i) => i === 0 || f.n === frames[i - 1].n + 1)).toBe(true);
  // Nothing lost: the replayed GOP starts at or before the first frame origin 1 did not get.
  const lastAtA = framesOf(first).at(-1)?.n ?? -1;
  expect(frames[0].n).toBeLessThanOrEqual(lastAtA + 1);
  expect(gw.gateways[0].moves).toBe(1);
  expect(gw.gateways[0].origin).toBe(b.base);
  expect(gw.moves).toEqual([[a.base, b.base, 'origin closed the push']]);
  expect(enc.closed).toBe(false);
  expect(enc.statuses).toEqual(['NetStream.Publish.Start']);
});

test('a ReconnectRequest moves the push at the next keyframe: headers first, no frame lost or doubled, the encoder notices nothing', async () => {
  const a = await publishOrigin();
  const b = await publishOrigin();
  const gw = await gateway({ place: async () => a.base, allowsUrl: (url) => url.startsWith('rtmp://127.0.0.1:') });
  const enc = await encoder(gw.url);
  const first = a.o.publishes[0];
  await waitFor(() => framesOf(first).length >= 15, WAIT_MS, 'frames at origin 1');
  a.o.reconnect(b.base);
  await waitFor(() => b.o.publishes.length === 1 && framesOf(b.o.publishes[0]).length >= 20, WAIT_MS, 'the push to move to origin 2');
  await waitFor(() => first.closed, WAIT_MS, 'the old push to close');
  const second = b.o.publishes[0];
  const atA = framesOf(first).map((f) => f.n);
  const atB = framesOf(second);
  const firstFrameAt = second.media.findIndex((m) => frameId(m) !== null);
  expect(second.media.slice(0, firstFrameAt).filter(isHeader).length).toBeGreaterThanOrEqual(3);
  expect(atB[0].key).toBe(true);
  expect(atB[0].n).toBe((atA.at(-1) ?? -2) + 1);
  expect(atA.every((n, i) => n === i)).toBe(true);
  expect(atB.every((f, i) => i === 0 || f.n === atB[i - 1].n + 1)).toBe(true);
  expect(gw.moves).toEqual([[a.base, b.base, 'reconnect request']]);
  expect(enc.closed).toBe(false);
  expect(enc.statuses).toEqual(['NetStream.Publish.Start']);
});

test('no origin takes the publish back within repushGraceMs: the encoder is closed', async () => {
  const a = await publishOrigin();
  const gw = await gateway({ place: async () => a.base, repushGraceMs: 500 });
  const enc = await encoder(gw.url);
  await waitFor(() => a.o.publishes.length === 1, WAIT_MS, 'the push');
  a.o.refuse = true;
  a.o.dropPublishers();
  await waitFor(() => enc.closed, WAIT_MS, 'the encoder to be closed');
  expect(a.o.open).toHaveLength(0);
});

/**
 * Regression: the old origin let go before the keyframe the prepared move waited for. The gateway
 * used to place and push again, leaving the prepared push open and unfed at the new origin (holding
 * the stream there); when a keyframe came during that placement, the media stopped until it ended.
 */
test('the origin asks to move, then drops the push before the next keyframe: the prepared push carries on with the cached GOP', async () => {
  const a = await publishOrigin();
  const b = await publishOrigin();
  let placed = 0;
  const gw = await gateway({
    place: async (_app, _name, avoid = []) => {
      placed++;
      return avoid.includes(a.base) ? b.base : a.base;
    },
  });
  const enc = await encoder(gw.url, 'cam?k=v', 300);
  const first = a.o.publishes[0];
  await waitFor(() => framesOf(first).length >= 5, WAIT_MS, 'frames at origin 1');
  a.o.reconnect(b.base);
  await waitFor(() => b.o.publishes.length === 1, WAIT_MS, 'the new push opened for the move');
  a.o.dropPublishers(); // the old origin lets go before the next keyframe (its grace is shorter than the GOP)
  await waitFor(() => b.o.open.some((p) => framesOf(p).length >= 20), WAIT_MS, 'media flowing to origin 2');
  expect(placed).toBe(1);
  expect(b.o.publishes).toHaveLength(1);
  const live = b.o.publishes[0];
  const frames = framesOf(live);
  // Headers, then the cached GOP from its keyframe: nothing origin 1 did not get is lost.
  expect(live.media.slice(0, 3).every(isHeader)).toBe(true);
  expect(frames[0]).toMatchObject({ n: 0, key: true });
  expect(frames.every((f, i) => i === 0 || f.n === frames[i - 1].n + 1)).toBe(true);
  // Past the next keyframe and some: still that one push, keeping up with the encoder.
  await waitFor(() => enc.n >= 330, WAIT_MS, 'the next keyframe and 30 frames more');
  await waitFor(() => (framesOf(live).at(-1)?.n ?? 0) >= enc.n - 10, WAIT_MS, 'the push to keep up with the encoder');
  expect(a.o.open).toHaveLength(0);
  expect(b.o.open).toEqual([live]);
  expect(gw.moves).toEqual([[a.base, b.base, 'origin closed the push']]);
  expect(enc.closed).toBe(false);
  expect(enc.statuses).toEqual(['NetStream.Publish.Start']);
});

test('a ReconnectRequest to an origin that refuses: the gateway lets go of the old one and re-pushes where placement says', async () => {
  const a = await publishOrigin();
  const b = await publishOrigin();
  const c = await publishOrigin();
  b.o.refuse = true; // e.g. the old lease is not released yet
  const gw = await gateway({ place: async (_app, _name, avoid = []) => (avoid.includes(a.base) ? c.base : a.base) });
  const enc = await encoder(gw.url);
  await waitFor(() => framesOf(a.o.publishes[0]).length >= 5, WAIT_MS, 'frames at origin 1');
  a.o.reconnect(b.base);
  await waitFor(() => c.o.publishes.length === 1 && framesOf(c.o.publishes[0]).length >= 10, WAIT_MS, 'the re-push to origin 3');
  expect(b.o.publishes).toHaveLength(0);
  await waitFor(() => a.o.open.length === 0, WAIT_MS, 'the old push to close');
  const frames = framesOf(c.o.publishes[0]);
  expect(frames[0].key).toBe(true);
  expect(gw.moves).toEqual([[a.base, c.base, 'reconnect request']]);
  expect(enc.closed).toBe(false);
});

test('the encoder leaves: the push to the origin is closed', async () => {
  const a = await publishOrigin();
  const gw = await gateway({ place: async () => a.base });
  const enc = await encoder(gw.url);
  await waitFor(() => a.o.open.length === 1 && framesOf(a.o.open[0]).length >= 3, WAIT_MS, 'the push');
  enc.stop();
  await waitFor(() => a.o.open.length === 0, WAIT_MS, 'the push to close');
  expect(gw.gateways[0].moves).toBe(0);
});

/** Regression: the gateway switched to the dead push at the keyframe and closed the live one (a silent stall). */
test('the push prepared for a move dies before the keyframe: the gateway stays on the current origin', async () => {
  const a = await publishOrigin();
  const b = await publishOrigin();
  const gw = await gateway({ place: async () => a.base });
  const enc = await encoder(gw.url, 'cam?k=v', 100);
  await waitFor(() => framesOf(a.o.publishes[0]).length >= 5, WAIT_MS, 'frames at origin 1');
  a.o.reconnect(b.base);
  await waitFor(() => b.o.publishes.length === 1, WAIT_MS, 'the new push opened for the move');
  b.o.dropPublishers();
  await waitFor(() => b.o.open.length === 0, WAIT_MS, 'the prepared push to die');
  const n0 = enc.n;
  await waitFor(() => enc.n >= Math.ceil((n0 + 1) / 100) * 100 + 30, WAIT_MS, 'the next keyframe and 30 frames more');
  // Media still reaches an open push (origin 1 never let go).
  const open = [...a.o.open, ...b.o.open];
  expect(open).toEqual([a.o.publishes[0]]);
  await waitFor(() => (framesOf(open[0]).at(-1)?.n ?? 0) >= enc.n - 10, WAIT_MS, 'the open push to keep up with the encoder');
  expect(gw.gateways[0].origin).toBe(a.base);
  expect(gw.moves).toEqual([]);
  expect(enc.closed).toBe(false);
});
