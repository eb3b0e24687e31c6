/**
 * The Lua scripts of the Redis room bus (redis-bus.ts). Each runs atomically in Redis, so a claim
 * and its `join`, or a number and its message, can never be seen apart, and the order in which
 * messages are published on the events channel is the order of their sequence numbers.
 *
 * Keys, under the prefix P (default `wharf:chat:`):
 *   P names                  hash: nameKey → JSON {name, room, via, account, address, owner, node}
 *   P rooms                  set: rooms with members
 *   P room:<room>:members    set: the nameKeys in the room
 *   P node:<node>:names      set: the nameKeys a node holds (what is freed when it dies)
 *   P nodes                  sorted set: node → when its lease ends (Redis's clock, ms)
 *   P seq:<room>             the room's last sequence number (INCR)
 *   P sent:<node>:<n>        the number message n of a node got, kept a few seconds (retries);
 *   P cid:<name>:<cid>       the same for a message its client numbered itself (`cid`)
 *   P stream:<room>          the room's recent messages, entry ID `<seq>-1`, trimmed MAXLEN ~
 * `seq:<room>` and `stream:<room>` expire ROOM_KEYS_TTL_MS after their room's last member left (a
 * message said into an empty room starts that time again) and are kept for as long as anyone is
 * in it; a room used again after that numbers on from the store's history (#startNumbering).
 * Channels: P events (every message, join and leave), P to:<node> (private messages for a node).
 * A channel message is `m<seq>|<message JSON without seq>` or `e<event JSON>`.
 *
 * Room keys are built inside the scripts from the prefix, so the bus needs one Redis (or a
 * primary with replicas), not Redis Cluster.
 */

/**
 * How long an empty room's counter and recent messages stay in Redis: a room someone comes back
 * to soon keeps its recent history in Redis; Redis does not grow with every room ever used.
 */
export const ROOM_KEYS_TTL_MS = 3_600_000;

/**
 * Take a name's key out of its room (and the room out of `rooms`, its keys set to expire, once
 * empty); `keep` makes a room's keys last while it has members.
 */
const UNLIST = `
local function room_keys(prefix, room, ttl)
  for _, name in ipairs({'seq:', 'stream:'}) do
    if ttl then redis.call('PEXPIRE', prefix .. name .. room, ttl) else redis.call('PERSIST', prefix .. name .. room) end
  end
end
local function keep(prefix, room)
  room_keys(prefix, room, nil)
end
local function unlist(prefix, key, info)
  local members = prefix .. 'room:' .. info.room .. ':members'
  redis.call('SREM', members, key)
  if redis.call('SCARD', members) == 0 then
    redis.call('SREM', prefix .. 'rooms', info.room)
    room_keys(prefix, info.room, ${ROOM_KEYS_TTL_MS})
  end
end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

/** KEYS names, rooms, node names; ARGV prefix, key, info JSON, maxMembers, maxRooms, room, channel, join event. */
export const CLAIM = `${UNLIST}
if redis.call('HEXISTS', KEYS[1], ARGV[2]) == 1 then return 'taken' end
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[4]) then return 'full' end
if redis.call('SISMEMBER', KEYS[2], ARGV[6]) == 0 and redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[5]) then return 'too-many-rooms' end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('SADD', ARGV[1] .. 'room:' .. ARGV[6] .. ':members', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[6])
redis.call('SADD', KEYS[3], ARGV[2])
keep(ARGV[1], ARGV[6])
redis.call('PUBLISH', ARGV[7], ARGV[8])
return 'ok'
`;

/** KEYS names; ARGV prefix, key, owner, reason, channel. 1 when released. */
export const RELEASE = `${UNLIST}
local raw = redis.call('HGET', KEYS[1], ARGV[2])
if not raw then return 0 end
local info = cjson.decode(raw)
if info.owner ~= ARGV[3] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[2])
unlist(ARGV[1], ARGV[2], info)
redis.call('SREM', ARGV[1] .. 'node:' .. info.node .. ':names', ARGV[2])
redis.call('PUBLISH', ARGV[5], 'e' .. cjson.encode({type = 'leave', room = info.room, member = info, reason = ARGV[4]}))
return 1
`;

/** KEYS names; ARGV key, from owner, to owner, new address or '', new transport or ''. */
export const TRANSFER = `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local info = cjson.decode(raw)
if info.owner ~= ARGV[2] then return 0 end
info.owner = ARGV[3]
if ARGV[4] ~= '' then info.address = ARGV[4] end
if ARGV[5] ~= '' then info.via = ARGV[5] end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(info))
return 1
`;

/** KEYS names, rooms; ARGV prefix, key, owner, room, maxRooms, channel. */
export const MOVE = `${UNLIST}
local raw = redis.call('HGET', KEYS[1], ARGV[2])
if not raw then return 'taken' end
local info = cjson.decode(raw)
if info.owner ~= ARGV[3] then return 'taken' end
if info.room == ARGV[4] then return 'ok' end
if redis.call('SISMEMBER', KEYS[2], ARGV[4]) == 0 and redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[5]) then return 'too-many-rooms' end
unlist(ARGV[1], ARGV[2], info)
redis.call('PUBLISH', ARGV[6], 'e' .. cjson.encode({type = 'leave', room = info.room, member = info, reason = 'moved'}))
info.room = ARGV[4]
redis.call('HSET', KEYS[1], ARGV[2], cjson.encode(info))
redis.call('SADD', ARGV[1] .. 'room:' .. ARGV[4] .. ':members', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[4])
keep(ARGV[1], ARGV[4])
redis.call('PUBLISH', ARGV[6], 'e' .. cjson.encode({type = 'join', room = info.room, member = info}))
return 'ok'
`;

/**
 * KEYS names, seq, stream, the attempt's key; ARGV mode, key, owner, room, maxlen, message JSON,
 * channel, how long the attempt is remembered (ms), prefix. An attempt already made (the
 * connection dropped before its answer came, or a client said it again with the same cid)
 * answers its number again, and publishes nothing.
 * mode `member`: the sender must hold the name (owner) in this room; `post`: nobody may hold it;
 * `free`: no check (admin messages, account posts). Returns {number, 1} when numbered now,
 * {number, 0} when numbered earlier (the caller must not write it to the history again), {0, 0}
 * when refused, {-1, 0} when the room's counter is missing (a new room, an expired one, or Redis
 * lost its data): the caller sets it and tries again.
 */
export const APPEND = `${UNLIST}
local done = redis.call('GET', KEYS[4])
if done then return {tonumber(done), 0} end
if ARGV[1] == 'member' then
  local raw = redis.call('HGET', KEYS[1], ARGV[2])
  if not raw then return {0, 0} end
  local info = cjson.decode(raw)
  if info.owner ~= ARGV[3] or info.room ~= ARGV[4] then return {0, 0} end
