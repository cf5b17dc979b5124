package proxy

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dynomite-go/dynomite/proxy/memcache"
	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/resp"
	"github.com/dynomite-go/dynomite/proxy/ring"
)

// holdings is what each rack's datastore holds, written behind the
// cluster's back: key → value per rack ("" = the rack lacks the key). Racks
// lacking different keys is the state a restart leaves, with no repair.
var holdings = []struct {
	key    string
	byRack [3]string
}{
	{"all", [3]string{"v", "v", "v"}},
	{"r12", [3]string{"v", "v", ""}},
	{"r23", [3]string{"", "v", "v"}},
	{"r13", [3]string{"v", "", "v"}},
	{"only1", [3]string{"v", "", ""}},
	{"only3", [3]string{"", "", "v"}},
	{"two-one", [3]string{"x", "x", "y"}},
	{"none", [3]string{"", "", ""}},
	{"split", [3]string{"a", "b", "c"}}, // no two racks agree: keep it last
}

// quorumValue is what a quorum read of holding h returns: the value two
// racks of three agree on; ok is false when no two agree.
func quorumValue(byRack [3]string) (v string, ok bool) {
	for i := 0; i < 3; i++ {
		for j := i + 1; j < 3; j++ {
			if byRack[i] == byRack[j] {
				return byRack[i], true
			}
		}
	}
	return "", false
}

func bulk(v string) string {
	if v == "" {
		return "$-1\r\n"
	}
	return "$" + strconv.Itoa(len(v)) + "\r\n" + v + "\r\n"
}

// arrayOf is the MGET reply for these elements.
func arrayOf(elems []string) string {
	return "*" + strconv.Itoa(len(elems)) + "\r\n" + strings.Join(elems, "")
}

// rackOf maps node index → rack index for the specs of these tests.
type rackOf func(node int) int

// writeHoldings stores every holding in the redis of the racks that hold it.
func (tc *testCluster) writeHoldings(t *testing.T, prefix string, rack rackOf) {
	for i := range tc.nodes {
		for _, h := range holdings {
			if v := h.byRack[rack(i)]; v != "" {
				require.Equal(t, "+OK\r\n", tc.direct(i, "SET", prefix+h.key, v))
			}
		}
	}
}

// checkMGET asserts the per-key quorum reads through every node: at
// DC_QUORUM and DC_SAFE_QUORUM, an MGET gives each key what a GET of it
// gives, which is the value a majority of racks hold; DC_ONE reads the
// node's own rack.
func (tc *testCluster) checkMGET(t *testing.T, prefix string, rack rackOf) {
	args := []string{"MGET"}
	for _, h := range holdings {
		args = append(args, prefix+h.key)
	}
	for i := range tc.nodes {
		quorum, safe, one := tc.client(i, "DC_QUORUM"), tc.client(i, "DC_SAFE_QUORUM"), tc.client(i, "DC_ONE")
		var wantQ, wantOne []string
		for _, h := range holdings {
			v, ok := quorumValue(h.byRack)
			if !ok {
				v = h.byRack[0] // DC_QUORUM: the first rack's, as GET
			}
			wantQ = append(wantQ, bulk(v))
			wantOne = append(wantOne, bulk(h.byRack[rack(i)]))
			// per key exactly as a GET of that key
			require.Equal(t, bulk(v), quorum.do(cmd("GET", prefix+h.key)), "GET %s at DC_QUORUM through node %d", h.key, i)
			got := safe.do(cmd("GET", prefix+h.key))
			if ok {
				require.Equal(t, bulk(v), got, "GET %s at DC_SAFE_QUORUM through node %d", h.key, i)
			} else {
				require.True(t, strings.HasPrefix(got, "-ERR Dynomite: Failed to achieve Quorum"), "GET %s: %q", h.key, got)
			}
		}
		require.Equal(t, arrayOf(wantQ), quorum.do(cmd(args...)), "MGET at DC_QUORUM through node %d", i)
		require.Equal(t, arrayOf(wantOne), one.do(cmd(args...)), "MGET at DC_ONE through node %d reads its own rack", i)
		// DC_SAFE_QUORUM: every key with a quorum reads like DC_QUORUM...
		n := len(holdings) - 1
		require.Equal(t, arrayOf(wantQ[:n]), safe.do(cmd(args[:1+n]...)), "MGET at DC_SAFE_QUORUM through node %d", i)
		// ...and one key without a quorum fails the MGET, as its GET fails
		got := safe.do(cmd(args...))
		require.Equal(t, "-ERR Dynomite: Failed to achieve Quorum (DC_SAFE_QUORUM)\r\n", got, "through node %d", i)
		got = tc.client(i, "DC_EACH_SAFE_QUORUM").do(cmd(args[:1+n]...))
		require.Equal(t, arrayOf(wantQ[:n]), got, "MGET at DC_EACH_SAFE_QUORUM through node %d", i)
	}
}

