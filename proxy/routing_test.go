package proxy_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dynomite-go/dynomite/proxy/consistency"
	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/proxytest"
	"github.com/dynomite-go/dynomite/proxy/ring"
)

// Routing decided by the command tables' flags (msg.Flags) rather than by
// command names.

func TestClusterRefusesScriptsWhoseKeysSpanNodes(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	half := strconv.Itoa(1 << 31)
	tc := realCluster(t, []string{"dc1/r1/" + half, "dc1/r1/4294967295"}, nil) // EVAL needs Redis's scripting
	topo, err := ring.NewTopology("a", []ring.Node{
		{Name: "a", DC: "dc1", Rack: "r1", Tokens: []ring.Token{1 << 31}},
		{Name: "b", DC: "dc1", Rack: "r1", Tokens: []ring.Token{4294967295}},
	}, ring.Options{})
	require.NoError(t, err)
	byOwner := map[string][]string{}
	for i := 0; len(byOwner["a"]) < 2 || len(byOwner["b"]) < 1; i++ {
		k := "s" + strconv.Itoa(i)
		owner := topo.Lookup([]byte(k), 0, 0).Name
		byOwner[owner] = append(byOwner[owner], k)
	}
	a1, a2, b := byOwner["a"][0], byOwner["a"][1], byOwner["b"][0]
	c := tc.Client(0, "")
	const refused = "-ERR Dynomite: Keys in the script cannot span multiple nodes\r\n"
	for _, name := range []string{"EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO"} {
		script := "return 1"
		if strings.HasPrefix(name, "EVALSHA") {
			script = "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"
		}
		require.Equal(t, refused, c.Do(name, script, "2", a1, b), name)
	}
	require.Equal(t, ":1\r\n", c.Do("EVAL", "return 1", "2", a1, a2), "keys on one node run")
	require.Equal(t, ":1\r\n", c.Do("EVAL_RO", "return 1", "2", a1, a2), "keys on one node run")
	tc.Close()
}

// A gat with several keys sets their expiry like a gat with one key: a
// write, so that every rack's copy gets the same expiry, also at DC_ONE
// (where a read only asks the local rack).
func TestMemcacheMultiKeyGatIsAWrite(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	tc := proxytest.StartCluster(t, proxytest.Config{Nodes: proxytest.Grid(1, 3, 1), Proto: msg.Memcache, ReadLevel: consistency.DCOne, WriteLevel: consistency.DCOne})
	direct := func(i int, req string, parse func([]byte) (int, error)) (string, error) {
		d := proxytest.Dial(t, tc.Nodes[i].DatastoreAddr)
		defer d.Close()
		d.Send([]byte(req))
		b, err := d.Read(parse)
		return string(b), err
	}
	for i := range tc.Nodes {
		for _, k := range []string{"ga", "gb"} {
			got, err := direct(i, "set "+k+" 0 0 1\r\nv\r\n", proxytest.MemcacheLine)
			require.NoError(t, err)
			require.Equal(t, "STORED\r\n", got)
		}
	}
	// an expiry in the past: each rack's copies are gone once its gat ran
	c := proxytest.Dial(t, tc.Nodes[0].Addr)
	c.Send([]byte("gat -1 ga gb\r\n"))
	_, err := c.Read(proxytest.MemcacheRetrieval)
	require.NoError(t, err)
	for i := range tc.Nodes {
		require.Eventually(t, func() bool {
			got, err := direct(i, "get ga gb\r\n", proxytest.MemcacheRetrieval)
			return err == nil && got == "END\r\n"
		}, 10*time.Second, 10*time.Millisecond, "rack %d's copies got the new expiry", i)
	}
	tc.Close()
}
