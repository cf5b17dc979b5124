package repair

import (
	"bytes"
	"strconv"

	"github.com/dynomite-go/dynomite/proxy/resp"
)

// The scripts. Each names the metadata sets itself (upstream passes them as
// KEYS[2] and KEYS[3]): KEYS holds only the keys a command touches, so the
// EVAL routes like the command it replaces, and a datacenter that receives
// it forwarded (upstream's DMSG_REQ_FORWARD) finds one replica set for it.
// A write older than the metadata already stored is skipped: it answers as
// if it had applied and been overwritten, as last-writer-wins does. The
// command itself runs with redis.pcall, so its own error (WRONGTYPE) reaches
// the client as it would without the script.
const (
	// scriptSet: KEYS[1] the key; ARGV[1] the score; ARGV[2..] SET's
	// arguments after the key (the value, then options such as EX or NX).
	scriptSet = `local k, s = KEYS[1], ARGV[1]
local ts = tonumber(s)
for _, set in ipairs({'._add-set', '._rem-set'}) do
  local seen = redis.call('ZSCORE', set, k)
  if seen and ts < tonumber(seen) then return redis.status_reply('OK') end
end
local res = redis.pcall('SET', k, unpack(ARGV, 2))
if type(res) == 'table' and res.err then return res end
if res then
  redis.call('ZREM', '._rem-set', k)
  redis.call('ZADD', '._add-set', s, k)
end
return res
`
	// scriptDel: KEYS the keys; ARGV[1] the score. A deleted key leaves a
	// tombstone in ._rem-set and loses its field metadata.
	scriptDel = `local s = ARGV[1]
local ts, n = tonumber(s), 0
for _, k in ipairs(KEYS) do
  local a = redis.call('ZSCORE', '._add-set', k)
  local r = redis.call('ZSCORE', '._rem-set', k)
  if not ((a and ts < tonumber(a)) or (r and ts < tonumber(r))) then
    n = n + redis.call('DEL', k)
    redis.call('DEL', '._add-set_' .. k, '._rem-set_' .. k)
    redis.call('ZREM', '._add-set', k)
    redis.call('ZADD', '._rem-set', s, k)
  end
end
return n
`
	// scriptFields: KEYS[1] the key; ARGV[1] the score; ARGV[2] the
	// command (HSET HMSET HDEL SADD SREM ZADD ZREM); ARGV[3] the number of
	// ZADD options that follow; then the fields or members (HSET, HMSET:
	// field value pairs; ZADD: score member pairs). Each field is applied
	// on its own, only when not older than its metadata and not older than
	// a delete of the whole key; a ZADD member that NX or XX left alone
	// records nothing.
	scriptFields = `local k, s, cmd = KEYS[1], ARGV[1], ARGV[2]
local ts, nopt = tonumber(s), tonumber(ARGV[3])
local adds, rems = '._add-set_' .. k, '._rem-set_' .. k
local del = cmd == 'HDEL' or cmd == 'SREM' or cmd == 'ZREM'
local step, incr, nx, xx = 1, false, false, false
if cmd == 'HSET' or cmd == 'HMSET' or cmd == 'ZADD' then step = 2 end
for j = 4, 3 + nopt do
  local o = string.upper(ARGV[j])
  if o == 'INCR' then incr = true elseif o == 'NX' then nx = true elseif o == 'XX' then xx = true end
end
local function older(set, m)
  local seen = redis.call('ZSCORE', set, m)
  return seen and ts < tonumber(seen)
end
local n, last = 0, false
if not older('._rem-set', k) then
  for i = 4 + nopt, #ARGV, step do
    local m, v = ARGV[i], ARGV[i + 1]
    if cmd == 'ZADD' then m, v = ARGV[i + 1], ARGV[i] end
    if not older(adds, m) and not older(rems, m) then
      local res
      if cmd == 'ZADD' then
        local had = redis.call('ZSCORE', k, m)
        local a = {k}
        for j = 4, 3 + nopt do a[#a + 1] = ARGV[j] end
        a[#a + 1] = v
        a[#a + 1] = m
        res = redis.pcall('ZADD', unpack(a))
        if (nx and had) or (xx and not had) then
          if type(res) == 'number' then n = n + res end
          res = false
        end
      elseif step == 2 then
        res = redis.pcall('HSET', k, m, v)
      else
        res = redis.pcall(cmd, k, m)
      end
      if type(res) == 'table' and res.err then return res end
      if res then
        last = res
        if type(res) == 'number' then n = n + res end
        local to, from = adds, rems
        if del then to, from = rems, adds end
        redis.call('ZREM', from, m)
        redis.call('ZADD', to, s, m)
      end
    end
  end
  if not del then
    redis.call('ZREM', '._rem-set', k)
    local a = redis.call('ZSCORE', '._add-set', k)
    if not a or ts > tonumber(a) then redis.call('ZADD', '._add-set', s, k) end
  end
end
if cmd == 'HMSET' then return redis.status_reply('OK') end
if incr then return last end
return n
`
	// scriptRead: KEYS[1] the key; ARGV[1] the read (GET HGET SISMEMBER
	// ZSCORE); ARGV[2] the field or member, absent for GET. It answers
	// {status, score, value}: E and the score of the newest write, R and
	// the score of the newest delete (of the field, or of the whole key),
	// X and 0 without metadata. A delete wins a tie.
	scriptRead = `local k, cmd, f = KEYS[1], ARGV[1], ARGV[2]
local st, ts = 'X', '0'
local function newest(seen, status)
  if seen and (st == 'X' or tonumber(seen) > tonumber(ts) or (status == 'R' and tonumber(seen) == tonumber(ts))) then
    st, ts = status, seen
  end
end
local v
if f then
  v = redis.pcall(cmd, k, f)
  newest(redis.call('ZSCORE', '._add-set_' .. k, f), 'E')
  newest(redis.call('ZSCORE', '._rem-set_' .. k, f), 'R')
else
  v = redis.pcall(cmd, k)
  newest(redis.call('ZSCORE', '._add-set', k), 'E')
end
if type(v) == 'table' and v.err then return v end
newest(redis.call('ZSCORE', '._rem-set', k), 'R')
return {st, ts, v}
`
	// scriptCleanKeys: KEYS the keys; ARGV[1] the delete's score. Removes
	// the keys' tombstones that are not newer than that delete (upstream's
	// CLEANUP_DEL_SCRIPT in src/dyn_response_mgr.c).
	scriptCleanKeys = `local ts, n = tonumber(ARGV[1]), 0
for _, k in ipairs(KEYS) do
  local r = redis.call('ZSCORE', '._rem-set', k)
  if r and tonumber(r) <= ts then n = n + redis.call('ZREM', '._rem-set', k) end
end
return n
`
	// scriptCleanFields: KEYS[1] the key; ARGV[1] the delete's score;
	// ARGV[2..] the fields (upstream's CLEANUP_HDEL_SCRIPT).
	scriptCleanFields = `local k, ts, n = KEYS[1], tonumber(ARGV[1]), 0
local rems = '._rem-set_' .. k
for i = 2, #ARGV do
  local r = redis.call('ZSCORE', rems, ARGV[i])
  if r and tonumber(r) <= ts then n = n + redis.call('ZREM', rems, ARGV[i]) end
end
return n
`
)