func TestMGETDecidesQuorumKeyByKey(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	tc := startCluster(t, []string{"dc1/r1/0", "dc1/r2/0", "dc1/r3/0"}, nil)
	rack := func(i int) int { return i }
	tc.writeHoldings(t, "", rack)

	t.Run("every key has one replica set: the MGET goes whole to each rack", func(t *testing.T) {
		tc.checkMGET(t, "", rack)
	})

	t.Run("one rack down: the two others decide each key", func(t *testing.T) {
		tc.stopNode(1) // r2: its holdings no longer count
		c := tc.client(0, "DC_QUORUM")
		// r1 and r3 answer: a key is read when both agree, else r1's value
		// (DC_QUORUM without agreement: the first reply, as GET)
		require.Equal(t, arrayOf([]string{bulk("v"), bulk("v"), bulk("v"), bulk("x")}), c.do(cmd("MGET", "all", "r13", "only1", "two-one")))
		got := tc.client(2, "DC_SAFE_QUORUM").do(cmd("MGET", "all", "r13", "only1"))
		require.Equal(t, "-ERR Dynomite: Failed to achieve Quorum (DC_SAFE_QUORUM)\r\n", got, "only1 has no quorum of the two racks left")
		require.Equal(t, arrayOf([]string{bulk("v"), bulk("v"), bulk("")}), tc.client(2, "DC_SAFE_QUORUM").do(cmd("MGET", "all", "r13", "none")))
	})
	for i := range tc.nodes {
		if tc.nodes[i].n.cancel != nil {
			tc.stopNode(i)
		}
	}
}

func TestMGETFragmentsDecideQuorumKeyByKey(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	// three racks of two nodes: the keys fall into two replica sets, so the
	// MGET is split in two fragments, each decided key by key
	half := strconv.Itoa(1 << 31)
	specs := []string{
		"dc1/r1/" + half, "dc1/r1/4294967295",
		"dc1/r2/" + half, "dc1/r2/4294967295",
		"dc1/r3/" + half, "dc1/r3/4294967295",
	}
	tc := startCluster(t, specs, nil)
	rack := func(i int) int { return i / 2 }
	topo, err := ring.NewTopology("a", []ring.Node{
		{Name: "a", DC: "dc1", Rack: "r1", Tokens: []ring.Token{1 << 31}},
		{Name: "b", DC: "dc1", Rack: "r1", Tokens: []ring.Token{4294967295}},
	}, ring.Options{})
	require.NoError(t, err)
	owners := map[string]bool{}
	for _, h := range holdings {
		owners[topo.Lookup([]byte("f:"+h.key), 0, 0).Name] = true
	}
	require.Len(t, owners, 2, "the keys must span both replica sets")
	tc.writeHoldings(t, "f:", rack)
	tc.checkMGET(t, "f:", rack)
	for i := range tc.nodes {
		tc.stopNode(i)
	}
}

