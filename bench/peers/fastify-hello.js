'use strict';
/**
 * Baseline for the discovery lookup benchmark: a bare fastify hello-world (the fastify version in the
 * root node_modules, the one discovery runs on), no logger. usage: node peers/fastify-hello.js PORT
 */
const path = require('node:path');
const Fastify = require(require.resolve('fastify', { paths: [path.resolve(__dirname, '..', '..')] }));

const app = Fastify({ logger: false });
app.get('/v1/streams/:app/:name', async () => ({ hello: 'world' }));
app.get('/healthz', async () => ({ status: 'ok' }));
app.listen({ host: '127.0.0.1', port: Number(process.argv[2]) }).catch((err) => {
  process.stderr.write(`${err}\n`);
  process.exit(1);
});
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
