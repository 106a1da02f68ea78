/**
 * The Lua scripts of `RedisStore`, registered once with `defineCommand` (ioredis runs them with
 * EVALSHA and falls back to EVAL after a Redis restart). Each write is one script, so it is atomic
 * and its event is published (PUBLISH inside the script) exactly once, by the replica that made the
 * change. Time is Redis' own clock (`TIME`), so replicas with skewed clocks agree.
 *
 * Key layout (P = `redisPrefix`, default `cascade:`; M = `app/name`):
 *
 * | key | type | what |
 * | --- | --- | --- |
 * | `P origin:<id>` | string | the registration as JSON (`OriginRecord`), `PX` = origin TTL |
 * | `P origins` | zset | origin id → expiresAt (listing; the sweep finds expired ones) |
 * | `P origin-leases:<id>` | set | M of every lease the origin holds (dropped with the origin) |
 * | `P lease:M` | hash | app, name, originId, token, since, expiresAt (live while expiresAt > now and the origin key exists; `PEXPIRE` lease TTL + 60 s only as a leak guard) |
 * | `P leases` | zset | M with score 0: lexicographic index for paging and `app` filters |
 * | `P lease-exp` | zset | M → expiresAt (the sweep finds expired leases) |
 * | `P token:M` | string | per-stream fencing counter (`INCR`), `PEXPIRE` 24 h, refreshed by each claim |
 * | `P token-max` | string | highest token ever issued; re-seeds a counter that expired, so tokens never go back |
 * | `P avoid:M` | zset | origin id → until (placement must not pick it), `PEXPIRE` to the last until |
 * | `P avoid-by:<id>` | zset | M → until of every running avoid mark of origin id (at most maxAvoidsPerOrigin; the soonest-ending evicted), `PEXPIRE` to the last until |
 * | `P avoid-all` | zset | `<id>\nM` → until of every running avoid mark (at most maxAvoids; the soonest-ending evicted) |
 * | `P edge:<id>` | string | an edge's last heartbeat as JSON (`EdgeRecord`), `PX` = edge TTL |
| `P edges` | zset | edge id → expiresAt (at most maxEdges live ones; the sweep finds expired ones and announces edge.down) |
| `P events` | pub/sub channel | `{"type","data"}` JSON of every change |
| `P owner-hints` | pub/sub channel | owner-cache hints (`OwnerHint`; not events, SSE never carries them): `{"owner":view,"until":ms}` a claim's new owner view (after its event, if any), `{"stream":M}` a heartbeat's same-origin re-claim changed only the token, `{"origin":id}` its addresses changed without a state change, `{"renewed":id,"until":ms}` a heartbeat left every lease of id live until then |
 *
 * Scripts build keys from the prefix (ARGV[1]) instead of declaring them in KEYS, because some keys
 * (a previous owner's set, an origin's leases) are only known inside the script. Each is called with
 * one declared key, `P origins` (KEYS[1], passed by `RedisStore.script()`), so on Redis Cluster, where
 * the prefix carries a hash tag and every key is in its slot, the script runs on that slot's owner.
 */

