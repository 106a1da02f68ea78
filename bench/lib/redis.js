'use strict';
/**
 * Just enough RESP to probe and read a bench-private redis-server (PING, INFO): one short
 * connection per command, no dependency on the root node_modules. The bench never talks to the shared
 * Redis at 127.0.0.1:6379.
 */
const net = require('node:net');

/**
 * Parses one RESP reply from the start of `buf`; null while incomplete.
 * @param {Buffer} buf @param {number} [at]
 * @returns {{ value: any, end: number } | null}
 */
function parseReply(buf, at = 0) {
  const eol = buf.indexOf('\r\n', at);
  if (eol < 0) return null;
  const type = String.fromCharCode(buf[at]);
  const line = buf.toString('utf8', at + 1, eol);
  switch (type) {
    case '+':
      return { value: line, end: eol + 2 };
    case '-':
      return { value: new Error(line), end: eol + 2 };
    case ':':
      return { value: Number(line), end: eol + 2 };
    case '$': {
      const len = Number(line);
      if (len < 0) return { value: null, end: eol + 2 };
      if (buf.length < eol + 2 + len + 2) return null;
      return { value: buf.toString('utf8', eol + 2, eol + 2 + len), end: eol + 2 + len + 2 };
    }
    case '*': {
      const n = Number(line);
      if (n < 0) return { value: null, end: eol + 2 };
      const out = [];
      let pos = eol + 2;
      for (let i = 0; i < n; i++) {
        const r = parseReply(buf, pos);
        if (!r) return null;
        out.push(r.value);
        pos = r.end;
      }
      return { value: out, end: pos };
    }
    default:
      throw new Error(`unexpected RESP type ${JSON.stringify(type)}`);
  }
}

/**
 * One command on a fresh connection.
 * @param {number} port @param {string[]} args @param {number} [timeoutMs]
 * @returns {Promise<any>}
 */
function redisCall(port, args, timeoutMs = 2000) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let buf = Buffer.alloc(0);
    const done = (err, value) => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(value);
    };
    const timer = setTimeout(() => done(new Error(`redis ${args[0]} on port ${port}: no answer in ${timeoutMs} ms`)), timeoutMs);
    sock.once('error', (err) => done(err));
    sock.once('connect', () => {
      sock.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
    });
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      let r;
      try {
        r = parseReply(buf);
      } catch (err) {
        done(err);
        return;
      }
      if (!r) return;
      if (r.value instanceof Error) done(r.value);
      else done(null, r.value);
    });
  });
}

/**
 * `INFO <sections>` as { field: string }; commandstats lines become { cmdstat_x: { calls, usec, ... } }.
 * @param {string} text
 */
function parseInfo(text) {
  /** @type {Record<string, any>} */
  const out = {};
  for (const line of text.split('\r\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.indexOf(':');
    if (i < 0) continue;
    const key = line.slice(0, i);
    const value = line.slice(i + 1);
    if (key.startsWith('cmdstat_')) {
      /** @type {Record<string, number>} */
      const stat = {};
      for (const kv of value.split(',')) {
        const [k, v] = kv.split('=');
        stat[k] = Number(v);
      }
      out[key] = stat;
    } else {
      out[key] = value;
    }
  }
  return out;
}

/**
 * What the bench reads from Redis at both ends of a window: CPU (INFO cpu), memory, and the
 * calls / microseconds of every command (INFO commandstats; commands run inside Lua scripts count
 * under their own names as well as in the script's EVALSHA). A Redis busy with long scripts may take
 * a while to answer: `timeoutMs`.
 * @param {number} port @param {number} [timeoutMs]
 */
async function redisStats(port, timeoutMs = 2000) {
  const info = parseInfo(await redisCall(port, ['INFO', 'everything'], timeoutMs));
  /** @type {Record<string, { calls: number, usec: number }>} */
  const commands = {};
  for (const [k, v] of Object.entries(info)) if (k.startsWith('cmdstat_')) commands[k.slice(8)] = { calls: v.calls, usec: v.usec };
  return {
    t: Date.now(),
    cpuS: Number(info.used_cpu_sys) + Number(info.used_cpu_user),
    usedMemoryMB: Math.round((Number(info.used_memory) / 2 ** 20) * 10) / 10,
    keys: Number(/keys=(\d+)/.exec(info.db0 ?? '')?.[1] ?? 0),
    commands,
  };
}

/**
 * The difference of two redisStats snapshots: CPU-seconds and per-command calls / usec / usec per call.
 * @param {Awaited<ReturnType<typeof redisStats>>} a @param {Awaited<ReturnType<typeof redisStats>>} b
 */
function redisDelta(a, b) {
  /** @type {Record<string, { calls: number, usec: number, usecPerCall: number | null }>} */
  const commands = {};
  for (const [name, y] of Object.entries(b.commands)) {
    const x = a.commands[name] ?? { calls: 0, usec: 0 };
    const calls = y.calls - x.calls;
    if (calls <= 0) continue;
    const usec = y.usec - x.usec;
    commands[name] = { calls, usec, usecPerCall: Math.round((usec / calls) * 100) / 100 };
  }
  return { seconds: (b.t - a.t) / 1000, infoCpuS: Math.round((b.cpuS - a.cpuS) * 1000) / 1000, usedMemoryMB: b.usedMemoryMB, keys: b.keys, commands };
}

module.exports = { redisCall, redisStats, redisDelta, parseInfo, parseReply };
