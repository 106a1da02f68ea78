import { Writable } from 'node:stream';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import type { Logger } from '../../../common/logger';
import { DiscoveryConfig, loadDiscoveryConfig } from '../../../discovery/config';
import { buildDiscoveryApp } from '../../../discovery/app';
import { MemoryStore } from '../../../discovery/store/memory-store';
import { fakeClock, TestClock } from './store-contract';

export const silentLogger = (): Logger => pino({ level: 'silent' });

/** A logger whose JSON lines are collected in `lines`. */
export function capturingLogger(level = 'trace'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  return { logger: pino({ level }, stream), lines };
}

/**
 * Port 0, and no owner liveness probe: the test origins' http URLs point nowhere, so with the probe
 * every conflicting claim would break the lease (liveness.test.ts turns it on against real servers).
 * Any advertised host: route tests use example.* names (auth.test.ts covers originHosts).
 */
export function testConfig(overrides: Partial<DiscoveryConfig> = {}): DiscoveryConfig {
  return loadDiscoveryConfig({ overrides: { port: 0, livenessCheck: false, originHosts: ['*'], ...overrides } });
}

export interface TestApp {
  app: FastifyInstance;
  store: MemoryStore;
  clock: TestClock;
  config: DiscoveryConfig;
}

export async function makeApp(overrides: Partial<DiscoveryConfig> = {}, logger: Logger = silentLogger()): Promise<TestApp> {
  const clock = fakeClock();
  const store = new MemoryStore({ now: clock.now });
  const config = testConfig(overrides);
  const app = buildDiscoveryApp(store, config, logger);
  await app.ready();
  return { app, store, clock, config };
}

export const ORIGIN_A = { rtmp: 'rtmp://127.0.0.1:19351', http: 'http://127.0.0.1:18081', api: '127.0.0.1:8001', region: 'eu', capacity: 24 };
export const ORIGIN_B = { rtmp: 'rtmp://10.1.2.3:1937', http: 'http://10.1.2.3:8082' };
