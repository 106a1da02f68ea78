// prom-client's default process metrics one by one (node_modules/prom-client/lib/defaultMetrics.js
// calls each of these as `metric(registry, config)`); common/process-metrics.ts registers them all
// but eventLoopLag.
declare module 'prom-client/lib/metrics/*' {
  import type { Registry } from 'prom-client';
  const register: (registry: Registry | undefined, config: { prefix?: string; labels?: Record<string, string> }) => void;
  export = register;
}