const PRELUDE = `
local P = ARGV[1]
local function nowms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function int(x) return string.format('%.0f', x) end
local function js(s) return cjson.encode(s) end
local function publish(kind, data)
  redis.call('PUBLISH', P .. 'events', '{"type":"' .. kind .. '","data":' .. data .. '}')
end
-- An owner-cache hint on 'P owner-hints' (RedisStore.onOwnerHints): what changed a cached owner
-- view without an event, and heartbeat renewals.
local function hint(body)
  redis.call('PUBLISH', P .. 'owner-hints', body)
end
local function originLive(id)
  return redis.call('EXISTS', P .. 'origin:' .. id) == 1
end
-- Deletes the lease of stream m and its index entries; announces stream.released if there was one.
local function dropLease(m, reason)
  local lk = P .. 'lease:' .. m
  local l = redis.call('HMGET', lk, 'app', 'name', 'originId', 'token')
  redis.call('DEL', lk)
  redis.call('ZREM', P .. 'leases', m)
  redis.call('ZREM', P .. 'lease-exp', m)
  if l[3] then
    redis.call('SREM', P .. 'origin-leases:' .. l[3], m)
    publish('stream.released', '{"app":' .. js(l[1]) .. ',"name":' .. js(l[2]) .. ',"originId":' .. js(l[3]) ..
      ',"token":' .. l[4] .. ',"reason":"' .. reason .. '"}')
  end
end
-- Drops every lease origin id still holds.
local function dropOriginLeases(id, reason)
  local set = P .. 'origin-leases:' .. id
  for _, m in ipairs(redis.call('SMEMBERS', set)) do
    if redis.call('HGET', P .. 'lease:' .. m, 'originId') == id then dropLease(m, reason) end
  end
  redis.call('DEL', set)
end
-- Writes a registration (reg: the view JSON without updatedAt) with PX ttl and its index entry, and
-- announces origin.up / origin.draining when the state differs from prevState. prev: the previous
-- record (decoded) or false; when its addresses differ and no event says so, an owner-cache hint does.
-- Returns the record JSON.
local function writeOrigin(id, reg, ttl, state, prevState, now, prev)
  local body = string.sub(reg, 1, -2) .. ',"updatedAt":' .. int(now)
  local rec = body .. ',"expiresAt":' .. int(now + ttl) .. '}'
  redis.call('SET', P .. 'origin:' .. id, rec, 'PX', ttl)
  redis.call('ZADD', P .. 'origins', int(now + ttl), id)
  if state == 'draining' and prevState ~= 'draining' then
    publish('origin.draining', body .. '}')
  elseif state == 'active' and prevState ~= 'active' then
    publish('origin.up', body .. '}')
  elseif prev then
    local o = cjson.decode(reg)
    if o.rtmp ~= prev.rtmp or o.http ~= prev.http then hint('{"origin":' .. js(id) .. '}') end
  end
  return rec
end
-- An origin whose key is gone but is still indexed expired and was not swept yet: finish the job.
local function expireOrigin(id)
  if redis.call('ZREM', P .. 'origins', id) == 1 then
    dropOriginLeases(id, 'origin-down')
    publish('origin.down', '{"id":' .. js(id) .. ',"reason":"expired"}')
  end
end
-- The lease of stream m as {originId, token, <field>, expiresAt}, its owner (false when none) and whether
-- it is live. A lease of another origin whose registration is gone is dropped first (its owner expired).
local function readLease(m, oid, field, now)
  local cur = redis.call('HMGET', P .. 'lease:' .. m, 'originId', 'token', field, 'expiresAt')
  local owner = cur[1]
  if owner and owner ~= oid and not originLive(owner) then
    expireOrigin(owner)
    dropLease(m, 'origin-down')
    owner = false
  end
  return cur, owner, owner and tonumber(cur[4]) > now
end
`;

export interface ScriptDef {
  /** Command name on the ioredis client (prefixed to avoid clashing with real commands). */
  name: string;
  lua: string;
}

function script(name: string, body: string): ScriptDef {
  return { name: `cascade_${name}`, lua: PRELUDE + body };
}

/**
 * ARGV: P, id, reg (the OriginView JSON without updatedAt), ttlMs, state.
 * Returns the stored record JSON. Events: origin.down (an unswept expiry), origin.up / origin.draining
 * on a new registration or a state change.
 */
export const UPSERT_ORIGIN = script(
  'upsert_origin',
  `
local id, reg, ttl, state = ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local now = nowms()
local okey = P .. 'origin:' .. id
local prev = redis.call('GET', okey)
local prevState = false
local p = false
if prev then
  p = cjson.decode(prev)
  prevState = p.state
else
  expireOrigin(id)
  dropOriginLeases(id, 'origin-down')
end
return writeOrigin(id, reg, ttl, state, prevState, now, p)
`,
);

/**
 * Leases v2: one origin's whole heartbeat in one script (the rules are on `DiscoveryStore.heartbeat`).
 * ARGV: P, id, reg (the OriginView JSON without updatedAt, with incarnation and startedAt), ttlMs, state,
 * incarnation, startedAt, leaseMs, tokenTtlMs, graceMs, then 4 per lease: app, name, token ('' none), since ('' none).
 * Returns {'stale', incarnation, startedAt} (nothing changed) or
 * {'ok', record JSON, restarted 0|1, released, unknown 0|1 (no live registration before), then 4 per lease:
 * status, token or '', owner or '', note or ''}.
 */
