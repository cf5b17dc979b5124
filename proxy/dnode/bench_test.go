package dnode

import (
	"io"
	"net"
	"testing"
	"time"
)

func BenchmarkAppendHeader(b *testing.B) {
	h := Header{ID: 1234567, Type: TypeReq, SameDC: true}
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendHeader(buf[:0], h)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkParseHeader(b *testing.B) {
	frames := map[string][]byte{
		"request": []byte("   $2014$ 1234567 3 0 1 1 *1 d *0\r\n" + setFoo1),
		"secured": AppendHeader(nil, Header{ID: 1, Type: TypeReq, Flags: FlagEncrypted, SameDC: true, Data: rsaKey, PayloadLen: 48}),
	}
	for name, frame := range frames {
		b.Run(name, func(b *testing.B) {
			lim := DefaultLimits()
			var h Header
			var n int
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if n, err = ParseHeader(frame, &h, &lim); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(n))
		})
	}
}

// benchConn is a peer connection that sends the same frame n times, then
// EOF, and swallows the replies. Only the methods the Server calls on an
// accepted connection are implemented.
type benchConn struct {
	net.Conn
	frame []byte
	off   int
	n     int
}

func (c *benchConn) Read(p []byte) (int, error) {
	if c.n == 0 {
		return 0, io.EOF
	}
	k := copy(p, c.frame[c.off:])
	if c.off += k; c.off == len(c.frame) {
		c.off, c.n = 0, c.n-1
	}
	return k, nil
}

func (c *benchConn) Write(p []byte) (int, error)     { return len(p), nil }
func (c *benchConn) Close() error                    { return nil }
func (c *benchConn) SetReadDeadline(time.Time) error { return nil }
func (c *benchConn) RemoteAddr() net.Addr            { return &net.TCPAddr{} }

// BenchmarkServeConn is the peer listener's work per request apart from
// the network and the datastore: parse the header, take a pooled request,
// hand it over, write the reply frame, recycle the request. It must not
// allocate per request; what a connection allocates once (buffers, queue,
// writer goroutine) is spread over b.N.
func BenchmarkServeConn(b *testing.B) {
	s := NewServer(ServerConfig{}, &lineHandler{})
	one := frame(1234567, TypeReq, "get key:000000012345\r\n")
	b.ReportAllocs()
	b.SetBytes(int64(len(one)))
	b.ResetTimer()
	s.serveConn(&benchConn{frame: one, n: b.N}, 1)
}
