/** What `npm start` prints once the cluster is up (pure: unit-tested; never a secret, only the token file's path). */
export interface BannerInput {
  discoveryUrl: string;
  store: 'memory' | 'redis';
  origins: Array<{ name: string; rtmp: string; http: string }>;
  edges: Array<{ name: string; rtmp: string; http: string }>;
  adminTokenFile: string;
}

export function bannerLines(b: BannerInput): string[] {
  const edge = b.edges[0];
  const lastOrigin = b.origins[b.origins.length - 1];
  return [
    '',
    'Cascade local cluster is up.',
    `  console    ${b.discoveryUrl}/   (origins, edges, streams, viewers; actions need the admin token)`,
    `  discovery  ${b.discoveryUrl}  (store: ${b.store})   ${b.discoveryUrl}/v1/cluster   ${b.discoveryUrl}/docs`,
    ...b.origins.map((o) => `  ${o.name.padEnd(9)}  ${o.rtmp}  ${o.http}`),
    ...b.edges.map((e) => `  ${e.name.padEnd(9)}  ${e.rtmp}  ${e.http}`),
    '',
    'Publish (to any origin):',
    `  ffmpeg -re -f lavfi -i testsrc2=size=640x360:rate=30 -f lavfi -i sine=frequency=440 -c:v libx264 -preset ultrafast -tune zerolatency -g 30 -c:a aac -f flv ${lastOrigin.rtmp}/live/demo`,
    'Play (through the edge):',
    `  ffplay ${edge.rtmp}/live/demo`,
    `  ffplay ${edge.http}/live/demo.flv`,
    `  ffplay ${edge.http}/live/demo.m3u8   (HLS; or open it in Safari / the console's player)`,
    'Admin API (drain, deregister, kick; discovery, origins and edges):',
    `  curl -H "Authorization: Bearer $(cat ${b.adminTokenFile})" -X POST ${b.origins[0].http}/api/v1/drain`,
    `  curl -H "Authorization: Bearer $(cat ${b.adminTokenFile})" -X POST ${b.discoveryUrl}/v1/admin/streams/live/demo/shed`,
    `  (${b.adminTokenFile} is readable by you only; the cluster secret of this run is in the members' environment, never printed)`,
    '',
    'A member that exits is restarted (with backoff; one that keeps crashing is given up). Ctrl-C stops everything.',
    '',
  ];
}