export const HEARTBEAT = script(
  'heartbeat',
  `
local id, reg, ttl, state = ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local inc, started = ARGV[6], tonumber(ARGV[7])
local leaseMs, tokenTtl, grace = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
local now = nowms()
local okey = P .. 'origin:' .. id
local prev = redis.call('GET', okey)
local prevState = false
local restarted = 0
local p = false
if prev then
  p = cjson.decode(prev)
  prevState = p.state
  if type(p.incarnation) == 'string' and p.incarnation ~= inc then
    local ps = tonumber(p.startedAt) or 0
    if started < ps or (started == ps and inc < p.incarnation) then
      return {'stale', p.incarnation, int(ps)}
    end
    restarted = 1
    prevState = false
    dropOriginLeases(id, 'origin-restarted')
    publish('origin.down', '{"id":' .. js(id) .. ',"reason":"restarted"}')
  end
else
  expireOrigin(id)
end
local rec = writeOrigin(id, reg, ttl, state, prevState, now, p)
local o = cjson.decode(rec)
local ref = ',"origin":{"id":' .. js(id) .. ',"rtmp":' .. js(o.rtmp) .. ',"http":' .. js(o.http) .. '}'
local maxk = P .. 'token-max'
local held = P .. 'origin-leases:' .. id
local unknown = 0
if not prev then unknown = 1 end
local out = {'ok', rec, restarted, 0, unknown}
local listed = {}
-- A lease of this origin that lapsed and stays (listed without a token): no renewal hint then.
local lapsed = false
-- Renewals all get the same expiry: their lease-exp entries are written in batched ZADDs (one call per
-- 500 leases instead of one per lease), and each hash's leak-guard PEXPIRE is refreshed only when less
-- than half its grace is left (field 'guard'), so a renewal costs one HMGET and one HSET.
local renewExp = now + leaseMs
local zbatch = {}
local function flushZ()
  if #zbatch > 0 then
    redis.call('ZADD', P .. 'lease-exp', unpack(zbatch))
    zbatch = {}
  end
end
for b = 11, #ARGV - 3, 4 do
  local app, name, tok, since = ARGV[b], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3]
  local m = app .. '/' .. name
  listed[m] = true
  local lk = P .. 'lease:' .. m
  local cur, owner, live = readLease(m, id, 'guard', now)
  if live and owner ~= id then
    out[#out + 1] = 'fenced'; out[#out + 1] = cur[2]; out[#out + 1] = owner; out[#out + 1] = ''
  elseif live and (tok == '' or tok == cur[2]) then
    if (tonumber(cur[3]) or 0) - now < leaseMs + grace / 2 then
      redis.call('HSET', lk, 'expiresAt', int(renewExp), 'guard', int(now + leaseMs + grace))
      redis.call('PEXPIRE', lk, leaseMs + grace)
    else
      redis.call('HSET', lk, 'expiresAt', int(renewExp))
    end
    zbatch[#zbatch + 1] = int(renewExp)
    zbatch[#zbatch + 1] = m
    if #zbatch >= 1000 then flushZ() end
    out[#out + 1] = 'renewed'; out[#out + 1] = cur[2]; out[#out + 1] = ''; out[#out + 1] = ''
  elseif tok == '' then
    if owner == id then lapsed = true end
    out[#out + 1] = 'absent'; out[#out + 1] = ''; out[#out + 1] = ''; out[#out + 1] = ''
  else
    -- Re-claim under a token above every token issued for this stream and above the one the origin
    -- holds (a store that lost its state must not hand out a token the origin has seen).
    local tk = P .. 'token:' .. m
    local maxv = tonumber(redis.call('GET', maxk) or '0')
    local given = tonumber(tok)
    local note = ''
    if given > maxv then note = 'TOKEN_AHEAD' end
    local base = tonumber(redis.call('GET', tk) or maxv)
    if given > base then base = given end
    local token = base + 1
    redis.call('SET', tk, int(token), 'PX', tokenTtl)
    if token > maxv then redis.call('SET', maxk, int(token)) end
    local s = now
    if live then
      s = tonumber(redis.call('HGET', lk, 'since'))
    elseif since ~= '' and tonumber(since) and tonumber(since) < now then
      s = tonumber(since)
    end
    local exp = now + leaseMs
    redis.call('HSET', lk, 'app', app, 'name', name, 'originId', id, 'token', int(token), 'since', int(s), 'expiresAt', int(exp), 'guard', int(now + leaseMs + grace))
    redis.call('PEXPIRE', lk, leaseMs + grace)
    redis.call('ZADD', P .. 'leases', 0, m)
    redis.call('ZADD', P .. 'lease-exp', int(exp), m)
    if owner and owner ~= id then redis.call('SREM', P .. 'origin-leases:' .. owner, m) end
    redis.call('SADD', held, m)
    if not live then
      local view = '{"app":' .. js(app) .. ',"name":' .. js(name) .. ref .. ',"since":' .. int(s) .. ',"token":' .. int(token)
      if owner and owner ~= id then
        publish('stream.moved', view .. ',"from":' .. js(owner) .. ',"reason":"expired"}')
      else
        publish('stream.claimed', view .. '}')
      end
    else
      hint('{"stream":' .. js(m) .. '}')
    end
    out[#out + 1] = 'reclaimed'; out[#out + 1] = int(token); out[#out + 1] = ''; out[#out + 1] = note
  end
end
flushZ()
-- Leases held for this origin that it no longer lists: its publisher left (or a claim landed after it did).
local released = 0
for _, m in ipairs(redis.call('SMEMBERS', held)) do
  if not listed[m] then
    if redis.call('HGET', P .. 'lease:' .. m, 'originId') == id then
      dropLease(m, 'not-held')
      released = released + 1
    else
      redis.call('SREM', held, m)
    end
  end
end
out[4] = released
-- Every lease this origin still holds now ends at renewExp (renewed or re-claimed), its registration at
-- now + ttl: owner caches may keep its entries until then (one hint per heartbeat, not per lease).
-- Not when one of its leases lapsed and stays (an expired lease must not look renewed).
if not lapsed then
  local horizon = renewExp
  if now + ttl < horizon then horizon = now + ttl end
  hint('{"renewed":' .. js(id) .. ',"until":' .. int(horizon) .. '}')
end
return out
`,
);

