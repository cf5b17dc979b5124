package stream

import (
	"context"
	"fmt"
	"strconv"
)

// tmpPrefix names the key a large value is assembled under on the target
// before it is renamed into place, so that readers never see half a value.
const tmpPrefix = "__dynomite_stream_tmp:"

// copyLarge copies a key too large for one DUMP/RESTORE, by type, in chunks
// small enough that no single command holds either Redis for more than a
// few milliseconds (a DUMP of a 100 MB value, or MIGRATE, blocks the source
// for the whole serialization). The chunks go to a temporary key, which gets
// the source's expiry (PEXPIREAT) and is then renamed over the key with
// RENAMENX: a write that reached the target meanwhile wins.
//
// The copy is not a snapshot: a write to the source during the copy may be
// partly reflected. Streams' consumer groups are not copied.
func (r *redisCopy) copyLarge(ctx context.Context, k *keyState) error {
	s := r.s
	replace := false
	v, err := r.dst.Do([]byte("EXISTS"), k.key)
	if err != nil {
		return err
	}
	if v.Int == 1 {
		newer, err := r.sourceNewer(ctx, k.key)
		if err != nil || !newer {
			return nil
		}
		replace = true
	}
	typ, err := r.src.Do([]byte("TYPE"), k.key)
	if err := fatal(err); err != nil {
		return err
	}
	if err != nil {
		s.keyError(fmt.Errorf("TYPE %q on %s: %w", k.key, s.src.Addr, err))
		return nil
	}
	tmp := append([]byte(tmpPrefix), k.key...)
	if _, err := r.dst.Do([]byte("DEL"), tmp); err != nil {
		return err
	}
	c := chunker{r: r, ctx: ctx, key: k.key, tmp: tmp}
	switch string(typ.Str) {
	case "string":
		err = c.str(s.opts.ChunkBytes)
	case "hash":
		err = c.scan("HSCAN", "HSET", s.opts.ChunkItems, false)
	case "set":
		err = c.scan("SSCAN", "SADD", s.opts.ChunkItems, false)
	case "zset":
		err = c.scan("ZSCAN", "ZADD", s.opts.ChunkItems, true)
	case "list":
		err = c.list(s.opts.ChunkItems)
	case "stream":
		err = c.stream(s.opts.ChunkItems)
	case "none":
		s.c.gone.Add(1)
		return nil
	default:
		s.keyError(fmt.Errorf("copying %q from %s: type %s cannot be copied in chunks", k.key, s.src.Addr, typ.Str))
		return nil
	}
	if err := fatal(err); err != nil {
		return err
	}
	if err != nil {
		s.keyError(fmt.Errorf("copying %q in chunks from %s to %s: %w", k.key, s.src.Addr, s.dst.Addr, err))
		_, err = r.dst.Do([]byte("DEL"), tmp)
		return fatal(err)
	}
	return r.place(k, tmp, replace, c.bytes)
}

// place gives the assembled temporary key the source's expiry and renames
// it over the key.
func (r *redisCopy) place(k *keyState, tmp []byte, replace bool, bytes int64) error {
	s := r.s
	if k.pttl >= 0 {
		at := k.at.UnixMilli() + k.pttl
		if _, err := r.dst.Do([]byte("PEXPIREAT"), tmp, strconv.AppendInt(nil, at, 10)); err != nil {
			return fatal(err)
		}
	}
	cmd := "RENAMENX"
	if replace {
		cmd = "RENAME"
	}
	v, err := r.dst.Do([]byte(cmd), tmp, k.key)
	switch {
	case fatal(err) != nil:
		return err
	case err != nil: // "no such key": the value expired, or the source lost it
		s.c.gone.Add(1)
	case cmd == "RENAMENX" && v.Int == 0:
		s.c.present.Add(1)
		_, err := r.dst.Do([]byte("DEL"), tmp)
		return fatal(err)
	default:
		s.c.copied.Add(1)
		s.c.bytes.Add(bytes)
	}
	return nil
}

