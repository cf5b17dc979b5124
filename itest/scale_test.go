package itest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// TestScaleOutAndIn: one datacenter of three racks, one node each, found
// through dns_srv_provider (the dynomite-local/dns container, as in
// TestDiscovery), under DC_QUORUM load: writers write fresh keys through the
// nodes and remember every acknowledged write, readers read acknowledged
// keys back at DC_QUORUM all along.
//
// Scale out: a second node per rack with the token that splits the rack in
// two (the second of `dynomite tokens 2`), started with its own Redis;
// POST /scale {"join": [...]} on rack 1's node; the new nodes added to the
// DNS records; GET /scale polled until the move is done. Scale in: POST
// /scale {"leave": [...]} on rack 2's node, done, the nodes removed from the
// records and stopped. After each:
//   - no read during the whole run returned an acknowledged key as missing
//     or with another value;
//   - every acknowledged key reads back at DC_QUORUM;
//   - every acknowledged key is in its owner's Redis in every rack, the
//     owner computed from the tokens (hash: crc32a, which is
//     hash/crc32.ChecksumIEEE, checked against the nodes' GET /owner);
//   - no Redis of the layout holds a key outside its node's ranges: the
//     old owners were cleaned.
//
// Keys moved, the time of each copy and cleanup, and the reads and writes
// made while data moved are reported.
func TestScaleOutAndIn(t *testing.T) {
	t.Parallel()
	start := time.Now()
	e := newEnv(t, "scale")
	ctx := context.Background()
	n := e.Network("net", true)

	// Redis of every node, the DNS server.
	var storeSpecs []Spec
	for _, role := range []string{"redis-r1", "redis-r2", "redis-r3", "redis-r1b", "redis-r2b", "redis-r3b"} {
		storeSpecs = append(storeSpecs, redisSpec(role, Attach{Net: n, Aliases: []string{role}}))
	}
	members := make([]*scaleMember, 0, 6)
	for i := range 6 {
		rack, host, tok, suffix := i%3+1, nodeIPBase+i%3+1, scaleOldToken, ""
		if i >= 3 {
			host, tok, suffix = scaleNewIPBase+rack, scaleNewToken, "b"
		}
		members = append(members, &scaleMember{rack: rack, host: host, token: tok,
			role: fmt.Sprintf("dyn-r%d%s", rack, suffix), storeRole: fmt.Sprintf("redis-r%d%s", rack, suffix),
			name: fmt.Sprintf("%s:8101", n.IP(host))})
	}
	old, added := members[:3], members[3:]
	dnsSpec := Spec{Role: "dns", Image: image("dns"), Nets: []Attach{{Net: n, Aliases: []string{"dns"}, IP: n.IP(dnsIPHost)}},
		Ports: []string{"53/tcp"},
		Files: []testcontainers.ContainerFile{{Reader: bytes.NewReader(scaleRecords(n, old)), ContainerFilePath: "/etc/dnsmasq.d/itest.conf", FileMode: 0o644}},
		Wait:  wait.ForListeningPort("53/tcp").WithStartupTimeout(30 * time.Second)}
	ctrs := e.startAll(append(storeSpecs, dnsSpec)...)
	for i, m := range members {
		m.store = ctrs[i]
	}
	dns := ctrs[6]
	publish := func(ms []*scaleMember) {
		// dnsmasq reads srv-host records at start only; the nodes keep
		// their view while it restarts.
		dns.Copy("/etc/dnsmasq.d/itest.conf", scaleRecords(n, ms), 0o644)
		dns.Stop(time.Second)
		dns.Restart()
	}
	e.Step("6 Redis and the DNS server up")

	for i, c := range e.startAll(scaleNodeSpec(n, old[0]), scaleNodeSpec(n, old[1]), scaleNodeSpec(n, old[2])) {
		old[i].node = asNode(c, scaleConf(n, old[i]))
	}
	allCtrs := func() []*Ctr {
		out := []*Ctr{dns}
		for _, m := range members {
			if m.node != nil {
				out = append(out, m.node.Ctr)
			}
		}
		return out
	}
	oldNodes := nodesOf(old)
	waitReplicated(t, oldNodes, storesOf(old), 2*time.Minute)
	e.Step("3 racks found each other through DNS and replicate")
	checkRingNames(t, old)
	checkTokens(t, old[0].node, old)

	// Keys from before the move, then clients throughout.
	tr := newScaleTraffic(t, "3 nodes", oldNodes)
	tr.preload(ctx, scalePreload)
	e.Step("%d keys written at DC_QUORUM", scalePreload)
	tr.start(3, 2)
	stopped := false
	defer func() {
		if !stopped {
			tr.Stop()
		}
	}()
	tr.waitOps(200)

	// Scale out.
	e.Step("starting the new nodes %s", names(added))
	for i, c := range e.startAll(scaleNodeSpec(n, added[0]), scaleNodeSpec(n, added[1]), scaleNodeSpec(n, added[2])) {
		added[i].node = asNode(c, scaleConf(n, added[i]))
	}
	tr.SetPhase("scale out")
	outStart := time.Now()
	id := postScale(t, old[0].node, "join", names(added))
	e.Step("POST /scale join on %s: move %s; publishing the new nodes", old[0].role, id)
	publish(members)
	out := waitScale(t, e, old[0].node, id, allCtrs)
	outTook := time.Since(outStart)
	outReads, outWrites := tr.phaseOps("scale out")
	e.Step("scale out done in %s: %s", outTook.Round(100*time.Millisecond), out.transfers())
	if err := waitRing(members, members, 2, 2*time.Minute); err != nil {
		t.Fatalf("after the scale out: %v\n%s", err, logsOf(30, allCtrs()...))
	}
	checkTokens(t, added[0].node, members)
	tr.SetPhase("6 nodes")
	tr.setEntry(nodesOf(members))
	tr.waitOps(300)
	outLayout := checkLayout(t, e, "after the scale out", members, nil, tr)
	outJobs := jobsOf(t, members, outStart)

	// Scale in: clients leave the nodes that go first, as they would
	// once told to.
	tr.setEntry(oldNodes)
	tr.SetPhase("scale in")
	inStart := time.Now()
	id = postScale(t, old[1].node, "leave", names(added))
	e.Step("POST /scale leave on %s: move %s", old[1].role, id)
	in := waitScale(t, e, old[1].node, id, allCtrs)
	inTook := time.Since(inStart)
	inReads, inWrites := tr.phaseOps("scale in")
	e.Step("scale in done in %s: %s; removing the nodes from DNS", inTook.Round(100*time.Millisecond), in.transfers())
	publish(old)
	if err := waitRing(old, old, 1, 2*time.Minute); err != nil {
		t.Fatalf("after the scale in: %v\n%s", err, logsOf(30, allCtrs()...))
	}
	inJobs := jobsOf(t, members, inStart)
	for _, m := range added {
		m.node.Stop(10 * time.Second)
	}
	e.Step("the 3 added nodes stopped")
	tr.SetPhase("3 nodes again")
	tr.waitOps(300)
	inLayout := checkLayout(t, e, "after the scale in", old, added, tr)
	tr.Stop()
	stopped = true

	t.Logf("what the clients saw (phase: operation counts):\n%s", tr.report())
	if bad := tr.bad(); len(bad) > 0 {
		t.Errorf("reads that missed an acknowledged key or read another value: %d, e.g.\n  %s", tr.missed.Load(), strings.Join(bad, "\n  "))
	}
	if errs := tr.opCounts("", "").Errs; len(errs) > 0 {
		t.Errorf("failed requests: %s", fmtErrs(errs))
	}
	t.Logf("copies and cleanups of the scale out:\n%s", outJobs)
	t.Logf("copies and cleanups of the scale in:\n%s", inJobs)
	if t.Failed() {
		t.Logf("logs:\n%s", logsOf(40, allCtrs()...))
	}
	all := tr.opCounts("", "")
	summary(t, "scale", start,
		"1 DC, 3 racks, dns_srv; %d keys, then %d requests at DC_QUORUM (%d acknowledged writes) through the nodes; "+
			"scale out to 2 nodes per rack in %s (%d keys moved; %d reads and %d writes meanwhile; %s); "+
			"scale in to 1 in %s (%d keys moved; %d reads and %d writes meanwhile; %s); "+
			"%d reads missed an acknowledged key; %s",
		scalePreload, all.Total(), len(tr.ackedSnapshot()),
		outTook.Round(100*time.Millisecond), out.keys(), outReads, outWrites, outLayout,
		inTook.Round(100*time.Millisecond), in.keys(), inReads, inWrites, inLayout,
		tr.missed.Load(), verdict(t))
}

