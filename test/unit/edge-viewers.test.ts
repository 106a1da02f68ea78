import { createServer, get, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chunked, flvViewer } from '../../edge/viewers';

describe('HTTP-FLV viewer writes', () => {
  test.each<[string, string, string]>([
    // case, body → the HTTP/1.1 chunk on the wire (size in hex)
    ['one byte', 'a', '1\r\na\r\n'],
    ['13 bytes', 'FLV-tag-bytes', 'd\r\nFLV-tag-bytes\r\n'],
    ['300 bytes', 'x'.repeat(300), `12c\r\n${'x'.repeat(300)}\r\n`],
  ])('chunked: %s is framed as one chunk', (_case, body, wire) => {
    expect(chunked(Buffer.from(body, 'latin1')).toString('latin1')).toBe(wire);
  });

  test('the same buffer (one batch, every FLV viewer in turn) is framed once', () => {
    const batch = Buffer.from('batch');
    const first = chunked(batch);
    expect(chunked(batch)).toBe(first);
    expect(chunked(Buffer.from('batch'))).not.toBe(first); // another batch with equal bytes: framed anew
  });

  describe('over a real HTTP server', () => {
    let server: Server;
    let port: number;
    const handler = jest.fn<void, [IncomingMessage, ServerResponse]>();

    beforeAll(async () => {
      server = createServer((req, res) => handler(req, res));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as AddressInfo).port;
    });
    afterAll(async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    const fetchBody = (headers: Record<string, string> = {}): Promise<{ body: Buffer; encoding?: string }> =>
      new Promise((resolve, reject) => {
        get({ host: '127.0.0.1', port, path: '/live/x.flv', headers }, (res) => {
          const parts: Buffer[] = [];
          res.on('data', (b: Buffer) => parts.push(b));
          res.on('end', () => resolve({ body: Buffer.concat(parts), encoding: res.headers['transfer-encoding'] }));
          res.on('error', reject);
        }).on('error', reject);
      });

    test('a client reads exactly the bytes written, chunked, and the end of the response', async () => {
      handler.mockImplementation((req, res) => {
        res.writeHead(200, { 'Content-Type': 'video/x-flv' });
        res.flushHeaders();
        const v = flvViewer(req, res);
        const shared = Buffer.from('tag-2');
        v.write(Buffer.from('FLV-header+tag-1'));
        v.write(shared);
        v.write(Buffer.alloc(0)); // nothing: an empty chunk would end the body
        v.write(shared);
        v.end('done');
        v.write(Buffer.from('after the end: dropped'));
      });
      const got = await fetchBody();
      expect(got.encoding).toBe('chunked');
      expect(got.body.toString('latin1')).toBe('FLV-header+tag-1tag-2tag-2');
    });
  });
});
