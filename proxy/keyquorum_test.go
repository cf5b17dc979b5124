package proxy_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dynomite-go/dynomite/proxy/consistency"
	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/proxytest"
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

// rackOf maps node index → rack index for the specs of these tests.
type rackOf func(node int) int

// writeHoldings stores every holding in the datastore of the racks that
// hold it.
func writeHoldings(t *testing.T, tc *proxytest.Cluster, prefix string, rack rackOf) {
	for i := range tc.Nodes {
		for _, h := range holdings {
			if v := h.byRack[rack(i)]; v != "" {
				require.Equal(t, "+OK\r\n", tc.Direct(i, "SET", prefix+h.key, v))
			}
		}
	}
}

// checkMGET asserts the per-key quorum reads through every node: at
// DC_QUORUM and DC_SAFE_QUORUM, an MGET gives each key what a GET of it
// gives, which is the value a majority of racks hold; DC_ONE reads the
// node's own rack.
func checkMGET(t *testing.T, tc *proxytest.Cluster, prefix string, rack rackOf) {
	args := []string{"MGET"}
	for _, h := range holdings {
		args = append(args, prefix+h.key)
	}
	for i := range tc.Nodes {
		quorum, safe, one := tc.Client(i, "DC_QUORUM"), tc.Client(i, "DC_SAFE_QUORUM"), tc.Client(i, "DC_ONE")
		var wantQ, wantOne []string
		for _, h := range holdings {
			v, ok := quorumValue(h.byRack)
			if !ok {
				v = h.byRack[0] // DC_QUORUM: the first rack's, as GET
			}
			wantQ = append(wantQ, bulk(v))
			wantOne = append(wantOne, bulk(h.byRack[rack(i)]))
			// per key exactly as a GET of that key
			require.Equal(t, bulk(v), quorum.Do("GET", prefix+h.key), "GET %s at DC_QUORUM through node %d", h.key, i)
			got := safe.Do("GET", prefix+h.key)
			if ok {
				require.Equal(t, bulk(v), got, "GET %s at DC_SAFE_QUORUM through node %d", h.key, i)
			} else {
				require.True(t, strings.HasPrefix(got, "-ERR Dynomite: Failed to achieve Quorum"), "GET %s: %q", h.key, got)
			}
		}
		require.Equal(t, arrayOf(wantQ), quorum.Do(args...), "MGET at DC_QUORUM through node %d", i)
		require.Equal(t, arrayOf(wantOne), one.Do(args...), "MGET at DC_ONE through node %d reads its own rack", i)
		// DC_SAFE_QUORUM: every key with a quorum reads like DC_QUORUM...
		n := len(holdings) - 1
		require.Equal(t, arrayOf(wantQ[:n]), safe.Do(args[:1+n]...), "MGET at DC_SAFE_QUORUM through node %d", i)
		// ...and one key without a quorum fails the MGET, as its GET fails
		got := safe.Do(args...)
		require.Equal(t, "-ERR Dynomite: Failed to achieve Quorum (DC_SAFE_QUORUM)\r\n", got, "through node %d", i)
		got = tc.Client(i, "DC_EACH_SAFE_QUORUM").Do(args[:1+n]...)
		require.Equal(t, arrayOf(wantQ[:n]), got, "MGET at DC_EACH_SAFE_QUORUM through node %d", i)
	}
}

func TestMGETDecidesQuorumKeyByKey(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	tc := fakeCluster(t, []string{"dc1/r1/0", "dc1/r2/0", "dc1/r3/0"}, nil)
	rack := func(i int) int { return i }
	writeHoldings(t, tc, "", rack)

	t.Run("every key has one replica set: the MGET goes whole to each rack", func(t *testing.T) {
		checkMGET(t, tc, "", rack)
	})

	t.Run("one rack down: the two others decide each key", func(t *testing.T) {
		tc.Stop(1) // r2: its holdings no longer count
		c := tc.Client(0, "DC_QUORUM")
		// r1 and r3 answer: a key is read when both agree, else r1's value
		// (DC_QUORUM without agreement: the first reply, as GET)
		require.Equal(t, arrayOf([]string{bulk("v"), bulk("v"), bulk("v"), bulk("x")}), c.Do("MGET", "all", "r13", "only1", "two-one"))
		got := tc.Client(2, "DC_SAFE_QUORUM").Do("MGET", "all", "r13", "only1")
		require.Equal(t, "-ERR Dynomite: Failed to achieve Quorum (DC_SAFE_QUORUM)\r\n", got, "only1 has no quorum of the two racks left")
		require.Equal(t, arrayOf([]string{bulk("v"), bulk("v"), bulk("")}), tc.Client(2, "DC_SAFE_QUORUM").Do("MGET", "all", "r13", "none"))
	})
	tc.Close()
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
	tc := fakeCluster(t, specs, nil)
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
	writeHoldings(t, tc, "f:", rack)
	checkMGET(t, tc, "f:", rack)
	tc.Close()
}

func TestMemcacheMultiGetDecidesQuorumKeyByKey(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for _, level := range []consistency.Level{consistency.DCQuorum, consistency.DCSafeQuorum} {
		t.Run(level.String(), func(t *testing.T) {
			tc := proxytest.StartCluster(t, proxytest.Config{Nodes: proxytest.Grid(1, 3, 1), Proto: msg.Memcache, ReadLevel: level})
			for i, n := range tc.Nodes {
				for _, h := range holdings {
					if v := h.byRack[i]; v != "" {
						n.Fake.Set(h.key, v)
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
			for i := range tc.Nodes {
				c := proxytest.Dial(t, tc.Nodes[i].Addr)
				c.Send([]byte("get " + strings.Join(keys, " ") + "\r\n"))
				b, err := c.Read(proxytest.MemcacheRetrieval)
				require.NoError(t, err)
				require.Equal(t, want.String(), string(b), "through node %d", i)
				c.Send([]byte("get " + strings.Join(keys, " ") + " split\r\n"))
				b, err = c.Read(proxytest.MemcacheRetrieval)
				require.NoError(t, err)
				if level == consistency.DCQuorum {
					require.Equal(t, strings.TrimSuffix(want.String(), "END\r\n")+"VALUE split 0 1\r\na\r\nEND\r\n", string(b), "through node %d", i)
				} else {
					require.Equal(t, "SERVER_ERROR Dynomite: Failed to achieve Quorum (DC_SAFE_QUORUM)\r\n", string(b), "through node %d", i)
				}
			}
			tc.Close()
		})
	}
}