// The layout: rack N's first node at .20+N with token 0 (`dynomite tokens
// 1`), its second at .30+N with token 2^31 (node 2 of `dynomite tokens 2`),
// which takes (0, 2^31] of the rack's ring.
const (
	scaleOldToken   = "0"
	scaleNewToken   = "2147483648"
	scaleNewIPBase  = 30
	scalePreload    = 6000
	scaleAdminToken = "itest-scale"
	// scaleKeysPerSec paces the copies and cleanups (stream_keys_per_sec),
	// so that they take seconds and the clients' requests meet them.
	scaleKeysPerSec = "3000"
)

// scaleMember is one node of the test and its Redis.
type scaleMember struct {
	rack            int
	host            int    // last byte of its address
	token           string // decimal
	role, storeRole string
	name            string // its name in the ring: address:8101
	node            *Node
	store           *Ctr
}

func (m *scaleMember) tok() uint32 {
	var v uint32
	fmt.Sscan(m.token, &v)
	return v
}

func names(ms []*scaleMember) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.name
	}
	return out
}

func nodesOf(ms []*scaleMember) []*Node {
	out := make([]*Node, len(ms))
	for i, m := range ms {
		out[i] = m.node
	}
	return out
}

func storesOf(ms []*scaleMember) []*Ctr {
	out := make([]*Ctr, len(ms))
	for i, m := range ms {
		out[i] = m.store
	}
	return out
}

