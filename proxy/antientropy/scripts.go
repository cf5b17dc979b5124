package antientropy

import (
	"crypto/sha1"
	"encoding/hex"
)

// digestScript answers {type, pttl, digest} for KEYS[1]: the key's type
// ("none" when absent), its PTTL and the SHA-1 (hex) of a form of its value
// that does not depend on how Redis encodes it. DUMP would be cheaper to
// ask for, but two replicas holding the same hash or set can dump it
// differently (listpack order follows insertion order, which concurrent
// writes may make differ), and its trailer carries the RDB version and a
// CRC (the Redis source's cluster.c, createDumpPayload). So: strings as
// they are; hash fields and set members each hashed and the hashes sorted
// (hex text sorts the same in every locale, which Lua's string comparison,
// strcoll, would not promise for raw bytes); sorted sets in their own order
// (score, then member); lists in order; anything else (streams, modules) by
// DUMP without its 10-byte trailer.
const digestScript = `
local k = KEYS[1]
local t = redis.call('TYPE', k)['ok']
if t == 'none' then return {t, -2, ''} end
local pttl = redis.call('PTTL', k)
local parts = {t}
local function add(p) parts[#parts + 1] = #p .. ':' .. p end
if t == 'string' then
  add(redis.call('GET', k))
elseif t == 'hash' or t == 'set' then
  local a, hs = {}, {}
  if t == 'hash' then
    a = redis.call('HGETALL', k)
    for i = 1, #a, 2 do hs[#hs + 1] = redis.sha1hex(#a[i] .. ':' .. a[i] .. a[i + 1]) end
  else
    a = redis.call('SMEMBERS', k)
    for i = 1, #a do hs[#hs + 1] = redis.sha1hex(a[i]) end
  end
  table.sort(hs)
  for i = 1, #hs do add(hs[i]) end
elseif t == 'zset' then
  for _, p in ipairs(redis.call('ZRANGE', k, 0, -1, 'WITHSCORES')) do add(p) end
elseif t == 'list' then
  for _, p in ipairs(redis.call('LRANGE', k, 0, -1)) do add(p) end
else
  local d = redis.call('DUMP', k)
  add(string.sub(d, 1, -11))
end
return {t, pttl, redis.sha1hex(table.concat(parts, ','))}
`

// applyScript brings one replica's copy of KEYS[1] to the winner's, unless
// the key changed since it was read: the replica's DUMP must still be
// ARGV[1] ("" for a key that was absent), so that a client write landing
// between the read and the repair is never overwritten by the older
// version.
//
//	ARGV[2]  S: restore the winner's value, D: delete the key
//	ARGV[3]  the winner's DUMP, ARGV[4] its TTL in ms (0: none)
//	ARGV[5]  1: copy the winner's read-repair metadata as well:
//	ARGV[6]  its `._add-set` score ("" none), ARGV[7] its `._rem-set` score
//	ARGV[8]  the DUMP of its `._add-set_K` ("" none), ARGV[9] of `._rem-set_K`
//
// It answers 1 when applied, 0 when the key had changed.
const applyScript = `
local k = KEYS[1]
local cur = redis.call('DUMP', k)
if ARGV[1] == '' then
  if cur then return 0 end
elseif cur ~= ARGV[1] then
  return 0
end
if ARGV[2] == 'S' then
  redis.call('RESTORE', k, ARGV[4], ARGV[3], 'REPLACE')
else
  redis.call('DEL', k)
end
if ARGV[5] == '1' then
  for i, set in ipairs({'._add-set', '._rem-set'}) do
    local s = ARGV[5 + i]
    if s ~= '' then redis.call('ZADD', set, s, k) else redis.call('ZREM', set, k) end
    local d = ARGV[7 + i]
    if d ~= '' then redis.call('RESTORE', set .. '_' .. k, 0, d, 'REPLACE') else redis.call('DEL', set .. '_' .. k) end
  end
end
return 1
`

// The read-repair metadata (proxy/repair's package documentation): the
// sorted sets themselves and the per-key field sets are left out of the
// trees (they span every range, and differ wherever keys do), and copied
// with the key they describe.
const (
	addSet = "._add-set"
	remSet = "._rem-set"
	// streamTmp is the prefix of proxy/stream's temporary keys.
	streamTmp = "__dynomite_stream_tmp:"
)

func scriptSHA(s string) string {
	h := sha1.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

var (
	digestSHA = scriptSHA(digestScript)
	applySHA  = scriptSHA(applyScript)
)
