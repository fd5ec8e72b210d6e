package redisstore

import "github.com/redis/go-redis/v9"

// The scripts below run atomically inside Redis. Every key a script
// touches is passed in KEYS and, apart from the backlog scripts, all of
// them carry the same hash tag, so each script stays inside one cluster
// slot.

// acquireScript takes a lease: KEYS lease, fence; ARGV ttl ms, idle ms.
// It returns the new fencing token, or 0 when the lease is held.
var acquireScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local token = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('SET', KEYS[1], token, 'PX', ARGV[1])
return token
`)

// releaseScript deletes a lease only while it is still the caller's:
// KEYS lease; ARGV token.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
`)

// commitScript applies one turn.
//
//	KEYS  1 state (hash v, d)  2 lease  3 seen mark  4 outbox (list of ids)
//	      5 outbound messages (hash id -> json)  6 event log (list of json)
//	      7 fence  8 delivery lease  9 delivery fence
//	ARGV  1 token  2 expected version  3 new version  4 state json
//	      5 "1" to mark the dedupe key  6 idle ms  7 dedupe ms
//	      8 events max length  9 number of events  10 number of outbound
//	      11 delivery lease ms to claim the new messages, "0" not to
//	      then the events' json, then id, json per outbound message
//
// It returns {"OK", [delivery token]} or {"LEASE"}, {"DUP"},
// {"STALE"} without writing anything. Checks run in that order: a
// redelivered message is reported as a duplicate even when its version is
// also stale. The delivery token is there when a claim was asked for, the
// outbox held only this commit's messages and no delivery lease was held.
var commitScript = redis.NewScript(`
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return {'LEASE'} end
if ARGV[5] == '1' and redis.call('EXISTS', KEYS[3]) == 1 then return {'DUP'} end
local cur = redis.call('HGET', KEYS[1], 'v')
if not cur then cur = '0' end
if cur ~= ARGV[2] then return {'STALE'} end
local idle = ARGV[6]
redis.call('HSET', KEYS[1], 'v', ARGV[3], 'd', ARGV[4])
if ARGV[5] == '1' then redis.call('SET', KEYS[3], '1', 'PX', ARGV[7]) end
local ne, no = tonumber(ARGV[9]), tonumber(ARGV[10])
local res = {'OK'}
if ne > 0 then
  for i = 1, ne do
    redis.call('RPUSH', KEYS[6], ARGV[11 + i])
  end
  redis.call('LTRIM', KEYS[6], -tonumber(ARGV[8]), -1)
end
local base = 11 + ne
local pushed = 0
for j = 1, no do
  local id, msg = ARGV[base + 2 * j - 1], ARGV[base + 2 * j]
  if redis.call('HSET', KEYS[5], id, msg) == 1 then
    redis.call('RPUSH', KEYS[4], id)
    pushed = pushed + 1
  end
end
for k = 1, 7 do
  if k ~= 2 and k ~= 3 then redis.call('PEXPIRE', KEYS[k], idle) end
end
redis.call('DEL', KEYS[2])
if ARGV[11] ~= '0' and pushed == no and pushed > 0 and redis.call('LLEN', KEYS[4]) == pushed and redis.call('EXISTS', KEYS[8]) == 0 then
  local token = redis.call('INCR', KEYS[9])
  redis.call('PEXPIRE', KEYS[9], idle)
  redis.call('SET', KEYS[8], token, 'PX', ARGV[11])
  res[#res + 1] = tostring(token)
end
return res
`)

// pendingScript returns up to ARGV[1] outbound messages, oldest first:
// KEYS outbox, outbound messages.
var pendingScript = redis.NewScript(`
local ids = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #ids == 0 then return {} end
return redis.call('HMGET', KEYS[2], unpack(ids))
`)

// ackScript removes one outbound message: KEYS outbox, outbound messages;
// ARGV id.
var ackScript = redis.NewScript(`
redis.call('LREM', KEYS[1], 0, ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 0
`)

