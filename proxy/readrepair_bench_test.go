package proxy

import (
	"testing"

	"github.com/dynomite-go/dynomite/proxy/consistency"
	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/resp"
)

// benchQuorum measures one request through a three-rack DC_QUORUM fan-out
// whose copies all reply reply, with read repair on or off: parse, rewrite
// (repairs on), fan out, decide, strip the metadata (reads), compare the
// replicas once all are in (repairs on). No sockets: the copies are
// completed by hand, as in BenchmarkQuorumMGETKeyByKey. With repairs off it
// must not allocate.
func benchQuorum(b *testing.B, repairs bool, req []byte, reply, want string) {
	s := newThreeRackServer(b)
	s.SetConsistency(false, consistency.DCQuorum)
	s.SetConsistency(true, consistency.DCQuorum)
	s.SetReadRepairs(repairs)
	c := s.cluster
	st := c.state.Load()
	lim := resp.DefaultLimits()
	rep := []byte(reply)
	b.ReportAllocs()
	b.SetBytes(int64(len(req)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := benchRequest(b, s, req, &lim)
		write := p.Class == msg.ClassWrite
		f := c.newFanout(st, p, 0, consistency.DCQuorum, write)
		f.rewriteForRepair(p, write, consistency.DCQuorum)
		for rk := 0; rk < 3; rk++ {
			f.add(st.topo.Owner(0, rk, 0), roleCounted, 0, 0, nil)
		}
		f.outstanding = len(f.subs)
		subs := [3]*msg.Request{f.subs[0].req, f.subs[1].req, f.subs[2].req}
		for _, sub := range subs {
			sub.SetReply(rep)
			sub.Done()
		}
		p.Wait()
		if string(p.Reply) != want {
			b.Fatalf("got %q, want %q", p.Reply, want)
		}
		s.reqs.Put(p)
	}
}

// benchRequest is a pooled request of s holding raw, parsed as a client
// session parses it.
func benchRequest(b *testing.B, s *Server, raw []byte, lim *resp.Limits) *msg.Request {
	p := s.reqs.Get()
	p.SetRaw(raw)
	_, args, err := resp.ParseRequest(p.Raw, p.ArgsBuf(), lim)
	if err != nil {
		b.Fatal(err)
	}
	p.SetArgs(args)
	id, cmd := resp.Lookup(args[0])
	p.Cmd, p.Class, p.Flags, p.Key = id, cmd.Class, cmd.Flags, cmd.Key(args)
	return p
}

var (
	benchGet      = cmd("GET", "key:000000012345")
	benchSet      = cmd("SET", "key:000000012345", "abc")
	benchGetReply = "$3\r\nabc\r\n"
	// what the read script answers for the same value
	benchGetScriptReply = "*3\r\n$1\r\nE\r\n$15\r\n1764934290123.5\r\n$3\r\nabc\r\n"
)

func BenchmarkQuorumGETRepairsOff(b *testing.B) {
	benchQuorum(b, false, benchGet, benchGetReply, benchGetReply)
}

func BenchmarkQuorumGETRepairsOn(b *testing.B) {
	benchQuorum(b, true, benchGet, benchGetScriptReply, benchGetReply)
}

func BenchmarkQuorumSETRepairsOff(b *testing.B) {
	benchQuorum(b, false, benchSet, "+OK\r\n", "+OK\r\n")
}

func BenchmarkQuorumSETRepairsOn(b *testing.B) {
	benchQuorum(b, true, benchSet, "+OK\r\n", "+OK\r\n")
}