/** ARGV: P, id. Returns 1 if it was registered. Drops its leases; announces origin.down. */
export const REMOVE_ORIGIN = script(
  'remove_origin',
  `
local id = ARGV[2]
local existed = redis.call('DEL', P .. 'origin:' .. id)
if existed == 0 then
  expireOrigin(id)
  return 0
end
redis.call('ZREM', P .. 'origins', id)
dropOriginLeases(id, 'origin-removed')
publish('origin.down', '{"id":' .. js(id) .. ',"reason":"deregistered"}')
return 1
`,
);

/**
 * ARGV: P, M, app, name, originId, leaseMs, breakToken ('' for none), tokenTtlMs, graceMs.
 * Returns {'no-origin'} | {'conflict', owner, token, since, expiresAt} |
 * {'ok', token, since, expiresAt, movedReason or '', previous owner or ''}.
 */
export const CLAIM = script(
  'claim',
  `
local m, app, name, oid = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local leaseMs, breakToken, tokenTtl, grace = tonumber(ARGV[6]), ARGV[7], tonumber(ARGV[8]), tonumber(ARGV[9])
local now = nowms()
local ojson = redis.call('GET', P .. 'origin:' .. oid)
if not ojson then
  expireOrigin(oid)
  return {'no-origin'}
end
local lk = P .. 'lease:' .. m
local cur, owner, live = readLease(m, oid, 'since', now)
local moved = false
if owner and owner ~= oid then
  if live then
    if breakToken == '' or breakToken ~= cur[2] then
      return {'conflict', owner, cur[2], cur[3], cur[4]}
    end
    moved = 'owner-dead'
  else
    moved = 'expired'
  end
end
local tk = P .. 'token:' .. m
local maxk = P .. 'token-max'
local token
if redis.call('EXISTS', tk) == 1 then
  token = redis.call('INCR', tk)
else
  token = redis.call('INCR', maxk)
  redis.call('SET', tk, int(token))
end
if token > tonumber(redis.call('GET', maxk) or '0') then redis.call('SET', maxk, int(token)) end
redis.call('PEXPIRE', tk, tokenTtl)
local since = now
if live and owner == oid then since = tonumber(cur[3]) end
if owner and owner ~= oid then redis.call('SREM', P .. 'origin-leases:' .. owner, m) end
local exp = now + leaseMs
redis.call('HSET', lk, 'app', app, 'name', name, 'originId', oid, 'token', int(token), 'since', int(since), 'expiresAt', int(exp))
redis.call('PEXPIRE', lk, leaseMs + grace)
redis.call('ZADD', P .. 'leases', 0, m)
redis.call('ZADD', P .. 'lease-exp', int(exp), m)
redis.call('SADD', P .. 'origin-leases:' .. oid, m)
local o = cjson.decode(ojson)
local view = '{"app":' .. js(app) .. ',"name":' .. js(name) .. ',"origin":{"id":' .. js(oid) .. ',"rtmp":' .. js(o.rtmp) ..
  ',"http":' .. js(o.http) .. '},"since":' .. int(since) .. ',"token":' .. int(token)
if moved then
  publish('stream.moved', view .. ',"from":' .. js(owner) .. ',"reason":"' .. moved .. '"}')
elseif not (live and owner == oid) then
  publish('stream.claimed', view .. '}')
end
-- The new owner view itself, valid until the lease's or the registration's expiry: owner caches take
-- it as if read (a same-origin re-claim, which has no event, is covered by it too).
local horizon = exp
local oexp = tonumber(o.expiresAt)
if oexp and oexp < horizon then horizon = oexp end
hint('{"owner":' .. view .. '},"until":' .. int(horizon) .. '}')
return {'ok', int(token), int(since), int(exp), moved or '', moved and owner or ''}
`,
);