// eval appends the head of `EVAL script numkeys`, announcing n more
// arguments after it.
func eval(dst []byte, script string, numkeys, n int) []byte {
	dst = resp.AppendArrayHeader(dst, 3+n)
	dst = resp.AppendBulkString(dst, "EVAL")
	dst = resp.AppendBulkString(dst, script)
	return appendNum(dst, int64(numkeys))
}

// appendNum appends n as a bulk string of its decimal digits.
func appendNum(dst []byte, n int64) []byte {
	var b [20]byte
	return resp.AppendBulk(dst, strconv.AppendInt(b[:0], n, 10))
}

// appendScore appends a score as a bulk string.
func appendScore(dst []byte, score float64) []byte {
	var b [32]byte
	return resp.AppendBulk(dst, AppendScore(b[:0], score))
}

// bulks appends each of args as a bulk string.
func bulks(dst []byte, args [][]byte) []byte {
	for _, a := range args {
		dst = resp.AppendBulk(dst, a)
	}
	return dst
}

// zaddOptions is the number of ZADD options at args[2:] (NX XX GT LT CH
// INCR), and whether INCR is one of them.
func zaddOptions(args [][]byte) (n int, incr bool) {
	for _, a := range args[2:] {
		switch {
		case equalFold(a, "incr"):
			incr = true
		case equalFold(a, "nx"), equalFold(a, "xx"), equalFold(a, "gt"), equalFold(a, "lt"), equalFold(a, "ch"):
		default:
			return n, incr
		}
		n++
	}
	return n, incr
}

func equalFold(b []byte, lower string) bool {
	return len(b) == len(lower) && bytes.EqualFold(b, []byte(lower))
}

