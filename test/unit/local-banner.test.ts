import { bannerLines } from '../../local/banner';

describe('npm start banner', () => {
  const text = bannerLines({
    discoveryUrl: 'http://127.0.0.1:8090',
    store: 'memory',
    origins: [
      { name: 'origin-1', rtmp: 'rtmp://127.0.0.1:1936', http: 'http://127.0.0.1:8081' },
      { name: 'origin-2', rtmp: 'rtmp://127.0.0.1:1937', http: 'http://127.0.0.1:8082' },
    ],
    edges: [{ name: 'edge-1', rtmp: 'rtmp://127.0.0.1:1935', http: 'http://127.0.0.1:8080' }],
    adminTokenFile: '.cascade/admin-token',
  }).join('\n');

  it.each([
    ['the console URL', 'console    http://127.0.0.1:8090/ '],
    ['the cluster view', 'http://127.0.0.1:8090/v1/cluster'],
    ['publish to an origin', 'rtmp://127.0.0.1:1937/live/demo'],
    ['RTMP play at the edge', 'ffplay rtmp://127.0.0.1:1935/live/demo'],
    ['HTTP-FLV play at the edge', 'http://127.0.0.1:8080/live/demo.flv'],
    ['HLS play at the edge', 'http://127.0.0.1:8080/live/demo.m3u8'],
    ['the admin token file, not the token', '$(cat .cascade/admin-token)'],
    ['the edge line', '  edge-1     rtmp://127.0.0.1:1935  http://127.0.0.1:8080'],
  ])('prints %s', (_what, expected) => {
    expect(text).toContain(expected);
  });
});
