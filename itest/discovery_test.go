package itest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// TestDiscovery: a cluster that finds its peers through a seed provider
// instead of dyn_seeds, and a node added and removed while clients write:
//   - dns_srv: SRV records (with a TXT record per target for dc, rack and
//     tokens) served by the dynomite-local/dns container (dnsmasq);
//   - ec2: DescribeInstances answered by a fake EC2 endpoint in a container
//     (itest/fakeec2), reached with the real AWS SDK inside the node.
//
// Both: three racks come up knowing nothing but the provider; a fourth rack
// is added to the records (dnsmasq restarted with new records: the nodes
// keep their view while it is down) and every node must see it and
// replicate to it; it is then removed from the records, every node must drop
// it, and it is stopped. Clients at DC_ONE and DC_QUORUM through two nodes
// must see no failure throughout.
func TestDiscovery(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"dns_srv", "ec2"} {
		t.Run(p, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, "disc-"+strings.ReplaceAll(p, "_", ""))
			pkg := map[string]string{"dns_srv": "dnssrv", "ec2": "ec2"}[p]
			if missing := binaryLacks(t, e, "github.com/dynomite-go/dynomite/seedprovider/"+pkg+".New"); missing != "" {
				t.Skipf("the dynomite binary under test (%s) does not include seedprovider/%s: dyn_seed_provider: %s_provider is not wired into cmd/dynomite in it yet (%s). Rebuild the image (make image) once it is, or point ITEST_DYNOMITE_BIN at a static binary built from the tree",
					binaryUnderTest(), pkg, p, missing)
			}
			runDiscovery(t, e, p)
		})
	}
}

const (
	dnsSRVName = "_dynomite._tcp.itest.local"
	clusterTag = "itest"
	dnsIPHost  = 10
	ec2IPHost  = 11
	nodeIPBase = 20 // rack N at .20+N
)

// source is where the nodes find their peers; publish sets the racks it
// lists.
type source struct {
	env     map[string]string
	extra   [][2]string
	publish func(racks []int)
	calls   func() string
}

