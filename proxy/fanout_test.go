package proxy

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/consistency"
	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/resp"
	"github.com/dynomite-go/dynomite/proxy/ring"
)

// TestFanoutSendsOnlyNeededCopies drives a fan-out by hand, without
// sockets: two copies complete, then start's turn comes to the third. The
// third rack's peer is marked down, so that a copy sent to it fails at once
// (errPeerAdminDown) and a copy not sent is counted in ReadCopiesNotSent: both
// complete synchronously, so the outcome is known when sendIfNeeded returns.
func TestFanoutSendsOnlyNeededCopies(t *testing.T) {
	s := newThreeRackServer(t)
	c := s.cluster
	st := c.state.Load()
	get, _ := resp.Lookup([]byte("get"))
	third := st.topo.Owner(0, 2, 0)
	st.down[third.Index].Store(true)

	// run builds a fan-out over the three racks (or the local one first and
	// the others swallowed), completes the first two copies with reply and
	// returns the client's reply and whether the third copy was sent.
	run := func(t *testing.T, level consistency.Level, write, localFirst bool, reply string) (string, bool) {
		p := s.reqs.Get()
		p.SetRaw(cmd("GET", "k"))
		p.Cmd, p.Class, p.Key = get, msg.ClassRead, p.Raw[len(p.Raw)-3:len(p.Raw)-2]
		f := c.newFanout(st, p, 0, level, write)
		if localFirst {
			f.localFirst()
			f.add(st.topo.Owner(0, 1, 0), roleSwallow, 0, 0, nil)
			f.add(third, roleSwallow, 0, 0, nil)
		} else {
			for rk := 0; rk < 3; rk++ {
				f.add(st.topo.Owner(0, rk, 0), roleCounted, 0, 0, nil)
			}
		}
		f.outstanding = len(f.subs)
		subs := [3]*msg.Request{f.subs[0].req, f.subs[1].req, f.subs[2].req}
		for _, sub := range subs[:2] {
			sub.SetReply([]byte(reply))
			sub.Done()
		}
		skipped := s.Stats().ReadCopiesNotSent
		f.sendIfNeeded(2)
		require.Zero(t, s.fanouts.Load(), "the third copy completed at once and the fan-out was released")
		p.Wait()
		got := string(p.Reply)
		s.reqs.Put(p)
		return got, s.Stats().ReadCopiesNotSent == skipped
	}

	for name, tc := range map[string]struct {
		level             consistency.Level
		write, localFirst bool
		reply             string
		sent              bool
	}{
		"a quorum read decided by two racks does not send the third copy":           {level: consistency.DCQuorum, reply: "$1\r\na\r\n"},
		"a DC_EACH_SAFE_QUORUM read, undecided until every rack answered, sends it": {level: consistency.DCEachSafeQuorum, reply: "$1\r\na\r\n", sent: true},
		"a quorum write decided by two racks still replicates to the third":         {level: consistency.DCSafeQuorum, write: true, reply: "+OK\r\n", sent: true},
		"copies whose reply is swallowed are sent after the local reply decided":    {level: consistency.DCOne, localFirst: true, reply: "+OK\r\n", sent: true},
	} {
		t.Run(name, func(t *testing.T) {
			got, sent := run(t, tc.level, tc.write, tc.localFirst, tc.reply)
			require.Equal(t, tc.reply, got, "two agreeing replies decide, whatever the third copy did")
			require.Equal(t, tc.sent, sent)
		})
	}
}

// newThreeRackServer is an unstarted node of rack r1 with peers in racks r2
// and r3 owning the same token, for fan-outs driven by hand.
func newThreeRackServer(tb testing.TB) *Server {
	s, err := New(Options{Proto: msg.Redis, Datastore: "127.0.0.1:1", DynListen: "127.0.0.1:1", DC: "dc1", Rack: "r1",
		Tokens: []ring.Token{0}, Peers: []Peer{
			{Name: "b", Addr: "127.0.0.1:2", DC: "dc1", Rack: "r2", Tokens: []ring.Token{0}},
			{Name: "c", Addr: "127.0.0.1:3", DC: "dc1", Rack: "r3", Tokens: []ring.Token{0}},
		}})
	require.NoError(tb, err)
	return s
}
