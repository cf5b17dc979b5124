package stream

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"strconv"
	"time"
)

// maxRelativeExptime is memcached's REALTIME_MAXDELTA: an exptime above
// 30 days is read as an absolute unix time.
const maxRelativeExptime = 30 * 24 * 3600

// mcConn is a memcached text-protocol connection.
type mcConn struct {
	addr    string
	nc      net.Conn
	r       *bufio.Reader
	timeout time.Duration
	stop    func() bool
}

func dialMemcached(ctx context.Context, addr string, timeout time.Duration) (*mcConn, error) {
	nc, err := dial(ctx, addr, timeout)
	if err != nil {
		return nil, err
	}
	c := &mcConn{addr: addr, nc: nc, r: bufio.NewReaderSize(nc, 64<<10), timeout: timeout}
	c.stop = context.AfterFunc(ctx, func() { nc.Close() })
	return c, nil
}

func (c *mcConn) Close() {
	c.stop()
	c.nc.Close()
}

func (c *mcConn) write(b []byte) error {
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.timeout))
	if _, err := c.nc.Write(b); err != nil {
		return fmt.Errorf("stream: writing to memcached %s: %w", c.addr, err)
	}
	return nil
}

// line reads one reply line without its CRLF. With idle set, there is no
// read deadline: the metadump connection waits while the stream copies.
func (c *mcConn) line(idle bool) ([]byte, error) {
	if idle {
		_ = c.nc.SetReadDeadline(time.Time{})
	} else {
		_ = c.nc.SetReadDeadline(time.Now().Add(c.timeout))
	}
	// metadump ends its item lines with a bare LF (END has CRLF).
	l, err := c.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		err = fmt.Errorf("%w: line longer than %d bytes", errProtocol, c.r.Size())
	}
	if err != nil {
		return nil, fmt.Errorf("stream: reading from memcached %s: %w", c.addr, err)
	}
	return bytes.TrimSuffix(l[:len(l)-1], []byte("\r")), nil
}

// stats returns the named values of "stats".
func (c *mcConn) stats(names ...string) (map[string]int64, error) {
	if err := c.write([]byte("stats\r\n")); err != nil {
		return nil, err
	}
	out := map[string]int64{}
	err := c.untilEnd(func(l []byte) error {
		f := bytes.Fields(l)
		if len(f) == 3 && string(f[0]) == "STAT" {
			for _, n := range names {
				if string(f[1]) == n {
					out[n], _ = strconv.ParseInt(string(f[2]), 10, 64)
				}
			}
		}
		return nil
	})
	return out, err
}

// untilEnd hands each reply line to fn until the line "END".
func (c *mcConn) untilEnd(fn func(l []byte) error) error {
	for {
		l, err := c.line(false)
		if err != nil {
			return err
		}
		if string(l) == "END" {
			return nil
		}
		if err := fn(l); err != nil {
			return err
		}
	}
}

// mcValue is a value read with get.
type mcValue struct {
	flags []byte
	data  []byte
}

// get reads the values of keys (those missing are absent from the map).
func (c *mcConn) get(keys []MetaItem) (map[string]mcValue, error) {
	req := []byte("get")
	for _, k := range keys {
		req = append(append(req, ' '), k.Key...)
	}
	if err := c.write(append(req, "\r\n"...)); err != nil {
		return nil, err
	}
	out := make(map[string]mcValue, len(keys))
	err := c.untilEnd(func(l []byte) error {
		f := bytes.Fields(l)
		if len(f) < 4 || string(f[0]) != "VALUE" {
			return fmt.Errorf("stream: memcached %s answered get with %q", c.addr, l)
		}
		n, err := strconv.Atoi(string(f[3]))
		if err != nil || n < 0 || n > maxReplyBulk {
			return fmt.Errorf("stream: memcached %s: bad value length in %q", c.addr, l)
		}
		key, flags := string(f[1]), append([]byte(nil), f[2]...) // l is overwritten by the next read
		data, err := readBulk(c.r, int64(n)+2)
		if err != nil {
			return fmt.Errorf("stream: reading from memcached %s: %w", c.addr, err)
		}
		if !bytes.HasSuffix(data, []byte("\r\n")) {
			return fmt.Errorf("stream: memcached %s: value of %q not ended by CRLF", c.addr, key)
		}
		out[key] = mcValue{flags: flags, data: data[:n]}
		return nil
	})
	return out, err
}

