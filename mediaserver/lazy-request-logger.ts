import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, LevelWithSilentOrString, LogFn } from 'pino';

/**
 * A request's logger that becomes `parent.child(bindings, opts)` on first use. Fastify makes a
 * child logger (with `reqId`) for every request; most requests here (HLS playlists and segments)
 * never log, so the child is built only for those that do (errors, refusals). What a line carries
 * is the same either way.
 */
class LazyChildLogger {
  private real: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly opts: ChildLoggerOptions,
  ) {}

  private get logger(): FastifyBaseLogger {
    return (this.real ??= this.parent.child(this.bindings, this.opts));
  }

  get level(): LevelWithSilentOrString {
    return this.real?.level ?? this.opts.level ?? this.parent.level;
  }

  set level(level: LevelWithSilentOrString) {
    this.logger.level = level;
  }

  readonly fatal: LogFn = (...args: Parameters<LogFn>) => this.logger.fatal(...args);
  readonly error: LogFn = (...args: Parameters<LogFn>) => this.logger.error(...args);
  readonly warn: LogFn = (...args: Parameters<LogFn>) => this.logger.warn(...args);
  readonly info: LogFn = (...args: Parameters<LogFn>) => this.logger.info(...args);
  readonly debug: LogFn = (...args: Parameters<LogFn>) => this.logger.debug(...args);
  readonly trace: LogFn = (...args: Parameters<LogFn>) => this.logger.trace(...args);
  readonly silent: LogFn = (...args: Parameters<LogFn>) => this.logger.silent(...args);

  child(bindings: Bindings, opts?: ChildLoggerOptions): FastifyBaseLogger {
    return this.logger.child(bindings, opts);
  }

  isLevelEnabled(level: string): boolean {
    return (this.logger as FastifyBaseLogger & { isLevelEnabled(level: string): boolean }).isLevelEnabled(level);
  }
}

/** Fastify's `childLoggerFactory`: request loggers built on first use (LazyChildLogger). */
export function lazyChildLoggerFactory(logger: FastifyBaseLogger, bindings: Bindings, opts: ChildLoggerOptions): FastifyBaseLogger {
  return new LazyChildLogger(logger, bindings, opts) as unknown as FastifyBaseLogger;
}
