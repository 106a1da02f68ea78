'use strict';
/**
 * The peer: a standalone node-media-server 4.4.3 (bench/node_modules), as its README runs it.
 * usage: node peers/nms.js RTMP_PORT HTTP_PORT STORE_DIR
 */
const NodeMediaServer = require('node-media-server');
const logger = require('node-media-server/src/core/logger.js');

const [rtmpPort, httpPort, storeDir] = process.argv.slice(2);
const nms = new NodeMediaServer({
  bind: '127.0.0.1',
  rtmp: { port: Number(rtmpPort) },
  http: { port: Number(httpPort) },
  store: { path: storeDir },
});
// The constructor sets "debug"; run at "info" like a production config (Cascade routes NMS's own
// logging to pino at info, where NMS's info lines are debug and dropped).
logger.level = 'info';
nms.run();
process.on('SIGTERM', () => process.exit(0));