func runDiscovery(t *testing.T, e *Env, provider string) {
	start := time.Now()
	n := e.Network("net", true)
	nodeIP := func(r int) string { return n.IP(nodeIPBase + r).String() }

	var storeSpecs []Spec
	for r := 1; r <= 4; r++ {
		role := fmt.Sprintf("redis-r%d", r)
		storeSpecs = append(storeSpecs, redisSpec(role, Attach{Net: n, Aliases: []string{role}}))
	}
	var src source
	var srcCtr *Ctr
	var wg sync.WaitGroup
	var stores []*Ctr
	wg.Go(func() { stores = e.startAll(storeSpecs...) })
	switch provider {
	case "dns_srv":
		records := func(racks []int) []byte {
			var b strings.Builder
			for _, r := range racks {
				host := fmt.Sprintf("dyn-r%d.itest.local", r)
				fmt.Fprintf(&b, "srv-host=%s,%s,8101,0,0\n", dnsSRVName, host)
				fmt.Fprintf(&b, "host-record=%s,%s\n", host, nodeIP(r))
				fmt.Fprintf(&b, "txt-record=%s,\"dc=dc1\",\"rack=rack%d\",\"tokens=%s\"\n", host, r, token)
			}
			return []byte(b.String())
		}
		spec := Spec{Role: "dns", Image: image("dns"), Nets: []Attach{{Net: n, Aliases: []string{"dns"}, IP: n.IP(dnsIPHost)}},
			Ports: []string{"53/tcp"},
			Files: []testcontainers.ContainerFile{{Reader: bytes.NewReader(records([]int{1, 2, 3})), ContainerFilePath: "/etc/dnsmasq.d/itest.conf", FileMode: 0o644}},
			Wait:  wait.ForListeningPort("53/tcp").WithStartupTimeout(30 * time.Second)}
		srcCtr = e.Start(spec)
		src = source{
			extra: [][2]string{{"dyn_seed_provider", "dns_srv_provider"}, {"dns_srv_name", dnsSRVName},
				{"dns_srv_resolver", n.IP(dnsIPHost).String() + ":53"}, {"dns_srv_timeout", "1000"}},
			publish: func(racks []int) {
				// dnsmasq reads srv-host records at start only.
				srcCtr.Copy("/etc/dnsmasq.d/itest.conf", records(racks), 0o644)
				srcCtr.Stop(time.Second)
				srcCtr.Restart()
			},
			calls: func() string {
				return fmt.Sprintf("%d SRV queries", strings.Count(srcCtr.Logs(100000), "query[SRV] "+dnsSRVName))
			},
		}
	case "ec2":
		bin := fakeEC2Binary(t)
		spec := Spec{Role: "ec2", Image: image("redis"), Entrypoint: []string{"/fakeec2"}, Cmd: []string{"-listen", ":8080"},
			Nets:  []Attach{{Net: n, Aliases: []string{"ec2"}, IP: n.IP(ec2IPHost)}},
			Ports: []string{"8080/tcp"},
			Files: []testcontainers.ContainerFile{{HostFilePath: bin, ContainerFilePath: "/fakeec2", FileMode: 0o755}},
			Wait:  wait.ForHTTP("/_fake/calls").WithPort("8080/tcp").WithStartupTimeout(30 * time.Second)}
		srcCtr = e.Start(spec)
		ctl := "http://" + srcCtr.mustHostAddr("8080/tcp")
		src = source{
			// The SDK's usual variables: static keys, no IMDS; the
			// endpoint comes from ec2_endpoint.
			env: map[string]string{"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "AKIAITESTITESTITEST", "AWS_SECRET_ACCESS_KEY": "itest",
				"AWS_EC2_METADATA_DISABLED": "true"},
			extra: [][2]string{{"dyn_seed_provider", "ec2_provider"}, {"ec2_cluster_tag_value", clusterTag}, {"ec2_regions", "us-east-1"},
				{"ec2_endpoint", fmt.Sprintf("http://%s:8080", n.IP(ec2IPHost))}},
			publish: func(racks []int) {
				type inst struct {
					ID        string            `json:"id"`
					PrivateIP string            `json:"private_ip"`
					AZ        string            `json:"az"`
					State     string            `json:"state,omitempty"`
					Tags      map[string]string `json:"tags"`
				}
				var in []inst
				for _, r := range racks {
					in = append(in, inst{ID: fmt.Sprintf("i-0000000000000000%d", r), PrivateIP: nodeIP(r), AZ: fmt.Sprintf("us-east-1%c", 'a'+r-1),
						Tags: map[string]string{"dynomite:cluster": clusterTag, "dynomite:datacenter": "dc1", "dynomite:rack": fmt.Sprintf("rack%d", r), "dynomite:tokens": token}})
				}
				// A stopped instance of the cluster and another cluster's
				// instance, which the provider must ignore.
				in = append(in,
					inst{ID: "i-0stopped", PrivateIP: "127.0.0.1", AZ: "us-east-1a", State: "stopped",
						Tags: map[string]string{"dynomite:cluster": clusterTag, "dynomite:datacenter": "dc1", "dynomite:rack": "rack9", "dynomite:tokens": token}},
					inst{ID: "i-0other", PrivateIP: "127.0.0.1", AZ: "us-east-1a", Tags: map[string]string{"dynomite:cluster": "other", "dynomite:tokens": "1"}})
				body, _ := json.Marshal(in)
				req, _ := http.NewRequest(http.MethodPut, ctl+"/_fake/instances", bytes.NewReader(body))
				r, err := http.DefaultClient.Do(req)
				if err != nil || r.StatusCode != http.StatusNoContent {
					t.Fatalf("fakeec2: setting the instances: %v %v", err, r)
				}
				r.Body.Close()
			},
			calls: func() string {
				r, err := http.Get(ctl + "/_fake/calls")
				if err != nil {
					return err.Error()
				}
				defer r.Body.Close()
				b, _ := io.ReadAll(r.Body)
				return strings.TrimSpace(string(b)) + " DescribeInstances calls"
			},
		}
		src.publish([]int{1, 2, 3})
	}
	wg.Wait()
	e.Step("4 Redis and the %s source up", provider)

	conf := func(r int) NodeConf {
		extra := append([][2]string{{"gos_interval", "1000"}}, src.extra...)
		return NodeConf{DC: "dc1", Rack: fmt.Sprintf("rack%d", r), Token: token, Server: fmt.Sprintf("redis-r%d:6379:1", r), Extra: extra}
	}
	nodeSpecOf := func(r int) Spec {
		role := fmt.Sprintf("dyn-r%d", r)
		return nodeSpec(role, conf(r), src.env, Attach{Net: n, Aliases: []string{role}, IP: n.IP(nodeIPBase + r)})
	}
	var nodes []*Node
	for i, c := range e.startAll(nodeSpecOf(1), nodeSpecOf(2), nodeSpecOf(3)) {
		nodes = append(nodes, asNode(c, conf(i+1)))
	}
	allCtrs := func() []*Ctr {
		out := []*Ctr{srcCtr}
		for _, n := range nodes {
			out = append(out, n.Ctr)
		}
		return out
	}
	waitView := func(ns []*Node, racks int, within time.Duration) time.Duration {
		t.Helper()
		t0 := time.Now()
		want := make([]string, racks)
		for i := range want {
			want[i] = fmt.Sprintf("dc1/rack%d", i+1)
		}
		for _, nd := range ns {
			var got map[string][]string
			err := eventually(within, 200*time.Millisecond, func() error {
				var err error
				got, err = nd.Describe()
				if err != nil {
					return err
				}
				var have []string
				for k, v := range got {
					if len(v) > 0 {
						have = append(have, k)
					}
				}
				sort.Strings(have)
				if !slices.Equal(have, want) {
					return fmt.Errorf("sees %v, want %v", have, want)
				}
				return nil
			})
			if err != nil {
				t.Fatalf("%s (%s): %v\n%s", nd.Role, provider, err, logsOf(30, allCtrs()...))
			}
		}
		return time.Since(t0)
	}
	e.Step("3 nodes up")
	formed := waitView(nodes, 3, 30*time.Second)
	waitReplicated(t, nodes, stores[:3], 30*time.Second)
	formedAll := time.Since(start)
	e.Step("3 racks see each other and replicate")

	l := newLoad(t, "3 racks")
	for _, nd := range nodes[:2] {
		for _, level := range []string{"DC_ONE", "DC_QUORUM"} {
			l.Add(&Worker{Name: level + "@" + nd.Role, Level: level, Node: nd, Prefix: "disc", Pause: 10 * time.Millisecond})
		}
	}
	stopped := false
	defer func() {
		if !stopped {
			l.Stop()
		}
	}()
	time.Sleep(2 * time.Second)

	// A fourth rack joins.
	l.SetPhase("adding")
	r4 := asNode(e.Start(nodeSpecOf(4)), conf(4))
	nodes = append(nodes, r4)
	e.Step("dyn-r4 up; publishing it")
	src.publish([]int{1, 2, 3, 4})
	e.Step("published")
	added := waitView(nodes, 4, 30*time.Second)
	waitReplicated(t, nodes, stores, 30*time.Second)
	e.Step("4 racks see each other and replicate")
	l.SetPhase("4 racks")
	time.Sleep(2 * time.Second)

	// It leaves: out of the records first, stopped once nobody routes to it.
	l.SetPhase("removing")
	src.publish([]int{1, 2, 3})
	removed := waitView(nodes[:3], 3, 30*time.Second)
	e.Step("dyn-r4 dropped by the others; stopping it")
	r4.Stop(5 * time.Second)
	l.SetPhase("3 racks again")
	time.Sleep(2 * time.Second)
	l.Stop()
	stopped = true
	t.Logf("what the clients saw (phase, level@node):\n%s", l.Report())

	all := l.Sum(func(string, string, string) bool { return true })
	if len(all.Errs) > 0 {
		t.Errorf("failed requests: %s", fmtErrs(all.Errs))
	}
	// Every acknowledged write is in the three racks that stayed, and
	// those acknowledged while the fourth was a member are in it too.
	ctx := context.Background()
	acked := l.Acked()
	var in4 []Write
	for _, w := range acked {
		if w.Phase == "4 racks" {
			in4 = append(in4, w)
		}
	}
	// DC_ONE replicates in the background: up to 10 s for the last writes.
	err := eventually(10*time.Second, 500*time.Millisecond, func() error {
		var problems []string
		for i, s := range stores[:3] {
			sc := storeClient(s)
			missing, wrong, err := missingIn(ctx, sc, acked)
			sc.Close()
			if err != nil {
				return fmt.Errorf("reading %s: %v", s.Role, err)
			}
			if len(missing)+len(wrong) > 0 {
				problems = append(problems, fmt.Sprintf("%s (rack%d) lacks %d acknowledged writes, %d differ: %s", s.Role, i+1, len(missing), len(wrong), keyRanges(append(missing, wrong...))))
			}
		}
		sc := storeClient(stores[3])
		missing4, wrong4, err := missingIn(ctx, sc, in4)
		sc.Close()
		if err != nil {
			return fmt.Errorf("reading redis-r4: %v", err)
		}
		if len(missing4)+len(wrong4) > 0 {
			problems = append(problems, fmt.Sprintf("redis-r4 lacks %d of the %d writes acknowledged while rack4 was a member: %s", len(missing4)+len(wrong4), len(in4), keyRanges(append(missing4, wrong4...))))
		}
		if len(problems) > 0 {
			return fmt.Errorf("%s", strings.Join(problems, "; "))
		}
		return nil
	})
	if err != nil {
		t.Errorf("%v", err)
	}
	if t.Failed() {
		t.Logf("logs:\n%s", logsOf(40, allCtrs()...))
	}
	summary(t, "discovery/"+provider, start,
		"%s_provider; 3 racks formed from the provider alone in %s (views after start %s); rack4 added: seen by all 4 nodes in %s, replicated to; removed: dropped by the 3 others in %s, then stopped; "+
			"%d requests from 4 clients (DC_ONE and DC_QUORUM through dyn-r1 and dyn-r2) %s; acknowledged writes %d all in the 3 staying racks, %d made while rack4 was a member all in redis-r4: %s; provider: %s",
		provider, formedAll.Round(100*time.Millisecond), formed.Round(100*time.Millisecond), added.Round(100*time.Millisecond), removed.Round(100*time.Millisecond),
		all.Total(), all, len(acked), len(in4), verdict(t), src.calls())
}