elseif ARGV[1] == 'post' then
  if redis.call('HEXISTS', KEYS[1], ARGV[2]) == 1 then return {0, 0} end
end
if redis.call('EXISTS', KEYS[2]) == 0 then return {-1, 0} end
local seq = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[4], seq, 'PX', ARGV[8])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], seq .. '-1', 'm', ARGV[6])
if redis.call('SCARD', ARGV[9] .. 'room:' .. ARGV[4] .. ':members') == 0 then
  room_keys(ARGV[9], ARGV[4], ${ROOM_KEYS_TTL_MS})
else
  keep(ARGV[9], ARGV[4])
end
redis.call('PUBLISH', ARGV[7], 'm' .. seq .. '|' .. ARGV[6])
return {seq, 1}
`;

/** KEYS nodes; ARGV node, lease ms, '1' to register. 0 when the node had been reaped (its names freed). */
export const REFRESH = `${UNLIST}
if ARGV[3] == '1' then
  redis.call('ZADD', KEYS[1], now_ms() + tonumber(ARGV[2]), ARGV[1])
  return 1
end
return redis.call('ZADD', KEYS[1], 'XX', 'CH', now_ms() + tonumber(ARGV[2]), ARGV[1])
`;

/**
 * KEYS nodes, names; ARGV prefix, channel. Frees the names of every node whose lease has ended
 * (a few nodes per call), each with a `leave` the rooms hear. Returns the names freed.
 */
export const REAP = `${UNLIST}
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_ms(), 'LIMIT', 0, 8)
local freed = 0
for _, node in ipairs(dead) do
  redis.call('ZREM', KEYS[1], node)
  local set = ARGV[1] .. 'node:' .. node .. ':names'
  for _, key in ipairs(redis.call('SMEMBERS', set)) do
    local raw = redis.call('HGET', KEYS[2], key)
    if raw then
      local info = cjson.decode(raw)
      if info.node == node then
        redis.call('HDEL', KEYS[2], key)
        unlist(ARGV[1], key, info)
        redis.call('PUBLISH', ARGV[2], 'e' .. cjson.encode({type = 'leave', room = info.room, member = info, reason = 'disconnected'}))
        freed = freed + 1
      end
    end
  end
  redis.call('DEL', set)
end
return freed
`;