// chunker copies one large value chunk by chunk, throttled by bytes.
type chunker struct {
	r        *redisCopy
	ctx      context.Context
	key, tmp []byte
	bytes    int64
}

// write sends one chunk to the temporary key, after the throttle.
func (c *chunker) write(n int64, args ...[]byte) error {
	if err := c.r.s.opts.Throttle.Wait(c.ctx, 0, n); err != nil {
		return err
	}
	c.bytes += n
	_, err := c.r.dst.Do(args...)
	return err
}

// str copies a string with GETRANGE and APPEND.
func (c *chunker) str(chunk int) error {
	for off := int64(0); ; off += int64(chunk) {
		v, err := c.r.src.Do([]byte("GETRANGE"), c.key, strconv.AppendInt(nil, off, 10),
			strconv.AppendInt(nil, off+int64(chunk)-1, 10))
		if err != nil {
			return err
		}
		if len(v.Str) == 0 {
			return nil
		}
		if err := c.write(int64(len(v.Str)), []byte("APPEND"), c.tmp, v.Str); err != nil {
			return err
		}
	}
}

// scan copies a hash, set or sorted set with its SCAN command: each batch
// of elements becomes one HSET, SADD or ZADD. ZSCAN answers member, score
// pairs and ZADD takes score, member.
func (c *chunker) scan(scanCmd, addCmd string, items int, swap bool) error {
	cursor := []byte("0")
	count := strconv.AppendInt(nil, int64(items), 10)
	for {
		v, err := c.r.src.Do([]byte(scanCmd), c.key, cursor, []byte("COUNT"), count)
		if err != nil {
			return err
		}
		if len(v.Array) != 2 {
			return fmt.Errorf("%s: malformed reply", scanCmd)
		}
		cursor = v.Array[0].Str
		elems := v.Array[1].Array
		if len(elems) > 0 {
			args := [][]byte{[]byte(addCmd), c.tmp}
			var n int64
			for i := range elems {
				e := elems[i].Str
				if swap && i%2 == 0 && i+1 < len(elems) {
					e = elems[i+1].Str
				} else if swap && i%2 == 1 {
					e = elems[i-1].Str
				}
				args = append(args, e)
				n += int64(len(e))
			}
			if err := c.write(n, args...); err != nil {
				return err
			}
		}
		if string(cursor) == "0" {
			return nil
		}
	}
}

// list copies a list with LRANGE windows and RPUSH.
func (c *chunker) list(items int) error {
	for start := int64(0); ; start += int64(items) {
		v, err := c.r.src.Do([]byte("LRANGE"), c.key, strconv.AppendInt(nil, start, 10),
			strconv.AppendInt(nil, start+int64(items)-1, 10))
		if err != nil {
			return err
		}
		if len(v.Array) == 0 {
			return nil
		}
		args := [][]byte{[]byte("RPUSH"), c.tmp}
		var n int64
		for _, e := range v.Array {
			args = append(args, e.Str)
			n += int64(len(e.Str))
		}
		if err := c.write(n, args...); err != nil {
			return err
		}
	}
}

// stream copies a stream with XRANGE windows and XADD, keeping the IDs.
func (c *chunker) stream(items int) error {
	start := []byte("-")
	count := strconv.AppendInt(nil, int64(items), 10)
	for {
		v, err := c.r.src.Do([]byte("XRANGE"), c.key, start, []byte("+"), []byte("COUNT"), count)
		if err != nil {
			return err
		}
		if len(v.Array) == 0 {
			return nil
		}
		for _, entry := range v.Array {
			if len(entry.Array) != 2 {
				return fmt.Errorf("XRANGE: malformed entry")
			}
			id := entry.Array[0].Str
			args := [][]byte{[]byte("XADD"), c.tmp, id}
			var n int64
			for _, f := range entry.Array[1].Array {
				args = append(args, f.Str)
				n += int64(len(f.Str))
			}
			if err := c.write(n, args...); err != nil {
				return err
			}
			start = append([]byte("("), id...)
		}
	}
}
