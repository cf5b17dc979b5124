package proxy

import (
	"testing"

	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/resp"
)

// BenchmarkRESP3Reply measures what the writer adds for a RESP3 client: an
// HGETALL reply converted to a map in the session's reused buffer. It must
// not allocate once the buffer has grown.
func BenchmarkRESP3Reply(b *testing.B) {
	id, _ := resp.Lookup([]byte("hgetall"))
	r := msg.NewRequest()
	r.Cmd, r.RESP3 = id, true
	r.SetArgs([][]byte{[]byte("HGETALL"), []byte("h")})
	r.SetReply([]byte("*4\r\n$2\r\nf1\r\n$2\r\nv1\r\n$2\r\nf2\r\n$-1\r\n"))
	var rs redisState
	want := "%2\r\n$2\r\nf1\r\n$2\r\nv1\r\n$2\r\nf2\r\n_\r\n"
	if got := string(rs.clientReply(r)); got != want {
		b.Fatalf("got %q, want %q", got, want)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = rs.clientReply(r)
	}
}
