import { createServer } from 'node:http';
import { Writable } from 'node:stream';
import pino from 'pino';
import { createHttpApp } from '../../mediaserver/http-app';
import { lazyChildLoggerFactory } from '../../mediaserver/lazy-request-logger';

function capture(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level: 'info' }, dest), lines };
}

describe('request loggers are built on first use', () => {
  test('no child logger until a request logs; then the same bindings as an eager child', () => {
    const { logger, lines } = capture();
    const child = jest.spyOn(logger, 'child');
    const log = lazyChildLoggerFactory(logger, { reqId: 'req-7' }, {});
    expect(child).not.toHaveBeenCalled();
    expect(log.level).toBe('info');
    log.debug('below the level');
    log.info({ stream: 'live/a' }, 'refused');
    log.warn('again');
    expect(child).toHaveBeenCalledTimes(1);
    expect(lines).toEqual([
      expect.objectContaining({ reqId: 'req-7', stream: 'live/a', msg: 'refused', level: 30 }),
      expect.objectContaining({ reqId: 'req-7', msg: 'again', level: 40 }),
    ]);
    expect((log.child({ session: 's1' }) as pino.Logger).bindings()).toEqual({ reqId: 'req-7', session: 's1' });
  });

  test('the HTTP app: silent requests build no child logger, a request that logs carries its reqId', async () => {
    const { logger, lines } = capture();
    const app = createHttpApp(logger, (handler) => createServer(handler));
    app.get('/quiet', async () => ({ ok: true }));
    app.get('/loud', async (req) => {
      req.log.info('logged');
      return { ok: true };
    });
    await app.ready();
    try {
      const child = jest.spyOn(Object.getPrototypeOf(app.log) as pino.Logger, 'child');
      expect((await app.inject({ url: '/quiet' })).statusCode).toBe(200);
      expect(child).not.toHaveBeenCalled();
      expect(lines).toEqual([]);
      expect((await app.inject({ url: '/loud' })).statusCode).toBe(200);
      expect(lines).toEqual([expect.objectContaining({ component: 'http', reqId: expect.any(String), msg: 'logged' })]);
    } finally {
      await app.close();
    }
  });
});
