package stream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"time"
)

// Cleanup deletes from one datastore the keys whose token falls outside a
// set of ranges: what a node keeps after a move of token ranges handed
// some of its ranges to another node (see Moves). Build it with NewCleanup,
// run it once with Run and read Progress from any goroutine meanwhile.
//
// A Redis is walked with SCAN and the keys outside the ranges removed with
// UNLINK (freed in the background, so a large value does not stall the
// datastore), a batch at a time. A memcached is walked with `lru_crawler
// metadump`, as the stream does, and each key outside the ranges removed
// with delete. The rate is bounded by Options.Throttle, in keys deleted
// (the node's stream_keys_per_sec; bytes are not counted: a delete moves
// none).
//
// Keys with nothing to hash (an empty hash tag, "{}foo") are kept whatever
// the ranges: no range owns them, the router serves them on whichever node
// the client reached (KeyFilter). A key written again between the scan and
// its delete is deleted all the same, which is why a cleanup runs only once
// the ring no longer routes the deleted ranges to this datastore.
type Cleanup struct {
	ds     Endpoint
	filter KeyFilter
	opts   Options
	clock  Clock

	total, scanned, deleted, errors atomic.Int64
	started                         atomic.Int64
	done, running                   atomic.Bool
	lastErr                         atomic.Pointer[string]
}

// CleanupProgress is a snapshot of a cleanup.
type CleanupProgress struct {
	Addr string
	// Keep are the ranges whose keys stay.
	Keep Ranges
	// Total is the number of keys when the cleanup started (DBSIZE or
	// curr_items).
	Total int64
	// Scanned keys were read; Deleted of them were outside Keep and
	// removed (a key gone before its delete is not counted).
	Scanned, Deleted int64
	// Errors are per-key failures (an error reply); LastError the last.
	Errors    int64
	LastError string
	Elapsed   time.Duration
	// KeysPerSec is the average rate of deletes.
	KeysPerSec float64
	Done       bool
}

// NewCleanup checks its arguments and returns a cleanup of ds that keeps
// the keys of keep. Of opts, Topology (required), ScanCount, Throttle,
// Timeout and Clock are used.
func NewCleanup(ds Endpoint, keep Ranges, opts Options) (*Cleanup, error) {
	switch {
	case ds.Addr == "":
		return nil, errors.New("stream: cleanup: the datastore address must be set")
	case opts.Topology == nil:
		return nil, errors.New("stream: cleanup: Options.Topology is required to hash keys")
	case len(keep) == 0:
		// a node in a ring owns at least one range; none would delete
		// everything, which is never what a move means
		return nil, fmt.Errorf("stream: cleanup of %s: no token ranges to keep", ds.Addr)
	}
	opts.ScanCount = cmpOr(opts.ScanCount, 1000)
	opts.Timeout = cmpOr(opts.Timeout, 30*time.Second)
	c := &Cleanup{ds: ds, opts: opts, clock: opts.Clock,
		filter: KeyFilter{Topo: opts.Topology, Ranges: slices.Clone(keep), Keyless: true}}
	if c.clock == nil {
		c.clock = realClock{}
	}
	return c, nil
}

// Run deletes until every key outside the ranges has been handled, ctx is
// cancelled, or the datastore fails. It may be called once.
func (c *Cleanup) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("stream: cleanup: Run called twice")
	}
	c.started.Store(c.clock.Now().UnixNano())
	var err error
	if c.ds.Protocol == Memcached {
		err = c.runMemcached(ctx)
	} else {
		err = c.runRedis(ctx)
	}
	if err != nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	c.done.Store(err == nil)
	return err
}

// Progress returns a snapshot; it is safe to call while Run runs.
func (c *Cleanup) Progress() CleanupProgress {
	p := CleanupProgress{Addr: c.ds.Addr, Keep: slices.Clone(c.filter.Ranges), Total: c.total.Load(),
		Scanned: c.scanned.Load(), Deleted: c.deleted.Load(), Errors: c.errors.Load(), Done: c.done.Load()}
	if e := c.lastErr.Load(); e != nil {
		p.LastError = *e
	}
	if st := c.started.Load(); st != 0 {
		p.Elapsed = c.clock.Now().Sub(time.Unix(0, st))
	}
	if sec := p.Elapsed.Seconds(); sec > 0 {
		p.KeysPerSec = float64(p.Deleted) / sec
	}
	return p
}

