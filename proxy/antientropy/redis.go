package antientropy

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/dynomite-go/dynomite/proxy/repair"
	"github.com/dynomite-go/dynomite/proxy/stream"
)

// redisStore is a Redis: SCAN, the digest and apply scripts (scripts.go),
// the read-repair metadata.
type redisStore struct {
	c    *stream.Conn
	addr string
	now  func() time.Time
}

func dialRedis(ctx context.Context, addr, password string, timeout time.Duration, now func() time.Time) (*redisStore, error) {
	c, err := stream.DialRedis(ctx, addr, timeout)
	if err != nil {
		return nil, err
	}
	if password != "" {
		if _, err := c.DoS("AUTH", password); err != nil {
			c.Close()
			return nil, fmt.Errorf("AUTH on %s: %w", addr, err)
		}
	}
	for _, s := range []string{digestScript, applyScript} {
		if _, err := c.DoS("SCRIPT", "LOAD", s); err != nil {
			c.Close()
			return nil, fmt.Errorf("SCRIPT LOAD on %s: %w", addr, err)
		}
	}
	return &redisStore{c: c, addr: addr, now: now}, nil
}

func (s *redisStore) close() { s.c.Close() }

func (s *redisStore) size() (int64, error) {
	v, err := s.c.DoS("DBSIZE")
	return v.Int, err
}

func (s *redisStore) scan(ctx context.Context, count int, fn func(page [][]byte) error) error {
	cursor, n := "0", strconv.Itoa(count)
	for {
		v, err := s.c.DoS("SCAN", cursor, "COUNT", n)
		if err != nil {
			return ctxErr(ctx, fmt.Errorf("antientropy: SCAN %s on %s: %w", cursor, s.addr, err))
		}
		if len(v.Array) != 2 {
			return fmt.Errorf("antientropy: SCAN on %s: malformed reply", s.addr)
		}
		page := make([][]byte, len(v.Array[1].Array))
		for i, k := range v.Array[1].Array {
			page[i] = k.Str
		}
		if err := fn(page); err != nil {
			return err
		}
		cursor = string(v.Array[0].Str)
		if cursor == "0" {
			return nil
		}
	}
}

// digests runs the digest script for keys, pipelined. A script error on a
// key (a module type Redis cannot DUMP, say) is not one replica's
// divergence to guess at: it ends the repair, naming the key.
func (s *redisStore) digests(ctx context.Context, keys [][]byte) ([]keyDigest, error) {
	sha := []byte(digestSHA)
	for _, k := range keys {
		s.c.Send([]byte("EVALSHA"), sha, []byte("1"), k)
	}
	if err := s.c.Flush(); err != nil {
		return nil, ctxErr(ctx, err)
	}
	out := make([]keyDigest, len(keys))
	var firstErr error
	for i := range keys {
		v, err := s.c.Receive()
		now := s.now().UnixMilli()
		if err != nil {
			if !isKeyError(err) {
				return nil, ctxErr(ctx, err)
			}
			if firstErr == nil {
				firstErr = fmt.Errorf("antientropy: digest of %q on %s: %w", keys[i], s.addr, err)
			}
			continue
		}
		d, ok := parseDigest(v, now)
		if !ok {
			return nil, fmt.Errorf("antientropy: digest of %q on %s: malformed reply", keys[i], s.addr)
		}
		out[i] = d
	}
	return out, firstErr
}

func parseDigest(v stream.Value, now int64) (keyDigest, bool) {
	if len(v.Array) != 3 {
		return keyDigest{}, false
	}
	if string(v.Array[0].Str) == "none" {
		return keyDigest{}, true
	}
	d := keyDigest{present: true, expiry: NoExpiry}
	if pttl := v.Array[1].Int; pttl >= 0 {
		d.expiry = now + pttl
	}
	if !unhexDigest(&d.value, v.Array[2].Str) {
		return keyDigest{}, false
	}
	return d, true
}