// AppendWrite appends to dst the EVAL that applies the write args (args[0]
// the command's name, as the client sent it) at score and records its
// metadata. ok is false, and dst unchanged, when args are not a shape the
// scripts take (a wrong number of arguments, SET with GET): the caller
// forwards the command as it is and the datastore answers it.
func AppendWrite(dst []byte, op Op, args [][]byte, score float64) (_ []byte, ok bool) {
	n := len(args)
	switch op {
	case Set:
		if n < 3 {
			return dst, false
		}
		for _, a := range args[3:] {
			if equalFold(a, "get") {
				return dst, false
			}
		}
		dst = eval(dst, scriptSet, 1, 1+1+n-2)
		dst = resp.AppendBulk(dst, args[1])
		dst = appendScore(dst, score)
		return bulks(dst, args[2:]), true
	case Del:
		if n < 2 {
			return dst, false
		}
		dst = eval(dst, scriptDel, n-1, n-1+1)
		dst = bulks(dst, args[1:])
		return appendScore(dst, score), true
	case HSet, HMSet:
		if n < 4 || (n-2)%2 != 0 {
			return dst, false
		}
	case HDel, SAdd, SRem, ZRem:
		if n < 3 {
			return dst, false
		}
	case ZAdd:
		if n < 4 {
			return dst, false
		}
		nopt, incr := zaddOptions(args)
		rest := n - 2 - nopt
		if rest < 2 || rest%2 != 0 || (incr && rest != 2) {
			return dst, false
		}
		return fields(dst, op, args, nopt, score), true
	default:
		return dst, false
	}
	return fields(dst, op, args, 0, score), true
}

// fields appends scriptFields' EVAL for args, whose nopt options follow the
// key.
func fields(dst []byte, op Op, args [][]byte, nopt int, score float64) []byte {
	dst = eval(dst, scriptFields, 1, 1+3+len(args)-2)
	dst = resp.AppendBulk(dst, args[1])
	dst = appendScore(dst, score)
	dst = resp.AppendBulkString(dst, op.String())
	dst = appendNum(dst, int64(nopt))
	return bulks(dst, args[2:])
}

// AppendRead appends the EVAL that answers the read args with its metadata
// ({status, score, value}, see ParseRead); ok is false when args are not a
// shape the script takes.
func AppendRead(dst []byte, op Op, args [][]byte) (_ []byte, ok bool) {
	want := 3
	if op == Get {
		want = 2
	}
	if !op.Read() || len(args) != want {
		return dst, false
	}
	dst = eval(dst, scriptRead, 1, want)
	dst = resp.AppendBulk(dst, args[1])
	dst = resp.AppendBulkString(dst, op.String())
	return bulks(dst, args[2:]), true
}

// AppendCleanup appends the EVAL that removes the tombstones a delete args
// (DEL, HDEL, SREM, ZREM) left at score, once every replica has it; ok is
// false for any other command.
func AppendCleanup(dst []byte, op Op, args [][]byte, score float64) (_ []byte, ok bool) {
	n := len(args)
	switch {
	case op == Del && n >= 2:
		dst = eval(dst, scriptCleanKeys, n-1, n-1+1)
		dst = bulks(dst, args[1:])
		return appendScore(dst, score), true
	case op.Delete() && op != Del && n >= 3:
		dst = eval(dst, scriptCleanFields, 1, n)
		dst = resp.AppendBulk(dst, args[1])
		dst = appendScore(dst, score)
		return bulks(dst, args[2:]), true
	}
	return dst, false
}

// AppendCleanupOf appends the cleanup of the delete that write, an EVAL
// built by AppendWrite for DEL, HDEL, SREM or ZREM, applies: AppendCleanup
// read back from the request itself, for a caller that no longer has the
// command's arguments (a fragment of a multi-key DEL, whose arguments are
// the client request's, which may be recycled before the last replica
// answers). ok is false for any other request.
func AppendCleanupOf(dst, write []byte) (_ []byte, ok bool) {
	var buf [16][]byte
	lim := resp.DefaultLimits()
	_, args, err := resp.ParseRequest(write, buf[:0], &lim)
	if err != nil || len(args) < 5 || string(args[0]) != "EVAL" {
		return dst, false
	}
	nk, err := strconv.Atoi(string(args[2]))
	if err != nil || nk < 1 || 3+nk >= len(args) {
		return dst, false
	}
	score, err := strconv.ParseFloat(string(args[3+nk]), 64)
	if err != nil {
		return dst, false
	}
	switch string(args[1]) {
	case scriptDel:
		dst = eval(dst, scriptCleanKeys, nk, nk+1)
		dst = bulks(dst, args[3:3+nk])
		return appendScore(dst, score), true
	case scriptFields:
		// KEYS[1], score, command, 0 options, fields
		if nk != 1 || len(args) < 8 || !OpOf(string(bytes.ToLower(args[5]))).Delete() {
			return dst, false
		}
		dst = eval(dst, scriptCleanFields, 1, 2+len(args)-7)
		dst = resp.AppendBulk(dst, args[3])
		dst = appendScore(dst, score)
		return bulks(dst, args[7:]), true
	}
	return dst, false
}
