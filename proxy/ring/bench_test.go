package ring

import (
	"fmt"
	"testing"
)

// benchTopology is 3 datacenters x 3 racks x 16 nodes, one token each,
// evenly spaced and shifted per rack, with a "{}" hash tag. The local node is
// the first node of dc1/rack1.
func benchTopology(tb testing.TB) *Topology {
	tb.Helper()
	var nodes []Node
	for d := range 3 {
		for r := range 3 {
			for i := range 16 {
				tok := Token(uint32(i)*(1<<32/16) + uint32(d*3+r)*1000)
				nodes = append(nodes, Node{
					Name:   fmt.Sprintf("dc%d-rack%d-n%02d", d+1, r+1, i),
					Addr:   fmt.Sprintf("10.%d.%d.%d:8101", d, r, i),
					DC:     fmt.Sprintf("dc%d", d+1),
					Rack:   fmt.Sprintf("rack%d", r+1),
					Tokens: []Token{tok},
				})
			}
		}
	}
	return mustTopology(tb, "dc1-rack1-n00", nodes, Options{HashTag: "{}"})
}

func BenchmarkHash(b *testing.B) {
	key := []byte("user:1000:profil") // 16 bytes
	for _, name := range HashNames() {
		fn, _ := HashByName(name)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(key)))
			var sink uint32
			for b.Loop() {
				sink += fn(key)
			}
			_ = sink
		})
	}
}

func BenchmarkLookup(b *testing.B) {
	topo := benchTopology(b)
	keys := make([][]byte, 1024)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "user:%08d", i)
	}
	dc, rack := topo.LocalDC(), topo.LocalRack()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if topo.Lookup(keys[i&1023], dc, rack) == nil {
			b.Fatal("nil owner")
		}
		i++
	}
}

func BenchmarkReplicasForToken(b *testing.B) {
	topo := benchTopology(b)
	dst := make([]*Node, 0, topo.NumReplicas())
	b.ReportAllocs()
	tok := Token(0)
	for b.Loop() {
		dst = topo.ReplicasForToken(tok, dst)
		tok += 2654435761
	}
}

func BenchmarkNewTopology(b *testing.B) {
	nodes := benchTopology(b).Nodes()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewTopology("dc1-rack1-n00", nodes, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOwner asks the owner and the extra owner of a token in one rack,
// as a write's fan-out does, with nothing moving and while nodes of the
// rack join and leave.
func BenchmarkOwner(b *testing.B) {
	for _, bc := range []struct {
		name string
		topo *Topology
	}{{"steady", benchTopology(b)}, {"moving", movingBenchTopology(b, false)}, {"moving-switched", movingBenchTopology(b, true)}} {
		b.Run(bc.name, func(b *testing.B) {
			topo := bc.topo
			b.ReportAllocs()
			tok, extras := Token(0), 0
			for b.Loop() {
				if topo.Owner(0, 1, tok) == nil {
					b.Fatal("nil owner")
				}
				if topo.ExtraOwner(0, 1, tok) != nil {
					extras++
				}
				tok += 2654435761
			}
			_ = extras
		})
	}
}
