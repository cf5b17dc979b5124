package stream

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// pipelineDepth is the most keys whose commands share one pipeline: enough
// to hide the round trip, small enough that a cancel or a throttle change
// takes effect quickly.
const pipelineDepth = 64

// runRedis walks the source with SCAN and copies the keys in range.
func (s *Stream) runRedis(ctx context.Context) error {
	src, err := s.dialRedis(ctx, s.src)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := s.dialRedis(ctx, s.dst)
	if err != nil {
		return err
	}
	defer dst.Close()
	r := &redisCopy{s: s, src: src, dst: dst}
	if v, err := src.DoS("DBSIZE"); err == nil {
		s.total.Store(v.Int)
	}
	count := strconv.Itoa(s.opts.ScanCount)
	for {
		v, err := src.DoS("SCAN", s.cursor, "COUNT", count)
		if err != nil {
			return s.ctxErr(ctx, fmt.Errorf("stream: SCAN %s on %s: %w", s.cursor, s.src.Addr, err))
		}
		if len(v.Array) != 2 {
			return fmt.Errorf("stream: SCAN on %s: malformed reply", s.src.Addr)
		}
		next := string(v.Array[0].Str)
		keys := v.Array[1].Array
		var todo [][]byte
		matched := 0
		for _, k := range keys {
			if !s.filter.Match(k.Str) {
				continue
			}
			matched++
			if !containsKey(s.batchDone, k.Str) {
				todo = append(todo, k.Str)
			}
		}
		for len(todo) > 0 {
			n := min(len(todo), pipelineDepth)
			if err := r.copyKeys(ctx, todo[:n]); err != nil {
				return s.ctxErr(ctx, err)
			}
			s.batchDone = append(s.batchDone, todo[:n]...)
			todo = todo[n:]
		}
		// The whole batch is done: the checkpoint may move past it. It is
		// counted now, so that a batch cut by a cancel and redone after a
		// resume counts once.
		s.c.scanned.Add(int64(len(keys)))
		s.c.matched.Add(int64(matched))
		s.cursor, s.batchDone = next, nil
		if next == "0" {
			return nil
		}
		if err := s.maybeSave(); err != nil {
			return err
		}
	}
}

// dialRedis connects to ep and authenticates when it has a password.
func (s *Stream) dialRedis(ctx context.Context, ep Endpoint) (*Conn, error) {
	return dialAuth(ctx, ep, s.opts.Timeout)
}

// dialAuth connects to the Redis ep and authenticates when it has a
// password.
func dialAuth(ctx context.Context, ep Endpoint, timeout time.Duration) (*Conn, error) {
	c, err := DialRedis(ctx, ep.Addr, timeout)
	if err != nil || ep.Password == "" {
		return c, err
	}
	if _, err := c.DoS("AUTH", ep.Password); err != nil {
		c.Close()
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("stream: AUTH on %s: %w", ep.Addr, err)
	}
	return c, nil
}

// ctxErr prefers the context's error: a cancel shows up as a closed
// connection first.
func (s *Stream) ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

func containsKey(set [][]byte, k []byte) bool {
	for _, d := range set {
		if string(d) == string(k) {
			return true
		}
	}
	return false
}

type redisCopy struct {
	s        *Stream
	src, dst *Conn
}

// keyState is what the source said about one key.
type keyState struct {
	key  []byte
	size int64
	pttl int64 // -1: no expiry
	// at is when PTTL answered, on the real clock (not Options.Clock, which
	// paces the stream): TTLs run on the datastores' real time.
	at    time.Time
	dump  []byte
	gone  bool
	large bool
	// failed keys had an error reply, already counted.
	failed bool
}

// remaining returns the TTL left now, in milliseconds (0: no expiry), and
// false when the key has expired meanwhile.
func (k *keyState) remaining(now time.Time) (int64, bool) {
	if k.pttl < 0 {
		return 0, true
	}
	left := k.pttl - now.Sub(k.at).Milliseconds()
	return left, left > 0
}

