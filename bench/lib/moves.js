'use strict';
/**
 * What the shed and drain scenarios share: the admin calls that move a publisher (an origin's
 * `POST /api/v1/streams/:app/:name/shed`, `POST /api/v1/drain`), discovery's view of who owns a
 * stream, and an encoder that re-publishes like OBS after a forced disconnect (asks discovery
 * `GET /v1/publish-url/:app/:name` and pushes there: docs/design.md section 5, "classic forced
 * re-push"). The bench publisher announces no E-RTMP capsEx, so an origin disconnects it on a shed.
 */
const { sleep } = require('./util');

/** The admin token the scenarios give their origins (`--api-tokens`). */
const TOKEN = 'bench-admin-token-0123456789abcdef';

/** The flags a scenario's origins need: the token, and no automatic shedding or admission refusals. */
const ORIGIN_FLAGS = ['--api-tokens', TOKEN, '--capacity', '100000', '--shed-sustain-ms', '3600000'];

/** @param {string} discoveryUrl @param {string} stream `app/name` @returns {Promise<string | null>} the owner origin's id */
async function ownerOf(discoveryUrl, stream) {
  try {
    const res = await fetch(`${discoveryUrl}/v1/streams/${stream}`);
    if (res.status !== 200) return null;
    const body = /** @type {{ origin?: { id?: string } }} */ (await res.json());
    return body.origin?.id ?? null;
  } catch {
    return null;
  }
}

/** @param {string} originHttp @param {string} stream `app/name` */
async function shed(originHttp, stream) {
  const res = await fetch(`${originHttp}/api/v1/streams/${stream}/shed`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
  if (res.status !== 200) throw new Error(`shed ${stream} at ${originHttp}: HTTP ${res.status} ${await res.text()}`);
}

/** @param {string} originHttp @param {number} deadlineMs */
async function drain(originHttp, deadlineMs) {
  const res = await fetch(`${originHttp}/api/v1/drain`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ deadlineMs }),
  });
  if (res.status !== 202) throw new Error(`drain ${originHttp}: HTTP ${res.status} ${await res.text()}`);
  return /** @type {{ publishers: number, deadlineMs: number }} */ (await res.json());
}

/**
 * Re-publishing on a forced disconnect, for the publisher's targets: when a target drops (or its
 * publish fails), ask discovery where to publish the stream now and push there. Records each move.
 * @param {Awaited<ReturnType<typeof import('./load').startPublisher>>} pub
 * @param {string} discoveryUrl
 */
function followRepublish(pub, discoveryUrl) {
  /** @type {Array<{ stream: string, droppedAt: number, from: string, to: string | null, reason: string }>} */
  const moves = [];
  let stopped = false;
  /** @param {any} m */
  const onMessage = (m) => {
    if (stopped || !m || (m.event !== 'dropped' && m.event !== 'failed') || typeof m.url !== 'string') return;
    void republish(m.url, String(m.detail ?? ''));
  };
  /** @param {string} url @param {string} reason */
  const republish = async (url, reason) => {
    const u = new URL(url);
    const stream = u.pathname.replace(/^\/+/, '');
    const move = { stream, droppedAt: Date.now(), from: `${u.host}`, to: /** @type {string | null} */ (null), reason };
    moves.push(move);
    pub.remove(url);
    const deadline = Date.now() + 20000;
    while (!stopped && Date.now() < deadline) {
      await sleep(100);
      try {
        const res = await fetch(`${discoveryUrl}/v1/publish-url/${stream}`);
        if (!res.ok) continue;
        const next = (await res.text()).trim();
        move.to = new URL(next).host;
        pub.add(next, false);
        return;
      } catch {
        /* discovery busy: ask again */
      }
    }
  };
  pub.node.child.on('message', onMessage);
  return {
    moves,
    stop() {
      stopped = true;
      pub.node.child.off('message', onMessage);
    },
  };
}

module.exports = { TOKEN, ORIGIN_FLAGS, ownerOf, shed, drain, followRepublish };