// scaleRecords are dnsmasq's records for ms: the SRV record, and an
// address and a TXT record (dc, rack, tokens) per node.
func scaleRecords(n *Net, ms []*scaleMember) []byte {
	var b strings.Builder
	for _, m := range ms {
		host := m.role + ".itest.local"
		fmt.Fprintf(&b, "srv-host=%s,%s,8101,0,0\n", dnsSRVName, host)
		fmt.Fprintf(&b, "host-record=%s,%s\n", host, n.IP(m.host))
		fmt.Fprintf(&b, "txt-record=%s,\"dc=dc1\",\"rack=rack%d\",\"tokens=%s\"\n", host, m.rack, m.token)
	}
	return []byte(b.String())
}

// scaleConf is m's configuration: peers from DNS, DC_QUORUM, hash crc32a
// (the suite computes owners with hash/crc32), hints on, the admin token
// the suite calls POST /scale with, and paced data movements.
func scaleConf(n *Net, m *scaleMember) NodeConf {
	extra := [][2]string{{"gos_interval", "1000"}, {"dyn_seed_provider", "dns_srv_provider"}, {"dns_srv_name", dnsSRVName},
		{"dns_srv_resolver", n.IP(dnsIPHost).String() + ":53"}, {"dns_srv_timeout", "1000"},
		{"hash", "crc32a"}, {"stats_admin_token", scaleAdminToken}, {"stream_keys_per_sec", scaleKeysPerSec}}
	return NodeConf{DC: "dc1", Rack: fmt.Sprintf("rack%d", m.rack), Token: m.token, Server: m.storeRole + ":6379:1",
		Read: "DC_QUORUM", Write: "DC_QUORUM", Extra: append(extra, hintsExtra...)}
}

// scaleNodeSpec is m's container. Its dyn_listen is its address, not
// 0.0.0.0: a node names itself in its ring by its dyn_listen, its peers by
// the address the seed provider gives, and a move names nodes as the ring
// does; with 0.0.0.0 a joining node would not find itself in the move.
func scaleNodeSpec(n *Net, m *scaleMember) Spec {
	spec := nodeSpec(m.role, scaleConf(n, m), nil, Attach{Net: n, Aliases: []string{m.role}, IP: n.IP(m.host)})
	yaml := scaleConf(n, m).YAML()
	if !strings.Contains(yaml, "dyn_listen: 0.0.0.0:8101\n") {
		panic("the node configuration has no dyn_listen: 0.0.0.0:8101 to replace:\n" + yaml)
	}
	spec.Files[0].Reader = strings.NewReader(strings.Replace(yaml, "dyn_listen: 0.0.0.0:8101\n", "dyn_listen: "+m.name+"\n", 1))
	return spec
}

// ---- the nodes' HTTP API -----------------------------------------------

// statsCall sends a request to n's stats listener with the suite's admin
// token and decodes a JSON answer into out (when not nil).
func statsCall(n *Node, method, path string, in, out any) (int, []byte, error) {
	a, err := n.HostAddr("22222/tcp")
	if err != nil {
		return 0, nil, err
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+a+path, body)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+scaleAdminToken)
	hc := http.Client{Timeout: 10 * time.Second}
	r, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return r.StatusCode, b, err
	}
	if out != nil && r.StatusCode/100 == 2 {
		if err := json.Unmarshal(b, out); err != nil {
			return r.StatusCode, b, fmt.Errorf("%s %s: %v: %q", method, path, err, b)
		}
	}
	return r.StatusCode, b, nil
}

// scaleStatus is GET /scale.
type scaleStatus struct {
	ID        json.RawMessage `json:"id"`
	Join      []string        `json:"join"`
	Leave     []string        `json:"leave"`
	Phase     string          `json:"phase"`
	State     string          `json:"state"`
	Step      string          `json:"step"`
	Error     string          `json:"error"`
	Transfers []struct {
		Rack   string          `json:"rack"`
		From   string          `json:"from"`
		To     string          `json:"to"`
		Ranges json.RawMessage `json:"ranges"`
		Keys   int64           `json:"keys"`
		Bytes  int64           `json:"bytes"`
	} `json:"transfers"`
}