// runMemcached walks the source with `lru_crawler metadump`, which the
// LRU crawler thread answers in the background without holding the worker
// threads, and copies each key in range with get and add. add stores only
// where the target has no value, so a write that reached the target
// meanwhile is kept. memcached has no cursor: a resumed stream reads the
// whole dump again, and the keys the earlier run copied are then counted
// as SkippedPresent.
func (s *Stream) runMemcached(ctx context.Context) error {
	var conns [3]*mcConn
	for i, addr := range []string{s.src.Addr, s.src.Addr, s.dst.Addr} {
		c, err := dialMemcached(ctx, addr, s.opts.Timeout)
		if err != nil {
			return err
		}
		defer c.Close()
		conns[i] = c
	}
	dump, src, dst := conns[0], conns[1], conns[2]
	st, err := src.stats("curr_items", "time")
	if err != nil {
		return s.ctxErr(ctx, err)
	}
	s.total.Store(st["curr_items"])
	// Expiry times in the dump are in the source's clock.
	srcTime, at := st["time"], time.Now()
	srcNow := func() int64 { return srcTime + int64(time.Since(at)/time.Second) }
	if s.resumed.Load() {
		s.c.scanned.Store(0)
		s.c.matched.Store(0)
	}

	l, err := startDump(ctx, dump, s.clock)
	if err != nil {
		return s.ctxErr(ctx, err)
	}
	var batch []MetaItem
	for ; ; l, err = dump.line(true) {
		if err != nil {
			return s.ctxErr(ctx, err)
		}
		end := string(l) == "END"
		if !end {
			if !bytes.HasPrefix(l, []byte("key=")) {
				return fmt.Errorf("stream: lru_crawler metadump on memcached %s: %q", s.src.Addr, l)
			}
			s.c.scanned.Add(1)
			it, err := ParseMetaItem(l)
			if err != nil {
				s.keyError(fmt.Errorf("memcached %s: %w", s.src.Addr, err))
				continue
			}
			if s.filter.Match(it.Key) {
				s.c.matched.Add(1)
				batch = append(batch, it)
			}
		}
		if len(batch) >= pipelineDepth || (end && len(batch) > 0) {
			if err := s.copyMemcached(ctx, src, dst, batch, srcNow()); err != nil {
				return s.ctxErr(ctx, err)
			}
			batch = batch[:0]
			if err := s.maybeSave(); err != nil {
				return err
			}
		}
		if end {
			return nil
		}
	}
}

// dumpRetries and dumpRetryWait bound the wait for memcached's LRU crawler
// when it is busy with another request (its own background crawl, or
// another dump): about ten seconds.
const (
	dumpRetries   = 100
	dumpRetryWait = 100 * time.Millisecond
)

// startDump starts a metadump and returns its first line. It asks for
// "metadump hash", which walks the hash table and so visits every item once,
// where walking the LRUs can miss items that move while the crawler runs
// (doc/protocol.txt); a memcached without it gets "metadump all". A busy
// crawler ("BUSY ...") is asked again after a pause.
func startDump(ctx context.Context, dump *mcConn, clock Clock) ([]byte, error) {
	mode := "hash"
	for try := 0; ; try++ {
		if err := dump.write([]byte("lru_crawler metadump " + mode + "\r\n")); err != nil {
			return nil, err
		}
		l, err := dump.line(true)
		switch {
		case err != nil:
			return nil, err
		case bytes.HasPrefix(l, []byte("key=")) || string(l) == "END":
			return l, nil
		case bytes.HasPrefix(l, []byte("BUSY")) && try < dumpRetries:
			if err := clock.Sleep(ctx, dumpRetryWait); err != nil {
				return nil, err
			}
		case mode == "hash" && !bytes.HasPrefix(l, []byte("BUSY")):
			mode = "all"
		default:
			return nil, fmt.Errorf("stream: lru_crawler metadump %s on memcached %s: %q", mode, dump.addr, l)
		}
	}
}

// copyMemcached copies a few items: one get on the source, then one add
// per value on the target with the TTL left.
func (s *Stream) copyMemcached(ctx context.Context, src, dst *mcConn, items []MetaItem, now int64) error {
	for range items {
		if err := s.opts.Throttle.Wait(ctx, 1, 0); err != nil {
			return err
		}
	}
	vals, err := src.get(items)
	if err != nil {
		return err
	}
	var req []byte
	type pending struct {
		key []byte
		n   int64
	}
	var sent []pending
	for _, it := range items {
		v, ok := vals[string(it.Key)]
		exptime := int64(0)
		switch {
		case it.Exp >= 0 && it.Exp-now > maxRelativeExptime:
			exptime = it.Exp
		case it.Exp >= 0:
			exptime = it.Exp - now
			ok = ok && exptime > 0
		}
		if !ok {
			s.c.gone.Add(1)
			continue
		}
		if err := s.opts.Throttle.Wait(ctx, 0, int64(len(v.data))); err != nil {
			return err
		}
		req = fmt.Appendf(req, "add %s %s %d %d\r\n", it.Key, v.flags, exptime, len(v.data))
		req = append(append(req, v.data...), "\r\n"...)
		sent = append(sent, pending{it.Key, int64(len(v.data))})
	}
	if len(sent) == 0 {
		return nil
	}
	if err := dst.write(req); err != nil {
		return err
	}
	for _, p := range sent {
		l, err := dst.line(false)
		if err != nil {
			return err
		}
		switch string(l) {
		case "STORED":
			s.c.copied.Add(1)
			s.c.bytes.Add(p.n)
		case "NOT_STORED":
			s.c.present.Add(1)
		default:
			s.keyError(fmt.Errorf("add %q on memcached %s: %q", p.key, s.dst.Addr, l))
		}
	}
	return nil
}
