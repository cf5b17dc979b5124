package proxy

import (
	"fmt"
	"testing"

	"github.com/dynomite-go/dynomite/proxy/consistency"
	"github.com/dynomite-go/dynomite/proxy/hlc"
	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/resp"
)

// BenchmarkQuorumSetStampedWithHints measures the write path that hinted
// handoff adds to when no copy fails: a SET stamped at its coordinator
// (hlc), fanned out to three racks with hints on, its local copy recorded
// in the last-writer-wins table, every copy completed by hand (no sockets).
// Nothing may be written to disk and nothing allocated.
func BenchmarkQuorumSetStampedWithHints(b *testing.B) {
	s, err := New(Options{Proto: msg.Redis, Datastore: "127.0.0.1:1", DynListen: "127.0.0.1:1", DC: "dc1", Rack: "r1",
		Tokens: newThreeRackServer(b).opts.Tokens, Peers: newThreeRackServer(b).opts.Peers, HintsDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	c := s.cluster
	defer c.hints.store.Close()
	st := c.state.Load()
	raw := cmd("SET", "user:1", "v")
	setCmd, set := resp.Lookup([]byte("set"))
	ok := []byte("+OK\r\n")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := s.reqs.Get()
		p.SetRaw(raw)
		p.Cmd, p.Class, p.Flags = setCmd, set.Class, set.Flags
		p.Key = p.Raw[len(p.Raw)-len("user:1\r\n$1\r\nv\r\n") : len(p.Raw)-len("\r\n$1\r\nv\r\n")]
		c.stamp(p)
		f := c.newFanout(st, p, 0, consistency.DCQuorum, true)
		for rk := 0; rk < 3; rk++ {
			f.add(st.topo.Owner(0, rk, 0), roleCounted, 0, 0, nil)
		}
		f.outstanding = len(f.subs)
		subs := [3]*msg.Request{f.subs[0].req, f.subs[1].req, f.subs[2].req}
		for _, sub := range subs {
			sub.SetReply(ok)
			sub.Done()
		}
		p.Wait()
		if string(p.Reply) != "+OK\r\n" {
			b.Fatalf("got %q", p.Reply)
		}
		s.reqs.Put(p)
	}
	b.StopTimer()
	if _, ok := c.lww.lookup([]byte("user:1")); !ok {
		b.Fatal("the local copy was not recorded")
	}
	if n := len(c.hints.store.Targets()); n != 0 {
		b.Fatalf("%d targets have hints", n)
	}
}

// BenchmarkReplicaStampedCopyBookkeeping measures what a replica adds to
// each stamped copy it applies when nothing fails: merging the copy's stamp
// into its clock, the lateness check of a cross-datacenter copy and the
// last-writer-wins record once the datastore answered (peerserver.go). The
// copies carry increasing stamps over 100,000 keys, as a coordinator's
// writes do. It must not allocate.
func BenchmarkReplicaStampedCopyBookkeeping(b *testing.B) {
	s := newThreeRackServer(b)
	c := s.cluster
	coord := hlc.New()
	keys := make([][]byte, 100_000)
	for i := range keys {
		keys[i] = []byte(fmt.Sprintf("key:%012d", i))
	}
	r := s.reqs.Get()
	defer s.reqs.Put(r)
	r.SetReply([]byte("+OK\r\n"))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.Key = keys[i%len(keys)]
		r.Stamp, r.StampNode = uint64(coord.Now()), 7
		c.observe(r)
		if c.lateCopy(r) {
			b.Fatal("an on-time copy counted as late")
		}
		c.applied(r)
	}
}