var (
	fakeEC2Once sync.Once
	fakeEC2Path string
	fakeEC2Err  error
)

// fakeEC2Binary builds itest/fakeec2 for the container (static, Linux).
func fakeEC2Binary(t *testing.T) string {
	t.Helper()
	fakeEC2Once.Do(func() {
		dir, err := os.MkdirTemp("", "itest-fakeec2-")
		if err != nil {
			fakeEC2Err = err
			return
		}
		tempDirs = append(tempDirs, dir)
		fakeEC2Path = filepath.Join(dir, "fakeec2")
		cmd := exec.Command("go", "build", "-trimpath", "-o", fakeEC2Path, "./fakeec2")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
		if out, err := cmd.CombinedOutput(); err != nil {
			fakeEC2Err = fmt.Errorf("go build ./fakeec2: %v\n%s", err, out)
		}
	})
	if fakeEC2Err != nil {
		t.Fatalf("%v", fakeEC2Err)
	}
	return fakeEC2Path
}

var (
	binOnce sync.Once
	binData []byte
	binErr  error
)

func binaryUnderTest() string {
	if dynomiteBin != "" {
		return "ITEST_DYNOMITE_BIN=" + dynomiteBin
	}
	return image("dynomite")
}

// binaryLacks returns "" when the dynomite binary under test contains the
// symbol (a function name, kept in a stripped Go binary), else what is
// missing.
func binaryLacks(t *testing.T, e *Env, symbol string) string {
	t.Helper()
	binOnce.Do(func() {
		if dynomiteBin != "" {
			binData, binErr = os.ReadFile(dynomiteBin)
			return
		}
		// Copy it out of a created, never started container.
		c, err := testcontainers.GenericContainer(e.ctx, testcontainers.GenericContainerRequest{ContainerRequest: testcontainers.ContainerRequest{
			Image: image("dynomite"), Name: "itest-probe-" + runID, Labels: e.labels(), ExposedPorts: []string{"22222/tcp"},
		}})
		if c != nil {
			defer func() { _ = c.Terminate(context.Background()) }()
		}
		if err != nil {
			binErr = err
			return
		}
		rc, err := c.CopyFileFromContainer(e.ctx, "/usr/bin/dynomite")
		if err != nil {
			binErr = err
			return
		}
		defer rc.Close()
		binData, binErr = io.ReadAll(rc)
	})
	if binErr != nil {
		t.Fatalf("reading the dynomite binary under test: %v", binErr)
	}
	if !bytes.Contains(binData, []byte(symbol)) {
		return "no " + symbol
	}
	return ""
}
