import { Type, Static } from '@sinclair/typebox';
import { HlsConfigFields } from '../mediaserver/hls-config';

export const OriginConfigSchema = Type.Object({
  id: Type.String({ default: 'origin-1', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$', description: 'Unique origin id in discovery.' }),
  host: Type.String({ default: '127.0.0.1', description: 'Address the RTMP and HTTP listeners bind to.' }),
  publicHost: Type.String({ default: '127.0.0.1', description: 'Host name edges and players use to reach this origin (advertised in discovery and redirects).' }),
  rtmpPort: Type.Integer({ default: 1936, minimum: 1, maximum: 65535, description: 'RTMP listener (publish and play).' }),
  httpPort: Type.Integer({ default: 8081, minimum: 1, maximum: 65535, description: 'HTTP listener (HTTP-FLV, health, API).' }),
  discoveryUrl: Type.String({ default: 'http://127.0.0.1:8090', description: 'Base URL of the discovery service.' }),
  discoveryToken: Type.String({ default: '', description: 'Bearer token for discovery writes (empty: none).' }),
  region: Type.String({ default: '', description: 'Region label used by placement.' }),
  capacity: Type.Integer({ default: 0, minimum: 0, description: 'Weight capacity (DESIGN.md section 4); 0 means cores × 12.' }),
  heartbeatMs: Type.Integer({ default: 2000, minimum: 100, description: 'Registration heartbeat and lease renew interval.' }),
  redirectWaitMs: Type.Integer({ default: 3000, minimum: 0, description: 'After an RTMP 302, how long to wait for the player to close before closing it.' }),
  ...HlsConfigFields,
  logLevel: Type.String({ default: 'info', description: 'pino log level.' }),
});

export type OriginConfig = Static<typeof OriginConfigSchema>;
