package proxytest

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/consistency"
	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/ring"
)

// Placement puts one node in the ring: its datacenter, rack and token.
type Placement struct {
	DC, Rack string
	Token    ring.Token
}

// Placements parses "dc/rack/token" strings; a malformed one fails the test.
func Placements(t testing.TB, specs ...string) []Placement {
	t.Helper()
	out := make([]Placement, 0, len(specs))
	for _, sp := range specs {
		f := strings.Split(sp, "/")
		if len(f) != 3 {
			t.Fatalf("placement %q: want dc/rack/token", sp)
		}
		tok, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil {
			t.Fatalf("placement %q: token: %v", sp, err)
		}
		out = append(out, Placement{DC: f[0], Rack: f[1], Token: ring.Token(tok)})
	}
	return out
}

// Grid places dcs datacenters (dc1, dc2, ...) of racks racks (r1, r2, ...)
// of perRack nodes each. The nodes of a rack split the token ring evenly:
// node k of n owns the tokens up to (k+1)·2³²/n − 1, so with one node per
// rack every rack holds a whole copy.
func Grid(dcs, racks, perRack int) []Placement {
	var out []Placement
	for d := 1; d <= dcs; d++ {
		for r := 1; r <= racks; r++ {
			for k := 0; k < perRack; k++ {
				tok := ring.Token((uint64(k+1)<<32)/uint64(perRack) - 1)
				out = append(out, Placement{DC: "dc" + strconv.Itoa(d), Rack: "r" + strconv.Itoa(r), Token: tok})
			}
		}
	}
	return out
}

// Datastore says what each node of a Cluster is in front of.
type Datastore int

const (
	// FakeDatastore is a Fake per node (the default): no external program.
	FakeDatastore Datastore = iota
	// RealDatastore is a redis-server or memcached process per node.
	RealDatastore
)

// Config describes a cluster for StartCluster.
type Config struct {
	// Nodes places each node (Grid, Placements).
	Nodes []Placement
	// Proto is the protocol of clients and datastores (zero: Redis).
	Proto msg.Proto
	// Datastore chooses fakes (default) or real processes.
	Datastore Datastore
	// ReadLevel and WriteLevel are every node's initial consistency levels
	// (zero: DC_ONE); a client changes its own with
	// DYNO_CONFIG:CONN_CONSISTENCY (Cluster.Client).
	ReadLevel, WriteLevel consistency.Level
	// Options, when set, adjusts the options of node i before it starts
	// (and again at every restart).
	Options func(i int, o *proxy.Options)
}

// ClusterNode is one node of a Cluster and its datastore.
type ClusterNode struct {
	Placement
	// DynAddr is the peer listener, fixed for the node's life so a restart
	// keeps its place in the others' rings.
	DynAddr string
	// Fake is the node's datastore under FakeDatastore, Process under
	// RealDatastore; DatastoreAddr is the address of either.
	Fake          *Fake
	Process       *Process
	DatastoreAddr string
	// Node is the running proxy (nil before the first Start).
	*Node
}

// Cluster is an in-process cluster on 127.0.0.1: one node per placement,
// each in front of a datastore of its own, every node knowing every other
// as a peer (the static dyn_seeds of upstream's conf/ examples).
type Cluster struct {
	Nodes []*ClusterNode

	t   testing.TB
	cfg Config
}

// StartCluster starts the datastores and nodes of cfg and waits until every
// node sees every peer up. Everything stops with the test; Close stops it
// sooner (before goleak.VerifyNone, say).
func StartCluster(t testing.TB, cfg Config) *Cluster {
	t.Helper()
	c := &Cluster{t: t, cfg: cfg}
	for _, p := range cfg.Nodes {
		c.Add(p)
	}
	for i := range c.Nodes {
		c.Start(i)
	}
	c.WaitAllUp()
	return c
}

// Add appends a node at p with a datastore of its own, without starting
// it, and returns its index. The running nodes do not learn of it until
// they are given PeersOf (UpdatePeers).
func (c *Cluster) Add(p Placement) int {
	c.t.Helper()
	n := &ClusterNode{Placement: p, DynAddr: FreeAddr(c.t)}
	switch {
	case c.cfg.Datastore == RealDatastore && c.cfg.Proto == msg.Memcache:
		n.Process = StartMemcached(c.t)
	case c.cfg.Datastore == RealDatastore:
		n.Process = StartRedis(c.t)
	default:
		n.Fake = StartFake(c.t, c.cfg.Proto)
	}
	n.DatastoreAddr = n.datastoreAddr()
	c.Nodes = append(c.Nodes, n)
	return len(c.Nodes) - 1
}