func TestMemcacheMultiGetDecidesQuorumKeyByKey(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	tc := &testCluster{t: t}
	for _, rk := range []string{"r1", "r2", "r3"} {
		tc.nodes = append(tc.nodes, &testNode{dc: "dc1", rack: rk, dynAddr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), redis: startMemcached(t)})
	}
	for _, level := range []Level{DCQuorum, DCSafeQuorum} {
		t.Run(level.String(), func(t *testing.T) {
			for i := range tc.nodes {
				tc.startNode(i, func(o *Options) { o.Proto, o.ReadLevel = msg.Memcache, level })
			}
			require.Eventually(t, func() bool {
				for _, tn := range tc.nodes {
					for _, p := range tn.n.s.Peers() {
						if !p.Up {
							return false
						}
					}
				}
				return true
			}, 15*time.Second, 20*time.Millisecond, "cluster never fully connected")
			for i, tn := range tc.nodes {
				d := dial(t, tn.redis.addr)
				d.send([]byte("flush_all\r\n"))
				_, err := d.read(mcLine)
				require.NoError(t, err)
				for _, h := range holdings {
					if v := h.byRack[i]; v != "" {
						d.send([]byte(fmt.Sprintf("set %s 0 0 %d\r\n%s\r\n", h.key, len(v), v)))
						b, err := d.read(mcLine)
						require.NoError(t, err)
						require.Equal(t, "STORED\r\n", string(b))
					}
				}
			}
			keys := make([]string, 0, len(holdings))
			var want strings.Builder
			for _, h := range holdings[:len(holdings)-1] {
				keys = append(keys, h.key)
				if v, _ := quorumValue(h.byRack); v != "" {
					fmt.Fprintf(&want, "VALUE %s 0 %d\r\n%s\r\n", h.key, len(v), v)
				}
			}
			want.WriteString("END\r\n")
			for i := range tc.nodes {
				c := dial(t, tc.nodes[i].n.addr)
				c.send([]byte("get " + strings.Join(keys, " ") + "\r\n"))
				b, err := c.read(mcGet)
				require.NoError(t, err)
				require.Equal(t, want.String(), string(b), "through node %d", i)
				c.send([]byte("get " + strings.Join(keys, " ") + " split\r\n"))
				b, err = c.read(mcGet)
				require.NoError(t, err)
				if level == DCQuorum {
					require.Equal(t, strings.TrimSuffix(want.String(), "END\r\n")+"VALUE split 0 1\r\na\r\nEND\r\n", string(b), "through node %d", i)
				} else {
					require.Equal(t, "SERVER_ERROR Dynomite: Failed to achieve Quorum (DC_SAFE_QUORUM)\r\n", string(b), "through node %d", i)
				}
			}
			for i := range tc.nodes {
				tc.stopNode(i)
			}
		})
	}
}

// mcLine and mcGet frame memcached replies: one line, or a retrieval.
func mcLine(b []byte) (int, error) { return memcache.ParseReply(b, false, nil) }

func mcGet(b []byte) (int, error) { return memcache.ParseReply(b, true, nil) }

// BenchmarkQuorumMGETKeyByKey measures deciding a 16-key MGET at DC_QUORUM
// from three racks whose replies all differ (each lacks other keys), so
// that every key is voted on: split the replies, vote, build the reply.
// No sockets: the copies are completed by hand. It must not allocate.
func BenchmarkQuorumMGETKeyByKey(b *testing.B) {
	s, err := New(Options{Proto: msg.Redis, Datastore: "127.0.0.1:1", DynListen: "127.0.0.1:1", DC: "dc1", Rack: "r1",
		Tokens: []uint32{0}, Peers: []Peer{
			{Name: "b", Addr: "127.0.0.1:2", DC: "dc1", Rack: "r2", Tokens: []uint32{0}},
			{Name: "c", Addr: "127.0.0.1:3", DC: "dc1", Rack: "r3", Tokens: []uint32{0}},
		}})
	require.NoError(b, err)
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
		elems := make([]string, nkeys)
		for k := range elems {
			if k%3 == rk { // rack rk lacks every third key
				elems[k] = bulk("")
			} else {
				elems[k] = bulk("value-" + strconv.Itoa(k))
			}
		}
		replies[rk] = []byte(arrayOf(elems))
	}
	want := ""
	for k := 0; k < nkeys; k++ {
		want += bulk("value-" + strconv.Itoa(k))
	}
	want = "*" + strconv.Itoa(nkeys) + "\r\n" + want
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
		f := c.newFanout(st, p, 0, DCQuorum, false)
		f.nkeys = s.perKeyCount(p)
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