func (c *Cleanup) keyError(err error) {
	c.errors.Add(1)
	msg := err.Error()
	c.lastErr.Store(&msg)
}

// runRedis walks the keyspace with SCAN and UNLINKs the keys outside the
// ranges. SCAN guarantees every key present for the whole walk is returned
// (at least once); deleting keys meanwhile does not disturb the cursor.
func (c *Cleanup) runRedis(ctx context.Context) error {
	conn, err := dialAuth(ctx, c.ds, c.opts.Timeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	if v, err := conn.DoS("DBSIZE"); err == nil {
		c.total.Store(v.Int)
	}
	cursor, count := "0", strconv.Itoa(c.opts.ScanCount)
	for {
		v, err := conn.DoS("SCAN", cursor, "COUNT", count)
		if err != nil {
			return fmt.Errorf("stream: cleanup: SCAN %s on %s: %w", cursor, c.ds.Addr, err)
		}
		if len(v.Array) != 2 {
			return fmt.Errorf("stream: cleanup: SCAN on %s: malformed reply", c.ds.Addr)
		}
		var doomed [][]byte
		for _, k := range v.Array[1].Array {
			if !c.filter.Match(k.Str) {
				doomed = append(doomed, k.Str)
			}
		}
		for len(doomed) > 0 {
			n := min(len(doomed), pipelineDepth)
			if err := c.opts.Throttle.Wait(ctx, int64(n), 0); err != nil {
				return err
			}
			args := append([][]byte{[]byte("UNLINK")}, doomed[:n]...)
			r, err := conn.Do(args...)
			switch {
			case isRedisError(err):
				c.keyError(fmt.Errorf("UNLINK of %d keys on %s: %w", n, c.ds.Addr, err))
			case err != nil:
				return err
			default:
				c.deleted.Add(r.Int)
			}
			doomed = doomed[n:]
		}
		c.scanned.Add(int64(len(v.Array[1].Array)))
		cursor = string(v.Array[0].Str)
		if cursor == "0" {
			return nil
		}
	}
}

// runMemcached walks the items with `lru_crawler metadump` on one
// connection and deletes on another, a batch of deletes per round trip.
func (c *Cleanup) runMemcached(ctx context.Context) error {
	dump, err := dialMemcached(ctx, c.ds.Addr, c.opts.Timeout)
	if err != nil {
		return err
	}
	defer dump.Close()
	del, err := dialMemcached(ctx, c.ds.Addr, c.opts.Timeout)
	if err != nil {
		return err
	}
	defer del.Close()
	st, err := del.stats("curr_items")
	if err != nil {
		return err
	}
	c.total.Store(st["curr_items"])
	l, err := startDump(ctx, dump, c.clock)
	if err != nil {
		return err
	}
	var batch [][]byte
	for ; ; l, err = dump.line(true) {
		if err != nil {
			return err
		}
		end := string(l) == "END"
		if !end {
			if !bytes.HasPrefix(l, []byte("key=")) {
				return fmt.Errorf("stream: cleanup: lru_crawler metadump on memcached %s: %q", c.ds.Addr, l)
			}
			c.scanned.Add(1)
			it, err := ParseMetaItem(l)
			if err != nil {
				c.keyError(fmt.Errorf("memcached %s: %w", c.ds.Addr, err))
				continue
			}
			if !c.filter.Match(it.Key) {
				batch = append(batch, it.Key)
			}
		}
		if len(batch) >= pipelineDepth || (end && len(batch) > 0) {
			if err := c.deleteMemcached(ctx, del, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
		if end {
			return nil
		}
	}
}

// deleteMemcached deletes keys with one pipelined write.
func (c *Cleanup) deleteMemcached(ctx context.Context, conn *mcConn, keys [][]byte) error {
	if err := c.opts.Throttle.Wait(ctx, int64(len(keys)), 0); err != nil {
		return err
	}
	var req []byte
	for _, k := range keys {
		req = fmt.Appendf(req, "delete %s\r\n", k)
	}
	if err := conn.write(req); err != nil {
		return err
	}
	for _, k := range keys {
		l, err := conn.line(false)
		if err != nil {
			return err
		}
		switch string(l) {
		case "DELETED":
			c.deleted.Add(1)
		case "NOT_FOUND": // expired or deleted meanwhile
		default:
			c.keyError(fmt.Errorf("delete %q on memcached %s: %q", k, c.ds.Addr, l))
		}
	}
	return nil
}
