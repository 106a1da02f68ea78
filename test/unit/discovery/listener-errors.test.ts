/**
 * Errors that must not break anything are logged, not dropped: a throwing store-event listener
 * (EventFanout) and a throwing or fed-garbage event subscriber (HttpDiscoveryClient).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { HttpDiscoveryClient } from '../../../discovery/client';
import { EventFanout } from '../../../discovery/store/fanout';
import type { DiscoveryEvent } from '../../../discovery/types';
import { sseMessage } from '../../../protocol/sse';
import { waitFor } from '../../helpers/processes';

/** A pino logger whose lines land in `lines`. */
function capture(): { log: pino.Logger; lines: Array<{ level: number; msg: string; suppressed?: number; event?: string }> } {
  const lines: Array<{ level: number; msg: string }> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as { level: number; msg: string });
      done();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines };
}

const DOWN: DiscoveryEvent = { type: 'origin.down', data: { id: 'o1', reason: 'expired' } } as DiscoveryEvent;

test('EventFanout: a throwing listener is logged at error (throttled) and the others still get the event', async () => {
  const { log, lines } = capture();
  const fanout = new EventFanout(log);
  const got: string[] = [];
  fanout.add(() => {
    throw new Error('listener bug');
  });
  fanout.add((e) => got.push(e.type));
  fanout.emit(DOWN);
  fanout.emit(DOWN);
  expect(got).toEqual(['origin.down', 'origin.down']);
  await waitFor(() => lines.length > 0, 2000, 'the log line');
  expect(lines).toHaveLength(1); // the second within 10 s is counted, not logged
  expect(lines[0]).toMatchObject({ level: 50, msg: expect.stringContaining('listener threw'), event: 'origin.down', suppressed: 0 });
});

describe('HttpDiscoveryClient.subscribeEvents', () => {
  let server: Server;
  let url: string;

  beforeAll(async () => {
    server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      // Not JSON, then two good events; the stream stays open.
      res.write('event: origin.down\ndata: {not json\n\n');
      res.write(sseMessage('origin.down', { id: 'o1', reason: 'expired' }));
      res.write(sseMessage('origin.down', { id: 'o2', reason: 'expired' }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  test('a listener that throws and data that is not JSON are logged; the subscription goes on', async () => {
    const { log, lines } = capture();
    const client = new HttpDiscoveryClient(url, { logger: log });
    const seen: string[] = [];
    const sub = client.subscribeEvents((e) => {
      const id = (e.data as { id: string }).id;
      seen.push(id);
      if (id === 'o1') throw new Error('consumer bug');
    });
    try {
      await waitFor(() => seen.length === 2, 5000, 'both good events');
      expect(seen).toEqual(['o1', 'o2']);
      expect(lines.find((l) => l.level === 40)).toMatchObject({ msg: expect.stringContaining('not JSON'), event: 'origin.down' });
      expect(lines.find((l) => l.level === 50)).toMatchObject({ msg: expect.stringContaining('listener threw'), event: 'origin.down' });
    } finally {
      await sub.close();
      await client.close();
    }
  });
});