// drainedScript reports 1 when a conversation has no pending outbound
// message and no turn in flight (its lease is free): KEYS outbox, lease.
// A turn writes its backlog hint before its commit while holding the
// lease, so a held lease means a hint Settle may have read is not yet
// backed by the outbox.
var drainedScript = redis.NewScript(`
if redis.call('LLEN', KEYS[1]) > 0 or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
return 1
`)

// settleScript removes a backlog member only while its score is still the
// one read before: KEYS backlog; ARGV member, score.
var settleScript = redis.NewScript(`
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if s and tonumber(s) == tonumber(ARGV[2]) then redis.call('ZREM', KEYS[1], ARGV[1]) return 1 end
return 0
`)

// beginScript starts a turn: dedupe check, lease, load.
//
//	KEYS  1 seen mark  2 lease  3 fence  4 state
//	ARGV  1 ttl ms  2 idle ms
//
// It returns {-1} for a duplicate, {0} when the lease is held, else
// {token} or {token, state json}.
var beginScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return {-1} end
if redis.call('EXISTS', KEYS[2]) == 1 then return {0} end
local token = redis.call('INCR', KEYS[3])
redis.call('PEXPIRE', KEYS[3], ARGV[2])
redis.call('SET', KEYS[2], token, 'PX', ARGV[1])
local d = redis.call('HGET', KEYS[4], 'd')
if d then return {token, d} end
return {token}
`)

// claimScript takes a conversation's delivery lease and its oldest
// pending messages.
//
//	KEYS  1 delivery lease  2 delivery fence  3 outbox  4 outbound messages
//	      5 turn lease
//	ARGV  1 ttl ms  2 idle ms  3 limit
//
// It returns {0} when the delivery lease is held, else {token, more, busy,
// message json...}: more is 1 when the limit cut the batch, busy is 1 when
// a turn holds the conversation (its commit may be about to add messages).
var claimScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return {0} end
local token = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('SET', KEYS[1], token, 'PX', ARGV[1])
local lim = tonumber(ARGV[3])
local ids = redis.call('LRANGE', KEYS[3], 0, lim)
local more = 0
if #ids > lim then more = 1; table.remove(ids) end
local res = {token, more, redis.call('EXISTS', KEYS[5])}
if #ids > 0 then
  local msgs = redis.call('HMGET', KEYS[4], unpack(ids))
  for i = 1, #msgs do
    if msgs[i] then res[#res + 1] = msgs[i] end
  end
end
return res
`)

// finishScript acks delivered messages and releases the delivery lease.
//
//	KEYS  1 outbox  2 outbound messages  3 delivery lease
//	ARGV  1 token, then the delivered ids
var finishScript = redis.NewScript(`
for i = 2, #ARGV do
  redis.call('LREM', KEYS[1], 1, ARGV[i])
  redis.call('HDEL', KEYS[2], ARGV[i])
end
if redis.call('GET', KEYS[3]) == ARGV[1] then redis.call('DEL', KEYS[3]) end
return 0
`)

// finishSettleScript is finishScript and then settleScript in one script,
// for a standalone Redis (on Cluster the backlog is in another slot).
//
//	KEYS  1 outbox  2 outbound messages  3 delivery lease  4 backlog
//	ARGV  1 token  2 backlog member  3 its score read before, then the
//	      delivered ids
var finishSettleScript = redis.NewScript(`
for i = 4, #ARGV do
  redis.call('LREM', KEYS[1], 1, ARGV[i])
  redis.call('HDEL', KEYS[2], ARGV[i])
end
if redis.call('GET', KEYS[3]) == ARGV[1] then redis.call('DEL', KEYS[3]) end
local s = redis.call('ZSCORE', KEYS[4], ARGV[2])
if s and tonumber(s) == tonumber(ARGV[3]) then redis.call('ZREM', KEYS[4], ARGV[2]) end
return 0
`)
