package proxytest

import (
	"bufio"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynomite-go/dynomite/proxy/msg"
)

// Fake is an in-memory datastore speaking RESP (a Redis) or the memcached
// ASCII protocol, for tests whose point is routing, failover or consistency
// rather than what a real datastore answers. It parses requests with its own
// strict code, not the proxy's parsers, so the two cannot agree on a framing
// mistake: malformed input gets an error reply and the connection closes.
//
// Each connection is served in order by one goroutine, as a real datastore
// answers a pipeline. Faults (SetFault) act on the requests read after they
// are set. The methods are safe for concurrent use.
type Fake struct {
	// Addr is the fake's host:port on 127.0.0.1.
	Addr string

	t     testing.TB
	proto msg.Proto
	wg    sync.WaitGroup

	mu       sync.Mutex
	ln       net.Listener
	stop     chan struct{} // closed by Stop; the running listener's
	conns    map[net.Conn]struct{}
	fault    Fault
	password string
	data     map[string]*item
	cas      uint64 // last cas unique handed out (memcached)
	total    int
	counts   map[string]int
}

// item is one stored key.
type item struct {
	val     []byte
	hash    map[string][]byte // set for a Redis hash; val is unused then
	flags   uint32            // memcached client flags
	cas     uint64
	expires time.Time // zero: never
}

// Fault is the misbehaviour a Fake shows until the next SetFault. The zero
// Fault is a healthy datastore.
type Fault struct {
	// Delay is waited before each reply: a slow datastore.
	Delay time.Duration
	// Hang reads and counts requests but never answers them: a datastore
	// that accepts and then stops responding.
	Hang bool
	// Error answers every request with this error instead of executing it
	// (Redis: -ERR <Error>; memcached: SERVER_ERROR <Error>).
	Error string
	// Close closes the connection when a request arrives, without answering.
	Close bool
}

// StartFakeRedis starts a fake Redis on a free loopback port; it closes with
// the test.
func StartFakeRedis(t testing.TB) *Fake { return StartFake(t, msg.Redis) }

// StartFakeMemcache starts a fake memcached on a free loopback port; it
// closes with the test.
func StartFakeMemcache(t testing.TB) *Fake { return StartFake(t, msg.Memcache) }

// StartFake starts a fake datastore of the protocol proto.
func StartFake(t testing.TB, proto msg.Proto) *Fake {
	t.Helper()
	f := &Fake{t: t, proto: proto, conns: map[net.Conn]struct{}{}, data: map[string]*item{}, counts: map[string]int{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("fake datastore: %v", err)
	}
	f.Addr = ln.Addr().String()
	f.serve(ln)
	t.Cleanup(f.Stop)
	return f
}

func (f *Fake) serve(ln net.Listener) {
	f.mu.Lock()
	f.ln, f.stop = ln, make(chan struct{})
	stop := f.stop
	f.mu.Unlock()
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			f.mu.Lock()
			select {
			case <-stop: // Stop ran between Accept and here
				f.mu.Unlock()
				nc.Close()
				return
			default:
			}
			f.conns[nc] = struct{}{}
			f.wg.Add(1)
			f.mu.Unlock()
			go f.serveConn(nc, stop)
		}
	}()
}

// Stop closes the listener and every connection and waits for the fake's
// goroutines to end; the data stays. Stop twice is a no-op.
func (f *Fake) Stop() {
	f.mu.Lock()
	if f.ln == nil {
		f.mu.Unlock()
		return
	}
	f.ln.Close()
	close(f.stop)
	f.ln = nil
	for nc := range f.conns {
		nc.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// Start listens again on the same address after Stop, with the data it had
// (a datastore restarted with its dataset).
func (f *Fake) Start() {
	f.t.Helper()
	f.mu.Lock()
	running := f.ln != nil
	f.mu.Unlock()
	if running {
		return
	}
	ln, err := net.Listen("tcp", f.Addr)
	if err != nil {
		f.t.Fatalf("fake datastore: listening again on %s: %v", f.Addr, err)
	}
	f.serve(ln)
}

// SetFault makes the fake misbehave as fl says (Fault{} heals it).
func (f *Fake) SetFault(fl Fault) {
	f.mu.Lock()
	f.fault = fl
	f.mu.Unlock()
}

// CloseConns closes every open connection now (the listener stays) and
// returns how many there were.
func (f *Fake) CloseConns() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	for nc := range f.conns {
		nc.Close()
	}
	return len(f.conns)
}

// RequirePass makes the fake Redis require AUTH with password ("" = none).
func (f *Fake) RequirePass(password string) {
	f.mu.Lock()
	f.password = password
	f.mu.Unlock()
}

// Requests is the number of requests the fake has read, faulty ones included.
func (f *Fake) Requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.total
}