// unhexDigest decodes the first bytes of a hex digest into d.
func unhexDigest(d *Digest, hexd []byte) bool {
	if len(hexd) < 2*len(d) {
		return false
	}
	for i := range d {
		hi, ok1 := unhex(hexd[2*i])
		lo, ok2 := unhex(hexd[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		d[i] = hi<<4 | lo
	}
	return true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// readCommands is how many commands read sends per key.
const readCommands = 6

// read reads each key's digest, metadata scores, DUMP and field
// metadata, pipelined.
func (s *redisStore) read(ctx context.Context, keys []string) ([]copyState, error) {
	for _, k := range keys {
		s.c.Send([]byte("EVALSHA"), []byte(digestSHA), []byte("1"), []byte(k))
		s.c.Send([]byte("ZSCORE"), []byte(addSet), []byte(k))
		s.c.Send([]byte("ZSCORE"), []byte(remSet), []byte(k))
		s.c.Send([]byte("DUMP"), []byte(k))
		s.c.Send([]byte("DUMP"), []byte(addSet+"_"+k))
		s.c.Send([]byte("DUMP"), []byte(remSet+"_"+k))
	}
	if err := s.c.Flush(); err != nil {
		return nil, ctxErr(ctx, fmt.Errorf("antientropy: %s: %w", s.addr, err))
	}
	out := make([]copyState, len(keys))
	for i, k := range keys {
		st := &out[i]
		st.st = s
		var vals [readCommands]stream.Value
		for n := range readCommands {
			v, err := s.c.Receive()
			if err != nil {
				if !isKeyError(err) {
					return nil, ctxErr(ctx, err)
				}
				if st.err == nil {
					st.err = fmt.Errorf("antientropy: reading %q on %s: %w", k, s.addr, err)
				}
			}
			vals[n] = v
		}
		if st.err != nil {
			continue
		}
		d, ok := parseDigest(vals[0], s.now().UnixMilli())
		if !ok {
			st.err = fmt.Errorf("antientropy: digest of %q on %s: malformed reply", k, s.addr)
			continue
		}
		st.v = Version{Present: d.present, Value: d.value, Expiry: d.expiry}
		st.added, st.remove = nonNull(vals[1]), nonNull(vals[2])
		st.v.Added, st.v.Removed = score(st.added), score(st.remove)
		if d.present {
			st.dump = nonNull(vals[3])
		}
		st.fields = [2][]byte{nonNull(vals[4]), nonNull(vals[5])}
	}
	return out, nil
}

func nonNull(v stream.Value) []byte {
	if v.Null || v.Str == nil {
		return nil
	}
	return v.Str
}

func score(b []byte) float64 {
	if b == nil {
		return 0
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || f < 0 {
		return 0
	}
	return f
}

// apply runs applyScript on the loser.
func (s *redisStore) apply(_ context.Context, key string, win, lose *copyState, now int64) (bool, error) {
	action, ttl := "D", "0"
	if win.v.Present {
		action = "S"
		if win.v.Expiry != NoExpiry {
			// The TTL left now; a key that expired meanwhile gets the
			// shortest one, and goes on every replica.
			ttl = strconv.FormatInt(max(win.v.Expiry-now, 1), 10)
		}
	}
	meta := "0"
	if win.v.Added != 0 || win.v.Removed != 0 {
		meta = "1"
	}
	args := [][]byte{[]byte("EVALSHA"), []byte(applySHA), []byte("1"), []byte(key),
		lose.dump, []byte(action), win.dump, []byte(ttl), []byte(meta),
		scoreArg(win.added), scoreArg(win.remove), win.fields[0], win.fields[1]}
	for i, a := range args {
		if a == nil {
			args[i] = []byte{}
		}
	}
	v, err := s.c.Do(args...)
	if err != nil {
		return false, err
	}
	return v.Int == 1, nil
}

// scoreArg passes a score as Redis printed it, so that the loser stores
// exactly the winner's (proxy/repair's scores are exact in a float64 and
// print back to the same value).
func scoreArg(b []byte) []byte {
	if b == nil {
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return nil
	}
	return repair.AppendScore(nil, f)
}