/** ARGV: P, M, originId, token, leaseMs, graceMs. Returns {since, expiresAt} or nil (lease lost). */
export const RENEW = script(
  'renew',
  `
local m, oid, token, leaseMs, grace = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
local now = nowms()
local lk = P .. 'lease:' .. m
local cur = redis.call('HMGET', lk, 'originId', 'token', 'since', 'expiresAt')
if cur[1] ~= oid or cur[2] ~= token or tonumber(cur[4]) <= now or not originLive(oid) then return false end
local exp = now + leaseMs
redis.call('HSET', lk, 'expiresAt', int(exp))
redis.call('PEXPIRE', lk, leaseMs + grace)
redis.call('ZADD', P .. 'lease-exp', int(exp), m)
return {cur[3], int(exp)}
`,
);

/** ARGV: P, M, originId, token. Returns 1 if released (announces stream.released), else 0. */
export const RELEASE = script(
  'release',
  `
local m, oid, token = ARGV[2], ARGV[3], ARGV[4]
local now = nowms()
local cur = redis.call('HMGET', P .. 'lease:' .. m, 'originId', 'token', 'expiresAt')
if cur[1] ~= oid or cur[2] ~= token or tonumber(cur[3]) <= now or not originLive(oid) then return 0 end
dropLease(m, 'released')
return 1
`,
);

/** ARGV: P, M. Returns {app, name, originId, token, since, expiresAt} of a live lease, or nil. */
export const GET_STREAM = script(
  'get_stream',
  `
local now = nowms()
local l = redis.call('HMGET', P .. 'lease:' .. ARGV[2], 'app', 'name', 'originId', 'token', 'since', 'expiresAt')
if not l[3] or tonumber(l[6]) <= now or not originLive(l[3]) then return false end
return l
`,
);

/**
 * ARGV: P, M. The live lease of M (as get_stream) and its owner's registration JSON in one call:
 * {app, name, originId, token, since, expiresAt, originJson}, or false.
 */
export const GET_STREAM_OWNER = script(
  'get_stream_owner',
  `
local now = nowms()
local l = redis.call('HMGET', P .. 'lease:' .. ARGV[2], 'app', 'name', 'originId', 'token', 'since', 'expiresAt')
if not l[3] or tonumber(l[6]) <= now then return false end
local o = redis.call('GET', P .. 'origin:' .. l[3])
if not o then return false end
l[7] = o
return l
`,
);

