import type { Logger } from './logger';

/** Every service: start, drain within a deadline, stop (idempotent). */
export interface Service {
  start(): Promise<void>;
  drain(deadlineMs: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Runs a service as the main thing of this process: SIGINT/SIGTERM drain then
 * stop and exit 0; a second signal exits at once. Unexpected errors are logged,
 * not swallowed, and end the process with status 1.
 */
export function runMain(service: Service, log: Logger, drainMs = 0): void {
  let stopping = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (stopping) {
      log.warn({ sig }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ sig }, 'stopping');
    void (async () => {
      try {
        if (drainMs > 0) await service.drain(drainMs);
        await service.stop();
        process.exit(0);
      } catch (err) {
        log.error({ err }, 'stop failed');
        process.exit(1);
      }
    })();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'uncaught exception');
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    log.error({ err }, 'unhandled rejection');
  });
  service.start().catch((err: unknown) => {
    log.fatal({ err }, 'start failed');
    process.exit(1);
  });
}