// Count is the number of requests of one command (any case) the fake has read.
func (f *Fake) Count(command string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[strings.ToLower(command)]
}

// Set stores a string value behind the proxy's back.
func (f *Fake) Set(key, value string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.store([]byte(key), []byte(value), time.Time{})
}

// Get returns the string value of key; ok is false when it is absent,
// expired or not a string.
func (f *Fake) Get(key string) (value string, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	it := f.lookup([]byte(key))
	if it == nil || it.hash != nil {
		return "", false
	}
	return string(it.val), true
}

// Delete removes key.
func (f *Fake) Delete(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.data, key)
}

// Flush removes every key.
func (f *Fake) Flush() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.data)
}

// Len is the number of live keys.
func (f *Fake) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for k := range f.data {
		if f.lookup([]byte(k)) != nil {
			n++
		}
	}
	return n
}

// lookup returns the live item of key, dropping it when expired; f.mu held.
func (f *Fake) lookup(key []byte) *item {
	it := f.data[string(key)]
	if it != nil && !it.expires.IsZero() && !time.Now().Before(it.expires) {
		delete(f.data, string(key))
		return nil
	}
	return it
}

// note counts one request and returns the fault in force.
func (f *Fake) note(command string) Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.total++
	f.counts[strings.ToLower(command)]++
	return f.fault
}

// errProtocol marks input the fake refuses to frame; the connection closes
// after the error reply.
type errProtocol string

func (e errProtocol) Error() string { return string(e) }

// maxLine caps a request line (a memcached command line, a RESP header);
// longer input is a framing error, not something to buffer forever.
const maxLine = 64 << 10

// readLine returns one line without its CRLF. A line ending in a bare LF
// is refused: both protocols end lines with CRLF, and a proxy that drops the
// CR must not pass unnoticed.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return nil, errProtocol("line longer than 64 KiB")
	}
	if err != nil {
		return nil, err
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, errProtocol("line not terminated by CRLF")
	}
	return line[:len(line)-2], nil
}

// conn is the per-connection state of a fake.
type conn struct {
	f      *Fake
	br     *bufio.Reader
	bw     *bufio.Writer
	authed bool
}

func (f *Fake) serveConn(nc net.Conn, stop <-chan struct{}) {
	defer f.wg.Done()
	defer func() {
		f.mu.Lock()
		delete(f.conns, nc)
		f.mu.Unlock()
		nc.Close()
	}()
	c := &conn{f: f, br: bufio.NewReaderSize(nc, maxLine), bw: bufio.NewWriter(nc)}
	read, exec, refuse, fail := c.readRedis, c.execRedis, c.redisProtocolError, c.redisError
	if f.proto == msg.Memcache {
		read, exec, refuse, fail = c.readMemcache, c.execMemcache, c.memcacheProtocolError, c.memcacheServerError
	}
	for {
		// Flush when the pipeline read so far is answered, as a real
		// datastore does: the client sees replies in batches, in order.
		if c.br.Buffered() == 0 && c.bw.Flush() != nil {
			return
		}
		req, err := read()
		if err != nil {
			var perr errProtocol
			if errors.As(err, &perr) {
				refuse(string(perr))
				_ = c.bw.Flush()
			}
			return
		}
		fault := f.note(req.name)
		switch {
		case fault.Close:
			return
		case fault.Hang:
			continue
		}
		if fault.Delay > 0 {
			if c.bw.Flush() != nil {
				return
			}
			tm := time.NewTimer(fault.Delay)
			select {
			case <-tm.C:
			case <-stop:
				tm.Stop()
				return
			}
		}
		if fault.Error != "" {
			if !req.noreply {
				fail(fault.Error)
			}
			continue
		}
		if !exec(req) {
			_ = c.bw.Flush()
			return
		}
	}
}

// request is one parsed request of either protocol.
type request struct {
	name    string   // the command as sent
	args    [][]byte // RESP: every argument after the name; memcached: the fields after it
	data    []byte   // memcached storage commands: the data block
	noreply bool
}
