package proxytest

import (
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/dynomite-go/dynomite/proxy/memcache"
	"github.com/dynomite-go/dynomite/proxy/resp"
)

// Framer returns the length of the first whole reply in b, or an
// incomplete-input error (resp.ErrIncomplete, memcache.ErrIncomplete) when
// more bytes are needed.
type Framer func(b []byte) (int, error)

// RedisReply frames one RESP reply.
func RedisReply(b []byte) (int, error) {
	lim := resp.DefaultLimits()
	return resp.ParseReply(b, &lim)
}

// MemcacheLine frames a one-line memcached reply (STORED, DELETED, a number).
func MemcacheLine(b []byte) (int, error) { return memcache.ParseReply(b, false, nil) }

// MemcacheRetrieval frames the reply to get/gets: VALUE blocks up to END.
func MemcacheRetrieval(b []byte) (int, error) { return memcache.ParseReply(b, true, nil) }

// Incomplete reports whether a Framer's error means "more bytes needed".
func Incomplete(err error) bool {
	return errors.Is(err, resp.ErrIncomplete) || errors.Is(err, memcache.ErrIncomplete)
}

// Cmd encodes a command as a RESP array of bulk strings.
func Cmd(args ...string) []byte {
	bs := make([][]byte, len(args))
	for i, a := range args {
		bs[i] = []byte(a)
	}
	return resp.AppendCommand(nil, bs)
}

// ioTimeout bounds how long a Conn waits without progress, so a test that
// waits for a reply that never comes fails instead of hanging the run. It
// is the time without a byte moving, not the time a whole transfer takes:
// a 24 MiB value through a node under -race on a loaded machine takes
// longer than any fixed limit that still catches a hang quickly.
const ioTimeout = 10 * time.Second

// ioChunk is how much a write sends under one deadline.
const ioChunk = 256 << 10

// Conn is a raw client connection: it sends bytes as they are and reads
// whole replies framed by the repository's own parsers.
type Conn struct {
	t   testing.TB
	nc  net.Conn
	buf []byte
}

// Dial connects to addr; the connection closes with the test.
func Dial(t testing.TB, addr string) *Conn {
	t.Helper()
	c, err := TryDial(t, addr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TryDial is Dial returning the error (for load generators).
func TryDial(t testing.TB, addr string) (*Conn, error) {
	nc, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, fmt.Errorf("dialing %s: %w", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	return NewConn(t, nc), nil
}

// NewConn wraps a connection the test made itself (a TLS client, say); it
// closes with the test.
func NewConn(t testing.TB, nc net.Conn) *Conn {
	t.Cleanup(func() { nc.Close() })
	return &Conn{t: t, nc: nc}
}

// NetConn is the underlying connection, for tests that write byte by byte
// or half-close.
func (c *Conn) NetConn() net.Conn { return c.nc }

// Close closes the connection.
func (c *Conn) Close() { c.nc.Close() }

// Send writes b as it is (a pipeline, a partial or malformed request); an
// I/O error fails the test.
func (c *Conn) Send(b []byte) {
	c.t.Helper()
	if err := c.send(b); err != nil {
		c.t.Fatal(err)
	}
}

func (c *Conn) send(b []byte) error {
	for len(b) > 0 {
		n := min(len(b), ioChunk)
		_ = c.nc.SetWriteDeadline(time.Now().Add(ioTimeout))
		if _, err := c.nc.Write(b[:n]); err != nil {
			return fmt.Errorf("writing to %s: %w", c.nc.RemoteAddr(), err)
		}
		b = b[n:]
	}
	return nil
}

// Read returns one reply framed by frame, or the error that ended the
// stream (io.EOF when the server closed the connection).
func (c *Conn) Read(frame Framer) ([]byte, error) {
	tmp := make([]byte, 64<<10)
	for {
		if len(c.buf) > 0 {
			n, err := frame(c.buf)
			if err == nil {
				out := append([]byte(nil), c.buf[:n]...)
				c.buf = c.buf[n:]
				return out, nil
			}
			if !Incomplete(err) {
				return nil, err
			}
		}
		_ = c.nc.SetReadDeadline(time.Now().Add(ioTimeout))
		k, err := c.nc.Read(tmp)
		c.buf = append(c.buf, tmp[:k]...)
		if err != nil && k == 0 {
			return nil, err
		}
	}
}

// Do sends one RESP command and returns its raw reply; an I/O or framing
// error fails the test (call it from the test's goroutine).
func (c *Conn) Do(args ...string) string {
	c.t.Helper()
	r, err := c.TryDo(args...)
	if err != nil {
		c.t.Fatal(err)
	}
	return r
}

// DoRaw is Do for a request already encoded (or deliberately malformed).
func (c *Conn) DoRaw(req []byte) string {
	c.t.Helper()
	c.Send(req)
	b, err := c.Read(RedisReply)
	if err != nil {
		c.t.Fatalf("reading the reply to %q: %v", req, err)
	}
	return string(b)
}

// TryDo is Do returning the error instead (for load generators running in
// their own goroutines).
func (c *Conn) TryDo(args ...string) (string, error) {
	if err := c.send(Cmd(args...)); err != nil {
		return "", fmt.Errorf("sending %v: %w", args, err)
	}
	b, err := c.Read(RedisReply)
	if err != nil {
		return "", fmt.Errorf("reading the reply to %v: %w", args, err)
	}
	return string(b), nil
}
