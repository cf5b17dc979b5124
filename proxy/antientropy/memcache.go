package antientropy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/dynomite-go/dynomite/proxy/stream"
)

// mcStore is a memcached: keys from `lru_crawler metadump` (on a
// connection of its own, as proxy/stream does), values, flags, TTLs and CAS
// from the meta commands (`mg`, `ms`, `md`; memcached's
// doc/protocol.txt). Memcached keeps no timestamp of a write: its keys are
// resolved by majority, else by the preferred datacenter.
type mcStore struct {
	addr    string
	timeout time.Duration
	nc      net.Conn
	r       *bufio.Reader
	stop    func() bool
	now     func() time.Time
}

func dialMemcached(ctx context.Context, addr string, timeout time.Duration, now func() time.Time) (*mcStore, error) {
	d := net.Dialer{Timeout: timeout}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connecting to memcached %s: %w", addr, err)
	}
	s := &mcStore{addr: addr, timeout: timeout, nc: nc, r: bufio.NewReaderSize(nc, 64<<10), now: now}
	s.stop = context.AfterFunc(ctx, func() { nc.Close() })
	return s, nil
}

func (s *mcStore) close() {
	s.stop()
	s.nc.Close()
}

func (s *mcStore) write(b []byte) error {
	_ = s.nc.SetWriteDeadline(time.Now().Add(s.timeout))
	if _, err := s.nc.Write(b); err != nil {
		return fmt.Errorf("antientropy: writing to memcached %s: %w", s.addr, err)
	}
	return nil
}

// line reads a reply line without its line ending (metadump ends its item
// lines with a bare LF); idle waits without a deadline.
func (s *mcStore) line(idle bool) ([]byte, error) {
	if idle {
		_ = s.nc.SetReadDeadline(time.Time{})
	} else {
		_ = s.nc.SetReadDeadline(time.Now().Add(s.timeout))
	}
	l, err := s.r.ReadSlice('\n')
	if err != nil {
		return nil, fmt.Errorf("antientropy: reading from memcached %s: %w", s.addr, err)
	}
	return bytes.TrimSuffix(l[:len(l)-1], []byte("\r")), nil
}

func (s *mcStore) size() (int64, error) {
	if err := s.write([]byte("stats\r\n")); err != nil {
		return 0, err
	}
	var n int64
	for {
		l, err := s.line(false)
		if err != nil {
			return 0, err
		}
		if string(l) == "END" {
			return n, nil
		}
		if f := bytes.Fields(l); len(f) == 3 && string(f[1]) == "curr_items" {
			n, _ = strconv.ParseInt(string(f[2]), 10, 64)
		}
	}
}

// scan reads `lru_crawler metadump hash` (every item once; "all" on a
// memcached without it; a busy crawler is asked again for about ten
// seconds) on a second connection.
func (s *mcStore) scan(ctx context.Context, count int, fn func(page [][]byte) error) error {
	dump, err := dialMemcached(ctx, s.addr, s.timeout, s.now)
	if err != nil {
		return err
	}
	defer dump.close()
	mode := "hash"
	var l []byte
	for try := 0; ; try++ {
		if err := dump.write([]byte("lru_crawler metadump " + mode + "\r\n")); err != nil {
			return err
		}
		if l, err = dump.line(true); err != nil {
			return ctxErr(ctx, err)
		}
		busy := bytes.HasPrefix(l, []byte("BUSY"))
		if bytes.HasPrefix(l, []byte("key=")) || string(l) == "END" {
			break
		}
		switch {
		case busy && try < 100:
			t := time.NewTimer(100 * time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		case mode == "hash" && !busy:
			mode = "all"
		default:
			return fmt.Errorf("antientropy: lru_crawler metadump %s on memcached %s: %q", mode, s.addr, l)
		}
	}
	var page [][]byte
	for ; ; l, err = dump.line(true) {
		if err != nil {
			return ctxErr(ctx, err)
		}
		end := string(l) == "END"
		if !end {
			it, err := stream.ParseMetaItem(l)
			if err != nil {
				return fmt.Errorf("antientropy: memcached %s: %w", s.addr, err)
			}
			page = append(page, it.Key)
		}
		if len(page) >= count || (end && len(page) > 0) {
			if err := fn(page); err != nil {
				return err
			}
			page = nil
		}
		if end {
			return nil
		}
	}
}

// mcItem is one `mg` answer.
type mcItem struct {
	present bool
	value   []byte
	flags   uint32
	ttl     int64 // seconds left, -1 for none
	cas     uint64
}

// get asks `mg <key> v f t c` for each key, pipelined.
func (s *mcStore) get(ctx context.Context, keys [][]byte) ([]mcItem, error) {
	var b []byte
	for _, k := range keys {
		b = append(append(append(b, "mg "...), k...), " v f t c\r\n"...)
	}
	if err := s.write(b); err != nil {
		return nil, ctxErr(ctx, err)
	}
	out := make([]mcItem, len(keys))
	for i := range keys {
		l, err := s.line(false)
		if err != nil {
			return nil, ctxErr(ctx, err)
		}
		f := bytes.Fields(l)
		switch {
		case len(f) == 1 && string(f[0]) == "EN":
			continue
		case len(f) >= 2 && string(f[0]) == "VA":
		default:
			return nil, fmt.Errorf("antientropy: mg %q on memcached %s: %q", keys[i], s.addr, l)
		}
		n, err := strconv.Atoi(string(f[1]))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("antientropy: mg %q on memcached %s: %q", keys[i], s.addr, l)
		}
		it := mcItem{present: true, ttl: -1}
		for _, tok := range f[2:] {
			v := string(tok[1:])
			switch tok[0] {
			case 'f':
				fl, _ := strconv.ParseUint(v, 10, 32)
				it.flags = uint32(fl)
			case 't':
				it.ttl, _ = strconv.ParseInt(v, 10, 64)
			case 'c':
				it.cas, _ = strconv.ParseUint(v, 10, 64)
			}
		}
		it.value = make([]byte, n+2)
		if _, err := readFull(s.r, it.value); err != nil {
			return nil, ctxErr(ctx, fmt.Errorf("antientropy: reading from memcached %s: %w", s.addr, err))
		}
		it.value = it.value[:n]
		out[i] = it
	}
	return out, nil
}

