package proxy

import (
	"bytes"
	"io"
	"testing"

	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/resp"
)

// loopReader replays the same bytes forever.
type loopReader struct {
	data []byte
	off  int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := copy(p, l.data[l.off:])
	l.off = (l.off + n) % len(l.data)
	return n, nil
}

var _ io.Reader = (*loopReader)(nil)

// benchRequestPath measures what the proxy does per forwarded request apart
// from the network: take a pooled request, frame and parse it, copy its raw
// bytes, classify it, take the reply, recycle the request. It must not
// allocate.
func benchRequestPath(b *testing.B, c codec, one []byte, reply []byte) {
	data := bytes.Repeat(one, 256)
	fr := msg.NewFrameReader(&loopReader{data: data}, 16<<10, 1<<20)
	var pool msg.Pool
	b.ReportAllocs()
	b.SetBytes(int64(len(one)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := pool.Get()
		for {
			act, need, err := c.read(fr, r)
			if err != nil {
				b.Fatal(err)
			}
			if act == actForward {
				break
			}
			if act != actMore {
				b.Fatalf("unexpected action %d", act)
			}
			if err := fr.Fill(need); err != nil {
				b.Fatal(err)
			}
		}
		_, n, ok, err := c.parseReply(reply, r)
		if err != nil || !ok || n != len(reply) {
			b.Fatal("reply not parsed", n, ok, err)
		}
		r.SetReply(reply[:n])
		pool.Put(r)
	}
}

func BenchmarkRedisForwardGet(b *testing.B) {
	benchRequestPath(b, newRedisCodec(0), cmd("GET", "key:000000012345"), []byte("$3\r\nabc\r\n"))
}

func BenchmarkRedisForwardSet(b *testing.B) {
	benchRequestPath(b, newRedisCodec(0), cmd("SET", "key:000000012345", "abc"), []byte("+OK\r\n"))
}

func BenchmarkMemcacheForwardGet(b *testing.B) {
	benchRequestPath(b, newMemcacheCodec(0), []byte("get key:000000012345\r\n"), []byte("VALUE key:000000012345 0 3\r\nabc\r\nEND\r\n"))
}

func BenchmarkMemcacheForwardSet(b *testing.B) {
	benchRequestPath(b, newMemcacheCodec(0), []byte("set key:000000012345 0 0 3\r\nabc\r\n"), []byte("STORED\r\n"))
}

// BenchmarkMemcacheForwardMetaGetQuiet: a quiet meta get is sent on
// without its q (into the request's own buffer) and its reply framed as a
// meta reply.
func BenchmarkMemcacheForwardMetaGetQuiet(b *testing.B) {
	benchRequestPath(b, newMemcacheCodec(0), []byte("mg key:000000012345 v f q\r\n"), []byte("VA 3 f0\r\nabc\r\n"))
}

// cmd encodes a command as a RESP array (the tests of package proxy_test use
// proxytest.Cmd; this package's own tests cannot import proxytest).
func cmd(args ...string) []byte {
	bs := make([][]byte, len(args))
	for i, a := range args {
		bs[i] = []byte(a)
	}
	return resp.AppendCommand(nil, bs)
}
