import { randomBytes } from 'node:crypto';
import { memberCredential } from '../../common/cluster-credentials';
import { freePort, ownerOf as ownerIn } from './wait';
import { startService, TestProcess } from './processes';

export interface NodeHandle {
  id: string;
  proc: TestProcess;
  rtmp: string;
  http: string;
}

export interface TestCluster {
  discoveryUrl: string;
  /** The cluster secret every member got in its environment ('' with `open: true`). */
  clusterSecret: string;
  /** `Authorization` header value of an admin credential (discovery writes, node API writes); '' with `open: true`. */
  adminAuth: string;
  /** Replaced by `restartDiscovery()`. */
  discovery: TestProcess;
  /** Starts discovery again on the same port with the same flags (after a test killed it). */
  restartDiscovery(): Promise<TestProcess>;
  /** Starts origin i (0-based) again with the same id, ports and flags: a new incarnation. */
  restartOrigin(i: number): Promise<TestProcess>;
  origins: NodeHandle[];
  edge: NodeHandle;
  all(): TestProcess[];
  stop(): Promise<void>;
}

/** discovery (memory) + N origins + one edge, each its own process on free ports. */
export async function startCluster(
  opts: {
    origins?: number;
    edgeFlags?: string[];
    originFlags?: string[];
    discoveryFlags?: string[];
    /** Extra env of the origins / the edge (env-only secrets: CASCADE_CLUSTER_SECRET, CASCADE_PLAY_SECRET). */
    originEnv?: Record<string, string>;
    edgeEnv?: Record<string, string>;
    /**
     * No cluster secret: discovery in its open mode (every caller admin). Default: a random secret
     * in every member's environment, as `npm start` runs (docs/security.md).
     */
    open?: boolean;
  } = {},
): Promise<TestCluster> {
  const started: TestProcess[] = [];
  const clusterSecret = opts.open ? '' : (opts.originEnv?.CASCADE_CLUSTER_SECRET ?? randomBytes(32).toString('hex'));
  const secretEnv: Record<string, string> = clusterSecret ? { CASCADE_CLUSTER_SECRET: clusterSecret } : {};
  try {
    const dport = await freePort();
    const discoveryUrl = `http://127.0.0.1:${dport}`;
    const startDiscovery = async (): Promise<TestProcess> => {
      const p = await startService('discovery', ['--port', String(dport), ...(opts.discoveryFlags ?? [])], `${discoveryUrl}/healthz`, 'discovery', secretEnv);
      started.push(p);
      return p;
    };
    const discovery = await startDiscovery();
    const origins: NodeHandle[] = [];
    const originStarts: Array<() => Promise<TestProcess>> = [];
    for (let i = 1; i <= (opts.origins ?? 2); i++) {
      const [rp, hp] = [await freePort(), await freePort()];
      const id = `origin-${i}`;
      const startOrigin = async (): Promise<TestProcess> => {
        const p = await startService(
          'origin',
          ['--id', id, '--rtmp-port', String(rp), '--http-port', String(hp), '--discovery-url', discoveryUrl, '--heartbeat-ms', '500', ...(opts.originFlags ?? [])],
          `http://127.0.0.1:${hp}/healthz`,
          id,
          { ...secretEnv, ...(opts.originEnv ?? {}) },
        );
        started.push(p);
        return p;
      };
      originStarts.push(startOrigin);
      origins.push({ id, proc: await startOrigin(), rtmp: `rtmp://127.0.0.1:${rp}`, http: `http://127.0.0.1:${hp}` });
    }
    const [erp, ehp] = [await freePort(), await freePort()];
    const edgeProc = await startService(
      'edge',
      ['--rtmp-port', String(erp), '--http-port', String(ehp), '--origins', origins.map((o) => o.rtmp).join(','), '--discovery-url', discoveryUrl, ...(opts.edgeFlags ?? [])],
      `http://127.0.0.1:${ehp}/healthz`,
      'edge-1',
      { ...secretEnv, ...(opts.edgeEnv ?? {}) },
    );
    started.push(edgeProc);
    const edge = { id: 'edge-1', proc: edgeProc, rtmp: `rtmp://127.0.0.1:${erp}`, http: `http://127.0.0.1:${ehp}` };
    const cluster: TestCluster = {
      discoveryUrl,
      clusterSecret,
      adminAuth: clusterSecret ? `Bearer ${memberCredential(clusterSecret, 'admin', 'test')}` : '',
      discovery,
      restartDiscovery: async () => (cluster.discovery = await startDiscovery()),
      restartOrigin: async (i) => (origins[i].proc = await originStarts[i]()),
      origins,
      edge,
      all: () => started,
      stop: async () => {
        await Promise.all(started.map((p) => p.stop()));
      },
    };
    return cluster;
  } catch (err) {
    await Promise.all(started.map((p) => p.stop()));
    throw err;
  }
}

/** The id of the origin discovery says owns live/NAME, or null. */
export async function ownerOf(cluster: Pick<TestCluster, 'discoveryUrl'>, name: string): Promise<string | null> {
  return ownerIn(cluster.discoveryUrl, 'live', name);
}