// copyKeys copies a few keys with pipelined commands: MEMORY USAGE and PTTL,
// then DUMP of the small ones on the source, then RESTORE (without REPLACE)
// on the target. Large keys go through copyLarge one by one.
func (r *redisCopy) copyKeys(ctx context.Context, keys [][]byte) error {
	s := r.s
	for _, k := range keys {
		if err := s.opts.Throttle.Wait(ctx, 1, 0); err != nil {
			return err
		}
		r.src.Send([]byte("MEMORY"), []byte("USAGE"), k)
		r.src.Send([]byte("PTTL"), k)
	}
	if err := r.src.Flush(); err != nil {
		return err
	}
	st := make([]keyState, len(keys))
	for i, k := range keys {
		st[i].key = k
		usage, uerr := r.src.Receive()
		pttl, perr := r.src.Receive()
		if err := fatal(uerr, perr); err != nil {
			return err
		}
		st[i].at = time.Now()
		st[i].size, st[i].pttl = usage.Int, pttl.Int
		st[i].large = st[i].size > s.opts.LargeKeyBytes
		switch {
		case perr != nil:
			s.keyError(fmt.Errorf("PTTL %q on %s: %w", k, s.src.Addr, perr))
			st[i].failed = true
		case pttl.Int == -2:
			st[i].gone = true
		case uerr != nil:
			// MEMORY USAGE is refused (an ACL, a renamed command): the size
			// is unknown, so the key takes the chunked path, which copies a
			// value of any size without a long command.
			st[i].large = true
		case usage.Null:
			st[i].gone = true
		}
	}
	var small []*keyState
	for i := range st {
		if !st[i].gone && !st[i].failed && !st[i].large {
			small = append(small, &st[i])
			r.src.Send([]byte("DUMP"), st[i].key)
		}
	}
	if err := r.src.Flush(); err != nil {
		return err
	}
	var bytes int64
	for _, k := range small {
		v, err := r.src.Receive()
		if err := fatal(err); err != nil {
			return err
		}
		if err != nil {
			s.keyError(fmt.Errorf("DUMP %q on %s: %w", k.key, s.src.Addr, err))
			k.failed = true
			continue
		}
		k.gone, k.dump = v.Null, v.Str
		bytes += int64(len(v.Str))
	}
	if err := s.opts.Throttle.Wait(ctx, 0, bytes); err != nil {
		return err
	}
	if err := r.restore(ctx, small); err != nil {
		return err
	}
	for i := range st {
		switch {
		case st[i].failed:
		case st[i].gone:
			s.c.gone.Add(1)
		case st[i].large:
			if err := r.copyLarge(ctx, &st[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// fatal returns the first error that is not an error reply: the connection
// is unusable after it.
func fatal(errs ...error) error {
	for _, err := range errs {
		if err != nil && !isRedisError(err) {
			return err
		}
	}
	return nil
}

// restore writes the dumped keys to the target with RESTORE, which refuses
// (BUSYKEY) a key the target already holds: a write that reached the target
// while the stream ran is newer than the copy and must win.
func (r *redisCopy) restore(ctx context.Context, keys []*keyState) error {
	s := r.s
	var sent []*keyState
	now := time.Now()
	for _, k := range keys {
		if k.gone || k.failed {
			continue
		}
		ttl, ok := k.remaining(now)
		if !ok {
			k.gone = true
			continue
		}
		r.dst.Send([]byte("RESTORE"), k.key, strconv.AppendInt(nil, ttl, 10), k.dump)
		sent = append(sent, k)
	}
	if err := r.dst.Flush(); err != nil {
		return err
	}
	var busy []*keyState
	for _, k := range sent {
		_, err := r.dst.Receive()
		switch {
		case err == nil:
			s.c.copied.Add(1)
			s.c.bytes.Add(int64(len(k.dump)))
		case isBusy(err):
			busy = append(busy, k)
		case isRedisError(err):
			s.keyError(fmt.Errorf("RESTORE %q on %s: %w", k.key, s.dst.Addr, err))
		default:
			return err
		}
	}
	for _, k := range busy {
		newer, err := r.sourceNewer(ctx, k.key)
		if err != nil || !newer {
			continue
		}
		ttl, ok := k.remaining(time.Now())
		if !ok {
			s.c.gone.Add(1)
			continue
		}
		_, err = r.dst.Do([]byte("RESTORE"), k.key, strconv.AppendInt(nil, ttl, 10), k.dump, []byte("REPLACE"))
		if err := fatal(err); err != nil {
			return err
		}
		if err != nil {
			s.keyError(fmt.Errorf("RESTORE %q REPLACE on %s: %w", k.key, s.dst.Addr, err))
			continue
		}
		s.c.copied.Add(1)
		s.c.bytes.Add(int64(len(k.dump)))
	}
	return nil
}

func isBusy(err error) bool {
	var re RedisError
	return errors.As(err, &re) && len(re) >= 7 && re[:7] == "BUSYKEY"
}

// sourceNewer decides about a key the target already holds, and counts it
// when it is skipped. A Versioner error counts as a per-key error.
func (r *redisCopy) sourceNewer(ctx context.Context, key []byte) (bool, error) {
	s := r.s
	if s.opts.Versioner == nil {
		s.c.present.Add(1)
		return false, nil
	}
	newer, err := s.opts.Versioner.SourceNewer(ctx, key, r.src, r.dst)
	if err != nil {
		s.keyError(fmt.Errorf("version check of %q: %w", key, err))
		return false, err
	}
	if !newer {
		s.c.newer.Add(1)
	}
	return newer, nil
}