func readFull(r *bufio.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// version is an item as the trees and Resolve see it: its value digest
// covers the client flags too.
func (it mcItem) version(now int64) Version {
	if !it.present {
		return Version{Expiry: NoExpiry}
	}
	h := sha256.New()
	var fl [4]byte
	binary.BigEndian.PutUint32(fl[:], it.flags)
	h.Write(fl[:])
	h.Write(it.value)
	v := Version{Present: true, Expiry: NoExpiry}
	copy(v.Value[:], h.Sum(nil))
	if it.ttl >= 0 {
		v.Expiry = now + it.ttl*1000
	}
	return v
}

func (s *mcStore) digests(ctx context.Context, keys [][]byte) ([]keyDigest, error) {
	sts, err := s.items(ctx, keys)
	if err != nil {
		return nil, err
	}
	out := make([]keyDigest, len(sts))
	for i, st := range sts {
		out[i] = keyDigest{present: st.v.Present, value: st.v.Value, expiry: st.v.Expiry}
	}
	return out, nil
}

func (s *mcStore) read(ctx context.Context, keys []string) ([]copyState, error) {
	bs := make([][]byte, len(keys))
	for i, k := range keys {
		bs[i] = []byte(k)
	}
	return s.items(ctx, bs)
}

// items reads keys with get and turns them into copies.
func (s *mcStore) items(ctx context.Context, keys [][]byte) ([]copyState, error) {
	its, err := s.get(ctx, keys)
	if err != nil {
		return nil, err
	}
	now := s.now().UnixMilli()
	out := make([]copyState, len(its))
	for i, it := range its {
		out[i] = copyState{v: it.version(now), st: s, dump: it.value, flags: it.flags, cas: it.cas}
	}
	return out, nil
}

// apply stores the winner's value with `ms` in add mode (the loser had no
// item) or with the loser's CAS, or deletes with `md` and the CAS: a
// write that landed meanwhile makes memcached refuse it (NS, EX, NF).
func (s *mcStore) apply(ctx context.Context, key string, win, lose *copyState, now int64) (bool, error) {
	var b []byte
	switch {
	case win.v.Present:
		b = fmt.Appendf(b, "ms %s %d F%d", key, len(win.dump), win.flags)
		if win.v.Expiry != NoExpiry {
			b = fmt.Appendf(b, " T%d", max((win.v.Expiry-now+999)/1000, 1))
		}
		if lose.v.Present {
			b = fmt.Appendf(b, " C%d", lose.cas)
		} else {
			b = append(b, " ME"...)
		}
		b = append(append(append(b, "\r\n"...), win.dump...), "\r\n"...)
	case lose.v.Present:
		b = fmt.Appendf(b, "md %s C%d\r\n", key, lose.cas)
	default:
		return true, nil
	}
	if err := s.write(b); err != nil {
		return false, ctxErr(ctx, err)
	}
	l, err := s.line(false)
	if err != nil {
		return false, ctxErr(ctx, err)
	}
	switch string(l) {
	case "HD":
		return true, nil
	case "NS", "EX", "NF":
		return false, nil
	}
	return false, keyError{fmt.Errorf("memcached %s answered %q", s.addr, l)}
}