/**
 * ARGV: P, min, max (ZRANGEBYLEX bounds), originId filter ('' for any), limit, offset, maxScan.
 * Returns {next or '', app1, name1, originId1, token1, since1, expiresAt1, app2, ...}. Scans at
 * most maxScan index entries, so a filtered page can be short and still carry a next cursor.
 */
export const PAGE_STREAMS = script(
  'page_streams',
  `
local min, max, of = ARGV[2], ARGV[3], ARGV[4]
local limit, skip, maxScan = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local now = nowms()
local out = {''}
local found, scanned = 0, 0
local last, lastOut = false, false
local pos = min
local full, exhausted = false, false
while not full and not exhausted and scanned < maxScan do
  local batch = redis.call('ZRANGEBYLEX', P .. 'leases', pos, max, 'LIMIT', 0, 200)
  if #batch < 200 then exhausted = true end
  for i, m in ipairs(batch) do
    local l = redis.call('HMGET', P .. 'lease:' .. m, 'app', 'name', 'originId', 'token', 'since', 'expiresAt')
    if l[3] and tonumber(l[6]) > now and (of == '' or l[3] == of) and originLive(l[3]) then
      if skip > 0 then
        skip = skip - 1
      elseif found == limit then
        full = true
        break
      else
        found = found + 1
        lastOut = m
        for j = 1, 6 do out[#out + 1] = l[j] end
      end
    end
    last = m
    scanned = scanned + 1
    if scanned >= maxScan then
      if i < #batch then exhausted = false end
      break
    end
  end
  if last then pos = '(' .. last end
end
if full then
  out[1] = lastOut
elseif not exhausted and last then
  out[1] = last
end
return out
`,
);

/**
 * ARGV: P, M, originId, ms, maxPerOrigin, maxTotal. Returns the until (ms epoch, string). The marks
 * are bounded: per origin id and in total, the soonest-ending marks beyond the cap are evicted (for a
 * fixed ms, the oldest).
 */
export const AVOID = script(
  'avoid',
  `
local k = P .. 'avoid:' .. ARGV[2]
local now = nowms()
local untilMs = now + tonumber(ARGV[4])
local prev = redis.call('ZSCORE', k, ARGV[3])
if prev and tonumber(prev) > untilMs then untilMs = tonumber(prev) end
redis.call('ZADD', k, int(untilMs), ARGV[3])
redis.call('ZREMRANGEBYSCORE', k, '-inf', int(now))
local last = redis.call('ZRANGE', k, -1, -1, 'WITHSCORES')
redis.call('PEXPIRE', k, int(tonumber(last[2]) - now))
local by = P .. 'avoid-by:' .. ARGV[3]
local all = P .. 'avoid-all'
redis.call('ZADD', by, int(untilMs), ARGV[2])
redis.call('ZADD', all, int(untilMs), ARGV[3] .. '\\n' .. ARGV[2])
redis.call('ZREMRANGEBYSCORE', by, '-inf', int(now))
redis.call('ZREMRANGEBYSCORE', all, '-inf', int(now))
local over = redis.call('ZCARD', by) - tonumber(ARGV[5])
if over > 0 then
  local popped = redis.call('ZPOPMIN', by, over)
  for i = 1, #popped, 2 do
    redis.call('ZREM', P .. 'avoid:' .. popped[i], ARGV[3])
    redis.call('ZREM', all, ARGV[3] .. '\\n' .. popped[i])
  end
end
over = redis.call('ZCARD', all) - tonumber(ARGV[6])
if over > 0 then
  local popped = redis.call('ZPOPMIN', all, over)
  for i = 1, #popped, 2 do
    local nl = string.find(popped[i], '\\n', 1, true)
    local id = string.sub(popped[i], 1, nl - 1)
    local m = string.sub(popped[i], nl + 1)
    redis.call('ZREM', P .. 'avoid:' .. m, id)
    redis.call('ZREM', P .. 'avoid-by:' .. id, m)
  end
end
local lastBy = redis.call('ZRANGE', by, -1, -1, 'WITHSCORES')
if lastBy[2] then redis.call('PEXPIRE', by, int(tonumber(lastBy[2]) - now)) end
local lastAll = redis.call('ZRANGE', all, -1, -1, 'WITHSCORES')
if lastAll[2] then redis.call('PEXPIRE', all, int(tonumber(lastAll[2]) - now)) end
return int(untilMs)
`,
);

