package proxy

import (
	"bytes"
	"testing"

	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/resp"
)

// FuzzReadPeerUnit feeds a peer's payloads to readPeer, which reads a
// transaction unit (MULTI ... EXEC) as one request: whatever arrives, it
// never panics, a unit it returns is exactly the bytes it consumed, starts
// with MULTI, ends with EXEC, and its commands are counted as its replies
// will be.
func FuzzReadPeerUnit(f *testing.F) {
	unit := "*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*1\r\n$4\r\nEXEC\r\n"
	for _, s := range []string{unit, unit[:20], unit + "*1\r\n$4\r\nPING\r\n", "*1\r\n$5\r\nMULTI\r\n*1\r\n$x\r\n",
		"*1\r\n$5\r\nMULTI\r\n*1\r\n$4\r\nEXEC\r\n", "PING\r\n", "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c := newRedisCodec(0)
		fr := msg.NewFrameReader(bytes.NewReader(in), 64, 1<<20)
		for range 100 {
			if err := fr.Fill(0); err != nil && fr.Buffered() == 0 {
				return
			}
			before := append([]byte(nil), fr.Bytes()...)
			r := msg.NewRequest()
			act, _, err := c.readPeer(fr, r)
			if err != nil || act == actMore || r.CloseAfter {
				return
			}
			if r.Cmd == unitCmd && act == actForward {
				if !bytes.HasPrefix(before, r.Raw) {
					t.Fatalf("unit %q is not the input's head %q", r.Raw, before)
				}
				if n := resp.CountCommands(r.Raw); n < 2 {
					t.Fatalf("unit %q counts %d commands", r.Raw, n)
				}
			}
		}
	})
}
