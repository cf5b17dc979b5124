package proxy

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/dynomite-go/dynomite/proxy/consistency"
	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/resp"
)

// BenchmarkQuorumMGETKeyByKey measures deciding a 16-key MGET at DC_QUORUM
// from three racks whose replies all differ (each lacks other keys), so
// that every key is voted on: split the replies, vote, build the reply.
// No sockets: the copies are completed by hand. It must not allocate.
func BenchmarkQuorumMGETKeyByKey(b *testing.B) {
	s := newThreeRackServer(b)
	c := s.cluster
	st := c.state.Load()
	const nkeys = 16
	args := []string{"MGET"}
	for k := 0; k < nkeys; k++ {
		args = append(args, "key:"+strconv.Itoa(k))
	}
	raw := cmd(args...)
	mgetCmd, mget := resp.Lookup([]byte("mget"))
	replies := make([][]byte, 3)
	for rk := range replies {
		reply := fmt.Sprintf("*%d\r\n", nkeys)
		for k := 0; k < nkeys; k++ {
			if k%3 == rk { // rack rk lacks every third key
				reply += "$-1\r\n"
			} else {
				reply += fmt.Sprintf("$%d\r\nvalue-%d\r\n", len("value-"+strconv.Itoa(k)), k)
			}
		}
		replies[rk] = []byte(reply)
	}
	want := fmt.Sprintf("*%d\r\n", nkeys)
	for k := 0; k < nkeys; k++ {
		want += fmt.Sprintf("$%d\r\nvalue-%d\r\n", len("value-"+strconv.Itoa(k)), k)
	}
	parse := func(p *msg.Request) {
		p.SetRaw(raw)
		p.Cmd, p.Class, p.Flags = mgetCmd, mget.Class, mget.Flags
		a := p.ArgsBuf()
		for pos := 0; len(a) < len(args); {
			// the args are only counted and compared: any slices of Raw do
			a = append(a, p.Raw[pos:pos+1])
			pos++
		}
		p.SetArgs(a)
		p.Key = p.Args[1]
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := s.reqs.Get()
		parse(p)
		f := c.newFanout(st, p, 0, consistency.DCQuorum, false)
		f.nkeys = s.cluster.perKeyCount(p)
		for rk := 0; rk < 3; rk++ {
			f.add(st.topo.Owner(0, rk, 0), roleCounted, 0, 0, nil)
		}
		f.outstanding = len(f.subs)
		subs := [3]*msg.Request{f.subs[0].req, f.subs[1].req, f.subs[2].req}
		for rk, sub := range subs {
			sub.SetReply(replies[rk])
			sub.Done()
		}
		p.Wait()
		if string(p.Reply) != want {
			b.Fatalf("got %q", p.Reply)
		}
		s.reqs.Put(p)
	}
}