func (n *ClusterNode) datastoreAddr() string {
	if n.Fake != nil {
		return n.Fake.Addr
	}
	return n.Process.Addr
}

// PeersOf is the peer list of node i: every other node of the cluster.
func (c *Cluster) PeersOf(i int) []proxy.Peer {
	var peers []proxy.Peer
	for j, o := range c.Nodes {
		if j != i {
			peers = append(peers, proxy.Peer{Name: o.DynAddr, Addr: o.DynAddr, DC: o.DC, Rack: o.Rack, Tokens: []ring.Token{o.Token}})
		}
	}
	return peers
}

// Start starts node i (again, after Stop) and waits until it is connected
// to its datastore; not until its peers are up (WaitAllUp).
func (c *Cluster) Start(i int) {
	c.t.Helper()
	me := c.Nodes[i]
	o := NodeOptions(c.cfg.Proto, me.DatastoreAddr)
	o.Timeout = time.Second
	o.DynListen, o.DC, o.Rack, o.Tokens, o.Peers = me.DynAddr, me.DC, me.Rack, []ring.Token{me.Token}, c.PeersOf(i)
	o.LocalPeerConns, o.RemotePeerConns = 1, 1
	o.ReadLevel, o.WriteLevel = c.cfg.ReadLevel, c.cfg.WriteLevel
	if c.cfg.Options != nil {
		c.cfg.Options(i, &o)
	}
	me.Node = startServer(c.t, o)
}

// Stop stops node i: its listeners close and its peers see it down.
func (c *Cluster) Stop(i int) { c.Nodes[i].Stop() }

// Close stops every running node and every datastore. The test's cleanup
// does the same; Close is for a test that checks for leaked goroutines.
func (c *Cluster) Close() {
	for _, n := range c.Nodes {
		if n.Node != nil {
			n.Stop()
		}
	}
	for _, n := range c.Nodes {
		if n.Fake != nil {
			n.Fake.Stop()
		} else {
			n.Process.Stop()
		}
	}
}

// WaitAllUp waits until every running node sees every peer up.
func (c *Cluster) WaitAllUp() {
	c.t.Helper()
	Eventually(c.t, 15*time.Second, func() bool {
		for i := range c.Nodes {
			if !c.AllPeersUp(i) {
				return false
			}
		}
		return true
	}, "the cluster never fully connected")
}

// AllPeersUp reports whether node i sees every peer it knows up (true for
// a node not running).
func (c *Cluster) AllPeersUp(i int) bool {
	n := c.Nodes[i]
	if n.Node == nil || !n.Running() {
		return true
	}
	for _, p := range n.Server.Peers() {
		if !p.Up {
			return false
		}
	}
	return true
}

// Client dials node i; with a level ("DC_QUORUM"...) the connection is
// switched to it for reads and writes (DYNO_CONFIG:CONN_CONSISTENCY).
func (c *Cluster) Client(i int, level string) *Conn {
	c.t.Helper()
	cl := Dial(c.t, c.Nodes[i].Addr)
	if level != "" {
		if got := cl.Do("DYNO_CONFIG:CONN_CONSISTENCY", level); got != "+OK\r\n" {
			c.t.Fatalf("setting %s on node %d: %q", level, i, got)
		}
	}
	return cl
}

// Direct sends one RESP command to node i's datastore, behind the cluster's
// back, and returns the raw reply.
func (c *Cluster) Direct(i int, args ...string) string {
	c.t.Helper()
	cl := Dial(c.t, c.Nodes[i].DatastoreAddr)
	defer cl.Close()
	return cl.Do(args...)
}

// KeyOwnedBy returns a key (prefix + a number) that node from's ring places
// on node want within want's rack, so a test can aim a request; it fails
// when none of the first 100000 is.
func (c *Cluster) KeyOwnedBy(from, want int, prefix string) string {
	c.t.Helper()
	topo := c.Nodes[from].Server.Topology()
	target := c.Nodes[want]
	dc := topo.DCIndex(target.DC)
	rack := topo.RackIndex(dc, target.Rack)
	for i := 0; i < 100000; i++ {
		k := prefix + strconv.Itoa(i)
		if o := topo.Lookup([]byte(k), dc, rack); o != nil && o.Name == target.DynAddr {
			return k
		}
	}
	c.t.Fatalf("no key %s<n> is owned by node %d", prefix, want)
	return ""
}

// String lists the nodes, for failure messages.
func (c *Cluster) String() string {
	var sb strings.Builder
	for i, n := range c.Nodes {
		fmt.Fprintf(&sb, "%d:%s/%s/%d@%s ", i, n.DC, n.Rack, n.Token, n.DynAddr)
	}
	return strings.TrimSpace(sb.String())
}