/** ARGV: P, M. Returns {originId1, until1, ...} of avoidances still running. */
export const GET_AVOIDS = script(
  'get_avoids',
  `
local now = nowms()
return redis.call('ZRANGEBYSCORE', P .. 'avoid:' .. ARGV[2], '(' .. int(now), '+inf', 'WITHSCORES')
`,
);

/**
 * ARGV: P, batch. Deletes origins whose registration expired (with their leases) and expired
 * leases, at most `batch` of each; announces origin.down / stream.released. Returns the count.
 */
export const SWEEP = script(
  'sweep',
  `
local batch = tonumber(ARGV[2])
local now = nowms()
local n = 0
for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'origins', '-inf', int(now), 'LIMIT', 0, batch)) do
  redis.call('DEL', P .. 'origin:' .. id)
  expireOrigin(id)
  n = n + 1
end
for _, m in ipairs(redis.call('ZRANGEBYSCORE', P .. 'lease-exp', '-inf', int(now), 'LIMIT', 0, batch)) do
  local e = redis.call('HGET', P .. 'lease:' .. m, 'expiresAt')
  if not e or tonumber(e) <= now then
    dropLease(m, 'expired')
    n = n + 1
  else
    redis.call('ZADD', P .. 'lease-exp', e, m)
  end
end
return n
`,
);

/**
 * ARGV: P, id, view JSON (without updatedAt/expiresAt), ttl, maxEdges. A known live id refreshes; a
 * new one (or one expired and not swept yet: edge.down first) needs room under maxEdges and announces
 * edge.up. Returns {'ok', record JSON} or {'full', live count}.
 */
export const UPSERT_EDGE = script(
  'upsert_edge',
  `
local id = ARGV[2]
local ttl = tonumber(ARGV[4])
local max = tonumber(ARGV[5])
local now = nowms()
local prev = redis.call('ZSCORE', P .. 'edges', id)
local live = prev and tonumber(prev) > now and redis.call('EXISTS', P .. 'edge:' .. id) == 1
if not live then
  local n = redis.call('ZCOUNT', P .. 'edges', '(' .. int(now), '+inf')
  if n >= max then return {'full', n} end
  if prev then
    redis.call('ZREM', P .. 'edges', id)
    publish('edge.down', '{"id":' .. js(id) .. '}')
  end
end
local rec = string.sub(ARGV[3], 1, -2) .. ',"updatedAt":' .. int(now) .. ',"expiresAt":' .. int(now + ttl) .. '}'
redis.call('SET', P .. 'edge:' .. id, rec, 'PX', ttl)
redis.call('ZADD', P .. 'edges', int(now + ttl), id)
if not live then publish('edge.up', '{"id":' .. js(id) .. '}') end
return {'ok', rec}
`,
);

/** ARGV: P, id. 1 if it was registered (edge.down announced). */
export const REMOVE_EDGE = script(
  'remove_edge',
  `
local id = ARGV[2]
redis.call('DEL', P .. 'edge:' .. id)
if redis.call('ZREM', P .. 'edges', id) == 1 then
  publish('edge.down', '{"id":' .. js(id) .. '}')
  return 1
end
return 0
`,
);

/** ARGV: P, batch. Deletes expired edges (edge.down each); returns how many. */
export const SWEEP_EDGES = script(
  'sweep_edges',
  `
local now = nowms()
local n = 0
for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'edges', '-inf', int(now), 'LIMIT', 0, tonumber(ARGV[2]))) do
  redis.call('DEL', P .. 'edge:' .. id)
  redis.call('ZREM', P .. 'edges', id)
  publish('edge.down', '{"id":' .. js(id) .. '}')
  n = n + 1
end
return n
`,
);

export const ALL_SCRIPTS: readonly ScriptDef[] = [
  UPSERT_ORIGIN,
  HEARTBEAT,
  REMOVE_ORIGIN,
  CLAIM,
  RENEW,
  RELEASE,
  GET_STREAM,
  GET_STREAM_OWNER,
  PAGE_STREAMS,
  AVOID,
  GET_AVOIDS,
  SWEEP,
  UPSERT_EDGE,
  REMOVE_EDGE,
  SWEEP_EDGES,
];