func (s scaleStatus) keys() int64 {
	var k int64
	for _, x := range s.Transfers {
		k += x.Keys
	}
	return k
}

func (s scaleStatus) transfers() string {
	var parts []string
	for _, x := range s.Transfers {
		parts = append(parts, fmt.Sprintf("%s %s -> %s %s: %d keys, %d bytes", x.Rack, x.From, x.To, x.Ranges, x.Keys, x.Bytes))
	}
	return fmt.Sprintf("%d keys moved (%s)", s.keys(), strings.Join(parts, "; "))
}

// postScale starts a move on n (POST /scale) and returns its id.
func postScale(t *testing.T, n *Node, op string, nodes []string) string {
	t.Helper()
	var res struct {
		ID json.RawMessage `json:"id"`
	}
	code, body, err := statsCall(n, http.MethodPost, "/scale", map[string][]string{op: nodes}, &res)
	switch {
	case err != nil:
		t.Fatalf("POST /scale %s %v on %s: %v", op, nodes, n.Role, err)
	case code == http.StatusNotFound || code == http.StatusMethodNotAllowed:
		t.Fatalf("POST /scale on %s answers %d %q: the binary under test (%s) has no scale endpoint; rebuild the image (make images) or set ITEST_DYNOMITE_BIN",
			n.Role, code, body, binaryUnderTest())
	case code != http.StatusAccepted:
		t.Fatalf("POST /scale %s %v on %s: %d %s", op, nodes, n.Role, code, body)
	}
	return string(res.ID)
}

// waitScale polls GET /scale on n until move id is no longer running
// (generous bound: the copies are paced) and requires it done. Each new
// phase and step is logged.
func waitScale(t *testing.T, e *Env, n *Node, id string, ctrs func() []*Ctr) scaleStatus {
	t.Helper()
	var st scaleStatus
	last := ""
	err := eventually(10*time.Minute, 500*time.Millisecond, func() error {
		code, body, err := statsCall(n, http.MethodGet, "/scale", nil, &st)
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("GET /scale on %s: %d %q %v", n.Role, code, body, err)
		}
		if string(st.ID) != id {
			return fmt.Errorf("GET /scale on %s shows move %s, not %s", n.Role, st.ID, id)
		}
		if now := st.Phase + " / " + st.Step; now != last {
			e.Step("move %s: %s: phase %s, %s", id, st.State, st.Phase, st.Step)
			last = now
		}
		if st.State == "running" {
			return fmt.Errorf("move %s still running: phase %s, %s", id, st.Phase, st.Step)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, logsOf(40, ctrs()...))
	}
	if st.State != "done" || st.Phase != "done" {
		t.Fatalf("move %s ended %s in phase %s: %s\n%s", id, st.State, st.Phase, st.Error, logsOf(40, ctrs()...))
	}
	return st
}

// ringJSON is the part of GET /ring the suite reads.
type ringJSON struct {
	Datacenters []struct {
		Name  string `json:"name"`
		Racks []struct {
			Name  string `json:"name"`
			Nodes []struct {
				Name      string   `json:"name"`
				Tokens    []uint32 `json:"tokens"`
				RingState string   `json:"ring_state"`
				Local     bool     `json:"local"`
			} `json:"nodes"`
		} `json:"racks"`
	} `json:"datacenters"`
}

// ringOf is m's ring as rack -> the names of its nodes, sorted (the local
// node by the name the others give it, which the suite knows), and the
// nodes' part in a move (ring_state: normal, joining, leaving) by name.
func ringOf(m *scaleMember) (racks map[string][]string, states map[string]string, err error) {
	var r ringJSON
	code, body, err := statsCall(m.node, http.MethodGet, "/ring", nil, &r)
	if err != nil || code != http.StatusOK {
		return nil, nil, fmt.Errorf("GET /ring on %s: %d %q %v", m.role, code, body, err)
	}
	racks, states = map[string][]string{}, map[string]string{}
	for _, dc := range r.Datacenters {
		for _, rk := range dc.Racks {
			for _, nd := range rk.Nodes {
				name := nd.Name
				if nd.Local {
					name = m.name
				}
				racks[rk.Name] = append(racks[rk.Name], name)
				states[name] = nd.RingState
			}
			sort.Strings(racks[rk.Name])
		}
	}
	return racks, states, nil
}

