import net from 'node:net';

/** docs/design.md section 10 (contract): the default ports of the local cluster. */
export const DEFAULT_PORTS = {
  edgeRtmp: 1935,
  edgeHttp: 8080,
  originRtmp: [1936, 1937],
  originHttp: [8081, 8082],
  discoveryHttp: 8090,
} as const;

export function canListen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

/**
 * Hands out ports: the fixed defaults (plus offset) first, and for extra
 * origins/edges the next port after the highest one given in that family that
 * is neither taken by this plan nor busy on the machine.
 */
export class PortPlan {
  private readonly used = new Set<number>();
  constructor(private readonly host: string, private readonly offset: number) {}

  fixed(port: number): number {
    const p = port + this.offset;
    this.used.add(p);
    return p;
  }

  async next(after: number): Promise<number> {
    for (let p = after + 1; p < 65536; p++) {
      if (this.used.has(p)) continue;
      if (await canListen(p, this.host)) {
        this.used.add(p);
        return p;
      }
    }
    throw new Error(`no free port above ${after}`);
  }
}
