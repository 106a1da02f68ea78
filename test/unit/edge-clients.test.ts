/**
 * The edge's `GET /api/v1/clients`: the RTMP and HTTP-FLV players its fan-out hubs serve now, in
 * SRS's client shape, and `DELETE /api/v1/clients/:id` kicks one (edge/clients.ts).
 */
import http from 'node:http';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { EdgeClients } from '../../edge/clients';
import { StreamHub, type FanoutViewer } from '../../edge/fanout/hub';
import { createHttpApp } from '../../mediaserver/http-app';
import { registerNodeApi, streamId } from '../../mediaserver/node-api';

const log = pino({ level: 'silent' });

function viewer(kind: 'rtmp' | 'flv', id: string, ip: string): FanoutViewer & { kicked: string[] } {
  const kicked: string[] = [];
  return {
    kind,
    backlog: 0,
    write: () => undefined,
    end: () => undefined,
    kick: (reason) => kicked.push(reason),
    client: { id, ip, createTime: Date.now() - 2000, inBytes: 300, outBytes: 45_000 },
    kicked,
  };
}

describe('edge client list', () => {
  let app: FastifyInstance;
  const hub = new StreamHub();
  const rtmp = viewer('rtmp', 'sess-1', '10.0.0.9:51000');
  const flv = viewer('flv', 'flv-abc', '[::1]:52000');
  const anonymous: FanoutViewer = { kind: 'flv', backlog: 0, write: () => undefined, end: () => undefined, kick: () => undefined };
  const streams = [{ app: 'live', name: 'cam1', hub, viewers: 2 }];

  beforeAll(async () => {
    hub.add(rtmp);
    hub.add(flv);
    hub.add(anonymous);
    app = createHttpApp(log, (handler) => http.createServer(handler));
    registerNodeApi(app, { media: new EdgeClients(() => streams), config: { id: 'edge-1', host: '127.0.0.1', rtmpPort: 1935, apiTokens: ['edge-token-0123456789'] }, streams: () => streams, log });
    await app.ready();
  });
  afterAll(async () => {
    hub.end('test over');
    await app.close();
  });

  test('lists every player with an identified connection, in the SRS client shape', async () => {
    const body = (await app.inject('/api/v1/clients')).json();
    expect(body.code).toBe(0);
    expect(body.clients).toHaveLength(2);
    expect(body.clients[0]).toMatchObject({
      id: 'sess-1', ip: '10.0.0.9', type: 'rtmp-play', publish: false, name: 'cam1', url: '/live/cam1',
      stream: streamId('live', 'cam1'), send_bytes: 45_000, recv_bytes: 300, app: 'live', protocol: 'rtmp',
    });
    expect(body.clients[0].alive).toBeGreaterThanOrEqual(2);
    expect(body.clients[1]).toMatchObject({ id: 'flv-abc', type: 'flv-play', protocol: 'flv' });
    expect((await app.inject('/api/v1/clients/flv-abc')).json().client).toMatchObject({ id: 'flv-abc' });
    expect((await app.inject('/api/v1/summaries')).json().data.system.conn_srs).toBe(2);
  });

  test('the stream keeps the viewer count the edge reports', async () => {
    expect((await app.inject('/api/v1/streams')).json().streams[0]).toMatchObject({ name: 'cam1', clients: 2 });
  });

  test('DELETE kicks the player (with the write token); unknown ids are 404', async () => {
    expect((await app.inject({ method: 'DELETE', url: '/api/v1/clients/sess-1' })).statusCode).toBe(401);
    const ok = await app.inject({ method: 'DELETE', url: '/api/v1/clients/sess-1', headers: { authorization: 'Bearer edge-token-0123456789' } });
    expect(ok.statusCode).toBe(200);
    expect(rtmp.kicked).toEqual(['closed by the node API']);
    expect((await app.inject({ method: 'DELETE', url: '/api/v1/clients/nope', headers: { authorization: 'Bearer edge-token-0123456789' } })).statusCode).toBe(404);
  });
});