// checkRingNames requires the names the nodes give each other to be
// address:8101, which the suite uses in POST /scale.
func checkRingNames(t *testing.T, ms []*scaleMember) {
	t.Helper()
	r, _, err := ringOf(ms[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[1:] {
		if rk := fmt.Sprintf("rack%d", m.rack); !slices.Contains(r[rk], m.name) {
			t.Fatalf("%s's ring names %s's node %v, not %s: the suite names nodes as the seed provider does, address:port", ms[0].role, rk, r[rk], m.name)
		}
	}
}

// waitRing waits until every node of on has the nodes of layout, perRack
// in each rack, in its ring, each in ring state normal.
func waitRing(on, layout []*scaleMember, perRack int, within time.Duration) error {
	want := map[string][]string{}
	for _, m := range layout {
		rk := fmt.Sprintf("rack%d", m.rack)
		want[rk] = append(want[rk], m.name)
	}
	for rk := range want {
		sort.Strings(want[rk])
		if len(want[rk]) != perRack {
			return fmt.Errorf("the suite's layout has %d nodes in %s, want %d", len(want[rk]), rk, perRack)
		}
	}
	for _, m := range on {
		err := eventually(within, 300*time.Millisecond, func() error {
			got, states, err := ringOf(m)
			if err != nil {
				return err
			}
			for rk, w := range want {
				if !slices.Equal(got[rk], w) {
					return fmt.Errorf("%s's ring has %v in %s, want %v", m.role, got[rk], rk, w)
				}
				for _, name := range w {
					if st := states[name]; st != "normal" {
						return fmt.Errorf("%s's ring has %s in %s %q, want normal", m.role, name, rk, st)
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// checkTokens asks n's GET /owner for sample keys and requires the token
// and owners the suite computes (keyToken, ownerIn) for layout.
func checkTokens(t *testing.T, n *Node, layout []*scaleMember) {
	t.Helper()
	for i := range 20 {
		key := fmt.Sprintf("owner-probe:%d", i)
		var o struct {
			Token  uint32 `json:"token"`
			Hash   string `json:"hash"`
			Owners []struct {
				Rack string `json:"rack"`
				Node string `json:"node"`
			} `json:"owners"`
		}
		code, body, err := statsCall(n, http.MethodGet, "/owner?key="+key, nil, &o)
		if err != nil || code != http.StatusOK {
			t.Fatalf("GET /owner on %s: %d %q %v", n.Role, code, body, err)
		}
		if o.Token != keyToken(key) {
			t.Fatalf("%s: %q has token %d (hash %s), the suite computes %d with crc32a", n.Role, key, o.Token, o.Hash, keyToken(key))
		}
		for _, p := range o.Owners {
			var rack int
			fmt.Sscanf(p.Rack, "rack%d", &rack)
			want := ownerIn(layout, rack, o.Token)
			// the local node may name itself by its listener
			if p.Node != want.name && !(want.node == n && strings.HasSuffix(p.Node, ":8101")) {
				t.Fatalf("%s: the owner of %q (token %d) in %s is %s, the suite computes %s", n.Role, key, o.Token, p.Rack, p.Node, want.name)
			}
		}
	}
}

// keyToken is a key's place on the ring with hash: crc32a.
func keyToken(key string) uint32 { return crc32.ChecksumIEEE([]byte(key)) }

// ownerIn is the node of rack owning tok in layout: the first token at or
// above tok, else the lowest (upstream's vnode_dispatch, proxy/ring).
func ownerIn(layout []*scaleMember, rack int, tok uint32) *scaleMember {
	var owner, lowest *scaleMember
	for _, m := range layout {
		if m.rack != rack {
			continue
		}
		if lowest == nil || m.tok() < lowest.tok() {
			lowest = m
		}
		if m.tok() >= tok && (owner == nil || m.tok() < owner.tok()) {
			owner = m
		}
	}
	if owner == nil {
		return lowest
	}
	return owner
}

// checkLayout checks layout once a move is done (clients still running):
// every write acknowledged so far reads back at DC_QUORUM through the
// layout's nodes; each is in its owner's Redis in every rack; no Redis of
// the layout holds a key its node does not own (the cleanup may still
// run: waited for). gone are nodes that left: what their Redis still holds
// is reported. It returns a short account for the summary.
func checkLayout(t *testing.T, e *Env, label string, layout, gone []*scaleMember, tr *scaleTraffic) string {
	t.Helper()
	ctx := context.Background()
	acked := tr.ackedSnapshot()
	failed := false
	fail := func(format string, a ...any) {
		t.Helper()
		failed = true
		t.Errorf(format, a...)
	}

	// Read back at DC_QUORUM, the layout's nodes in turn.
	var unreadable []string
	nodes := nodesOf(layout)
	clients := make([]*redis.Client, len(nodes))
	for i, nd := range nodes {
		clients[i] = nodeClient(nd, "DC_QUORUM")
		defer clients[i].Close()
	}
	for i := 0; i < len(acked); i += 200 {
		batch := acked[i:min(i+200, len(acked))]
		via := i / 200 % len(nodes)
		p := clients[via].Pipeline()
		cmds := make([]*redis.StringCmd, len(batch))
		for j, w := range batch {
			cmds[j] = p.Get(ctx, w.Key)
		}
		_, _ = p.Exec(ctx)
		for j, c := range cmds {
			if v, err := c.Result(); err != nil || v != batch[j].Val {
				unreadable = append(unreadable, fmt.Sprintf("%s through %s: %q %v", batch[j].Key, nodes[via].Role, v, err))
			}
		}
	}
	if len(unreadable) > 0 {
		fail("%s: %d of %d acknowledged keys do not read back at DC_QUORUM, e.g. %v", label, len(unreadable), len(acked), unreadable[:min(5, len(unreadable))])
	}

	// Each acknowledged key in its owner's Redis, in every rack. The
	// last writes' third copies may still be on their way.
	owned := map[*scaleMember][]Write{}
	for _, w := range acked {
		tok := keyToken(w.Key)
		for rack := 1; rack <= 3; rack++ {
			m := ownerIn(layout, rack, tok)
			owned[m] = append(owned[m], w)
		}
	}
	for _, m := range layout {
		sc := storeClient(m.store)
		err := eventually(20*time.Second, 500*time.Millisecond, func() error {
			missing, wrong, err := missingIn(ctx, sc, owned[m])
			if err != nil {
				return fmt.Errorf("reading %s: %v", m.storeRole, err)
			}
			if len(missing)+len(wrong) > 0 {
				return fmt.Errorf("%s (%s's Redis) lacks %d of the %d acknowledged keys its node owns, holds %d with another value: %s",
					m.storeRole, m.role, len(missing), len(owned[m]), len(wrong), keyRanges(append(missing, wrong...)))
			}
			return nil
		})
		sc.Close()
		if err != nil {
			fail("%s: %v", label, err)
		}
	}

	// Nothing outside a node's ranges, once the cleanups are through.
	var held []string
	t0 := time.Now()
	err := eventually(5*time.Minute, 2*time.Second, func() error {
		held = held[:0]
		var foreign []string
		for _, m := range layout {
			total, outside, sample, err := scanOwnership(ctx, m, layout)
			if err != nil {
				return err
			}
			held = append(held, fmt.Sprintf("%s %d", m.storeRole, total))
			if outside > 0 {
				foreign = append(foreign, fmt.Sprintf("%s holds %d keys %s does not own (e.g. %v)", m.storeRole, outside, m.role, sample))
			}
		}
		if len(foreign) > 0 {
			return errors.New(strings.Join(foreign, "; "))
		}
		return nil
	})
	if err != nil {
		fail("%s, %s later: %v", label, time.Since(t0).Round(time.Second), err)
	}
	outcome := "read back at DC_QUORUM and in their owners' Redis, no key outside its node's ranges"
	if failed {
		outcome = "checked (failures above)"
	}
	e.Step("%s: %d acknowledged keys %s; keys held: %s (ranges checked in %s)",
		label, len(acked), outcome, strings.Join(held, ", "), time.Since(t0).Round(100*time.Millisecond))
	var left []string
	for _, m := range gone {
		sc := storeClient(m.store)
		k, err := sc.DBSize(ctx).Result()
		sc.Close()
		if err != nil {
			t.Errorf("reading %s: %v", m.storeRole, err)
		}
		left = append(left, fmt.Sprintf("%s %d", m.storeRole, k))
	}
	if len(left) > 0 {
		e.Step("%s: the Redis of the nodes that left hold: %s", label, strings.Join(left, ", "))
		return fmt.Sprintf("keys held %s, left behind %s", strings.Join(held, ", "), strings.Join(left, ", "))
	}
	return "keys held " + strings.Join(held, ", ")
}

// scanOwnership reads every key of m's Redis (SCAN) and counts those whose
// owner in m's rack is not m.
func scanOwnership(ctx context.Context, m *scaleMember, layout []*scaleMember) (total, outside int, sample []string, err error) {
	sc := storeClient(m.store)
	defer sc.Close()
	iter := sc.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		total++
		if ownerIn(layout, m.rack, keyToken(k)) != m {
			outside++
			if len(sample) < 3 {
				sample = append(sample, k)
			}
		}
	}
	if err := iter.Err(); err != nil {
		return 0, 0, nil, fmt.Errorf("scanning %s: %v", m.storeRole, err)
	}
	return total, outside, sample, nil
}

// jobsOf lists the data-movement jobs of kind scale and cleanup (GET
// /streams) started since then on every running node: kind, node, name,
// state, keys and time.
func jobsOf(t *testing.T, ms []*scaleMember, since time.Time) string {
	t.Helper()
	var b strings.Builder
	for _, m := range ms {
		if ok, _ := m.node.Running(); !ok {
			continue
		}
		var jobs []struct {
			ID          int64      `json:"id"`
			Kind        string     `json:"kind"`
			Name        string     `json:"name"`
			State       string     `json:"state"`
			Started     time.Time  `json:"started"`
			Ended       *time.Time `json:"ended"`
			KeysScanned int64      `json:"keys_scanned"`
			KeysCopied  int64      `json:"keys_copied"`
			KeysSkipped int64      `json:"keys_skipped"`
			Errors      int64      `json:"errors"`
			LastError   string     `json:"last_error"`
		}
		code, body, err := statsCall(m.node, http.MethodGet, "/streams", nil, &jobs)
		if err != nil || code != http.StatusOK {
			fmt.Fprintf(&b, "  %s: GET /streams: %d %q %v\n", m.role, code, body, err)
			continue
		}
		for _, j := range jobs {
			if j.Kind != "scale" && j.Kind != "cleanup" || j.Started.Before(since) {
				continue
			}
			took := "running"
			if j.Ended != nil {
				took = j.Ended.Sub(j.Started).Round(10 * time.Millisecond).String()
			}
			fmt.Fprintf(&b, "  %s job %d %s %s: %s in %s, %d keys scanned, %d copied (or deleted), %d skipped, %d errors %s\n",
				m.role, j.ID, j.Kind, j.Name, j.State, took, j.KeysScanned, j.KeysCopied, j.KeysSkipped, j.Errors, j.LastError)
		}
	}
	return b.String()
}

// ---- clients -------------------------------------------------------------

// scaleTraffic is the suite's clients: writers SET fresh keys at
// DC_QUORUM through the entry nodes in turn and keep every acknowledged
// write; readers GET acknowledged keys (any of them, old or just written)
// at DC_QUORUM through the entry nodes in turn and count any missing or
// other value. The embedded Load keeps the phases and the counts (per
// phase, client and operation) and stops the clients.
type scaleTraffic struct {
	*Load
	entry atomic.Pointer[[]*Node]

	ackMu  sync.Mutex
	acked  []Write
	bads   []string
	missed atomic.Int64
}

func newScaleTraffic(t *testing.T, phase string, entry []*Node) *scaleTraffic {
	tr := &scaleTraffic{Load: newLoad(t, phase)}
	tr.setEntry(entry)
	return tr
}

// setEntry sets the nodes the clients send their next requests through.
func (tr *scaleTraffic) setEntry(ns []*Node) { tr.entry.Store(&ns) }

// preload writes n keys through the entry nodes (pipelines of 500 at
// DC_QUORUM) before the clients start.
func (tr *scaleTraffic) preload(ctx context.Context, n int) {
	tr.t.Helper()
	entry := *tr.entry.Load()
	for i := 0; i < n; i += 500 {
		nd := entry[i/500%len(entry)]
		c := nodeClient(nd, "DC_QUORUM")
		p := c.Pipeline()
		var ws []Write
		for j := i; j < min(i+500, n); j++ {
			w := Write{Key: fmt.Sprintf("scale:pre:%06d", j), Val: fmt.Sprintf("p%d", j), Worker: "pre", Phase: "preload", Seq: j}
			p.Set(ctx, w.Key, w.Val, 0)
			ws = append(ws, w)
		}
		_, err := p.Exec(ctx)
		c.Close()
		if err != nil {
			tr.t.Fatalf("preloading through %s: %v", nd.Role, err)
		}
		tr.ackMu.Lock()
		tr.acked = append(tr.acked, ws...)
		tr.ackMu.Unlock()
	}
}

// start runs the writers and readers until Stop.
func (tr *scaleTraffic) start(writers, readers int) {
	for i := range writers {
		tr.wg.Go(func() { tr.write(fmt.Sprintf("w%d", i)) })
	}
	for i := range readers {
		tr.wg.Go(func() { tr.read(fmt.Sprintf("r%d", i), uint64(i)) })
	}
}

// clientsOf gives a goroutine its own client of each node, made on first
// use; closeAll closes them.
type clientsOf map[*Node]*redis.Client

func (cs clientsOf) of(n *Node) *redis.Client {
	if cs[n] == nil {
		cs[n] = nodeClient(n, "DC_QUORUM")
	}
	return cs[n]
}

func (cs clientsOf) closeAll() {
	for _, c := range cs {
		_ = c.Close()
	}
}

// pause waits d, or returns false when the clients stop.
func (tr *scaleTraffic) pause(d time.Duration) bool {
	select {
	case <-tr.stop:
		return false
	case <-time.After(d):
		return true
	}
}

func (tr *scaleTraffic) write(name string) {
	ctx := context.Background()
	cs := clientsOf{}
	defer cs.closeAll()
	for seq := 1; ; seq++ {
		phase, entry := *tr.phase.Load(), *tr.entry.Load()
		nd := entry[seq%len(entry)]
		w := Write{Key: fmt.Sprintf("scale:%s:%07d", name, seq), Val: fmt.Sprintf("v%d-%d", seq, rand.IntN(1e6)), Worker: name, Phase: phase, Seq: seq}
		t0 := time.Now()
		err := cs.of(nd).Set(ctx, w.Key, w.Val, 0).Err()
		tr.ops.Add(1)
		if err != nil {
			tr.counter(phase, name, "set").failIn(errText(err), time.Since(t0))
		} else {
			tr.counter(phase, name, "set").okIn(time.Since(t0))
			tr.ackMu.Lock()
			tr.acked = append(tr.acked, w)
			tr.ackMu.Unlock()
		}
		if !tr.pause(5 * time.Millisecond) {
			return
		}
	}
}

func (tr *scaleTraffic) read(name string, seed uint64) {
	ctx := context.Background()
	cs := clientsOf{}
	defer cs.closeAll()
	rnd := rand.New(rand.NewPCG(seed, 0x5ca1e))
	for i := 0; ; i++ {
		phase, entry := *tr.phase.Load(), *tr.entry.Load()
		nd := entry[i%len(entry)]
		tr.ackMu.Lock()
		w := tr.acked[rnd.IntN(len(tr.acked))]
		tr.ackMu.Unlock()
		t0 := time.Now()
		got, err := cs.of(nd).Get(ctx, w.Key).Result()
		tr.ops.Add(1)
		c := tr.counter(phase, name, "get")
		switch {
		case errors.Is(err, redis.Nil):
			c.failIn("missing: an acknowledged key read as absent", time.Since(t0))
			tr.noteBad(fmt.Sprintf("%s: GET %s (written %s) through %s: missing", phase, w.Key, w.Phase, nd.Role))
		case err != nil:
			c.failIn(errText(err), time.Since(t0))
		case got != w.Val:
			c.failIn("wrong value", time.Since(t0))
			tr.noteBad(fmt.Sprintf("%s: GET %s (written %s) through %s: %q, want %q", phase, w.Key, w.Phase, nd.Role, got, w.Val))
		default:
			c.okIn(time.Since(t0))
		}
		if !tr.pause(2 * time.Millisecond) {
			return
		}
	}
}

func (tr *scaleTraffic) noteBad(s string) {
	tr.missed.Add(1)
	tr.ackMu.Lock()
	defer tr.ackMu.Unlock()
	if len(tr.bads) < 10 {
		tr.bads = append(tr.bads, s)
	}
}

func (tr *scaleTraffic) bad() []string {
	tr.ackMu.Lock()
	defer tr.ackMu.Unlock()
	return slices.Clone(tr.bads)
}

// waitOps waits until the clients made n more requests (they run at the
// machine's pace).
func (tr *scaleTraffic) waitOps(n int64) {
	tr.t.Helper()
	from := tr.ops.Load()
	if err := eventually(2*time.Minute, 100*time.Millisecond, func() error {
		if got := tr.ops.Load() - from; got < n {
			return fmt.Errorf("the clients made %d requests of %d in 2 minutes", got, n)
		}
		return nil
	}); err != nil {
		tr.t.Fatal(err)
	}
}

func (tr *scaleTraffic) ackedSnapshot() []Write {
	tr.ackMu.Lock()
	defer tr.ackMu.Unlock()
	return slices.Clone(tr.acked)
}

// opCounts is the counts of one operation (get, set) in a phase, "" for
// every operation or phase.
func (tr *scaleTraffic) opCounts(phase, op string) *Counts {
	return tr.Sum(func(p, _, o string) bool { return (phase == "" || p == phase) && (op == "" || o == op) })
}

// phaseOps is the reads and writes a phase saw.
func (tr *scaleTraffic) phaseOps(phase string) (reads, writes int) {
	return tr.opCounts(phase, "get").Total(), tr.opCounts(phase, "set").Total()
}

// report is one line per phase: its writes and reads.
func (tr *scaleTraffic) report() string {
	tr.mu.Lock()
	phases := slices.Clone(tr.phases)
	tr.mu.Unlock()
	var b strings.Builder
	for _, p := range phases {
		fmt.Fprintf(&b, "  %-14s set %s; get %s\n", p, tr.opCounts(p, "set"), tr.opCounts(p, "get"))
	}
	return b.String()
}
