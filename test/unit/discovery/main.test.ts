import type { Service } from '../../../common/lifecycle';
import { ConfigError } from '../../../common/config';

const mockRunMain = jest.fn<void, [Service, unknown, number?]>();
jest.mock('../../../common/lifecycle', () => ({ ...jest.requireActual<object>('../../../common/lifecycle'), runMain: mockRunMain }));

import { mainDiscovery } from '../../../discovery/main';
import { DiscoveryService } from '../../../discovery/service';

describe('mainDiscovery', () => {
  afterEach(() => mockRunMain.mockReset());

  it('wires config (env + flags), a memory store and the service into mockRunMain', async () => {
    const saved = process.env.CASCADE_ORIGIN_TTL_MS;
    process.env.CASCADE_ORIGIN_TTL_MS = '4321';
    try {
      await mainDiscovery(['--port', '0', '--log-level', 'silent']);
    } finally {
      if (saved === undefined) delete process.env.CASCADE_ORIGIN_TTL_MS;
      else process.env.CASCADE_ORIGIN_TTL_MS = saved;
    }
    expect(mockRunMain).toHaveBeenCalledTimes(1);
    const service = mockRunMain.mock.calls[0][0] as DiscoveryService;
    expect(service).toBeInstanceOf(DiscoveryService);
    expect(service.config).toMatchObject({ port: 0, originTtlMs: 4321, logLevel: 'silent' });
    expect(service.store.kind).toBe('memory');
    await service.start();
    try {
      const res = await fetch(`${service.url}/healthz`);
      expect(await res.json()).toEqual({ status: 'ok', store: 'memory' });
    } finally {
      await service.stop();
    }
  });

  it('bad flags throw a ConfigError before anything starts', async () => {
    await expect(mainDiscovery(['--bogus', '1'])).rejects.toBeInstanceOf(ConfigError);
    await expect(mainDiscovery(['positional'])).rejects.toBeInstanceOf(ConfigError);
    expect(mockRunMain).not.toHaveBeenCalled();
  });
});
