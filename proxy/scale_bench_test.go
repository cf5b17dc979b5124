package proxy

import (
	"testing"

	"github.com/dynomite-go/dynomite/proxy/consistency"
	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/resp"
	"github.com/dynomite-go/dynomite/proxy/ring"
)

// BenchmarkFanoutQuorumSET measures a DC_QUORUM SET's fan-out over three
// racks, targets chosen as fanOut chooses them (addTargets), copies
// completed by hand (no sockets, as benchQuorum): with nothing moving, and
// while a node joins rack r1 and takes the key's range (one extra copy).
// Neither may allocate.
func BenchmarkFanoutQuorumSET(b *testing.B) {
	for _, moving := range []bool{false, true} {
		name := "steady"
		if moving {
			name = "moving"
		}
		b.Run(name, func(b *testing.B) {
			s := newThreeRackServer(b)
			if moving {
				peers := append(s.opts.Peers, Peer{Name: "j", Addr: "127.0.0.1:4", DC: "dc1", Rack: "r1", Tokens: []ring.Token{1 << 31}})
				if err := s.UpdatePeers(peers); err != nil {
					b.Fatal(err)
				}
				if err := s.SetScalePlan(&ScalePlan{ID: "bench", Join: []string{"j"}, Phase: ScaleDual}); err != nil {
					b.Fatal(err)
				}
			}
			c := s.cluster
			st := c.state.Load()
			lim := resp.DefaultLimits()
			req := cmd("SET", "key:000000012345", "abc")
			tok, _ := st.topo.KeyToken([]byte("key:000000012345"))
			wantCopies := 3
			if moving {
				if st.topo.ExtraOwner(0, 0, tok) == nil {
					b.Fatal("the key does not move: pick another")
				}
				wantCopies = 4
			}
			var subs [4]*msg.Request
			b.ReportAllocs()
			b.SetBytes(int64(len(req)))
			for b.Loop() {
				p := benchRequest(b, s, req, &lim)
				f := c.newFanout(st, p, 0, consistency.DCQuorum, true)
				f.addTargets(tok, true)
				if len(f.subs) != wantCopies {
					b.Fatalf("%d copies, want %d", len(f.subs), wantCopies)
				}
				f.outstanding = len(f.subs)
				// f is recycled once the last copy completes: take them first
				n := len(f.subs)
				for i := range n {
					subs[i] = f.subs[i].req
				}
				for _, sub := range subs[:n] {
					sub.SetReply([]byte("+OK\r\n"))
					sub.Done()
				}
				p.Wait()
				if string(p.Reply) != "+OK\r\n" {
					b.Fatalf("got %q", p.Reply)
				}
				s.reqs.Put(p)
			}
		})
	}
}
