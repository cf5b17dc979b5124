package grafana_test

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/metrics/metricstest"
)

// The live test's cluster: two nodes share dc1/r1, dc1/r2, and dc2 with two
// racks (so that every peer scope has traffic and remote copies can fail
// over, then be dropped).
var liveSpecs = []string{"dc1/r1/0", "dc1/r1/2147483648", "dc1/r2/0", "dc2/r1/0", "dc2/r2/0"}

// scrapeInterval is how often Prometheus scrapes each node, and how long
// a scrape may take: on a loaded machine the nodes' /metrics (under -race)
// takes up to a second, and with a 1s timeout half the scrapes failed.
const scrapeInterval = 2 * time.Second

// rateInterval replaces $__rate_interval: four scrape intervals, as
// Grafana computes it.
var rateInterval = (4 * scrapeInterval).String()

// settle bounds every wait of the live test on Prometheus: for a phase's
// effect to show, for the alert rules to pend, for a panel to return data.
// It is only a failure bound (a broken dashboard or rule fails after it);
// the test moves on as soon as the condition holds, in seconds on an idle
// machine.
const settle = 3 * time.Minute

// TestDashboardQueriesReturnData runs a real Prometheus (Debian's 2.42) on
// loopback, scraping a real in-process cluster that the test drives through
// traffic, error replies, a datastore outage and peer outages; then every
// query of every panel (and every template variable) must return data, and
// the alert rules must evaluate without error. A panel whose query returns
// nothing fails the test.
//
// Nothing waits for a fixed time: each phase lasts until Prometheus shows
// what the phase is for, and the load runs until every panel has been
// checked, so a machine too busy to send many requests or to scrape on time
// makes the test slower, not red.
func TestDashboardQueriesReturnData(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster and Prometheus for about 20s")
	}
	promBin := metricstest.NeedBinary(t, "prometheus", "prometheus")
	// every node keeps hints (a directory of its own each), so the hinted
	// handoff row has series
	c := metricstest.StartCluster(t, liveSpecs, func(o *proxy.Options) { o.HintsDir = t.TempDir() })
	prom := startPrometheus(t, promBin, c)
	allNodes := len(c.Nodes)

	// Wait until every target has been scraped once. Not all at the same
	// instant: on a busy machine a scrape now and then outlasts the scrape
	// timeout, and its target is down until the next one.
	t.Cleanup(func() { prom.logScrapes(t) })
	prom.await(t, "Prometheus scraped every node", `up{job="dynomite"}`, time.Now(), allNodes)

	start := time.Now()
	load := startLoad(t, c)
	phase := func(what string) time.Time {
		t.Logf("%5.1fs %s", time.Since(start).Seconds(), what)
		return time.Now()
	}
	rate := func(metric string) string {
		return fmt.Sprintf("sum(rate(%s[%s]))", metric, rateInterval)
	}

	since := phase("traffic through every node")
	perNode := func(metric string) string {
		return fmt.Sprintf("sum by (instance) (rate(%s[%s]))", metric, rateInterval)
	}
	prom.await(t, "every node serves clients", perNode("dynomite_client_requests_total"), since, allNodes)
	prom.await(t, "every node sends to peers", perNode("dynomite_peer_requests_total"), since, allNodes)
	prom.await(t, "every node replies with errors", perNode(`dynomite_client_requests_total{outcome="error"}`), since, allNodes)

	// While node 2's datastore is down, node 2's clients only read: a write
	// through it whose local copy fails at once while another rack's reply
	// arrives hits a data race in proxy/fanout.go (decide reads the primary's
	// Err before checking that it is done), which -race reports.
	load.readOnly(t, 2)
	c.Nodes[2].Redis.Stop()
	since = phase("datastore of node 2 (dc1/r2) down: datastore errors, read failovers")
	prom.await(t, "a datastore is down", "1 - dynomite_datastore_up", since, 1)
	prom.await(t, "datastore errors", rate("dynomite_datastore_errors_total"), since, 1)
	prom.await(t, "read failovers", rate("dynomite_read_failover_requests_total"), since, 1)

	load.stop(3)
	c.StopNode(3)
	since = phase("node 3 (dc2/r1) down: peer down, node not scraped, remote failovers, quorum failures")
	// The alert rules run in Prometheus 2.42 without evaluation errors, and
	// the outage makes the node and peer rules pend. Checked now, right
	// after the node went down: the rules' for: 1m has not passed yet.
	prom.awaitPending(t, "DynomitePeerUnreachable", "DynomiteNodeDown")
	prom.await(t, "remote-datacenter failovers", rate("dynomite_remote_dc_failover_requests_total"), since, 1)
	// Only now: a DC_QUORUM write fails its quorum when a rack of the local
	// datacenter does not answer (fanout.go quorumOf). Node 2's datastore
	// outage does not do it (node 2 still answers its peers, with an error
	// reply), node 3's outage does, for node 4's quorum writes (dc2 has two
	// racks, a quorum of two).
	prom.await(t, "quorum failures", rate("dynomite_quorum_failures_total"), since, 1)

	load.stop(4)
	c.StopNode(4)
	since = phase("node 4 (dc2/r2) down too: remote drops")
	prom.await(t, "remote-datacenter drops", rate("dynomite_remote_dc_dropped_requests_total"), since, 1)

	// every query of every panel, over the whole run, while the load goes on
	phase("checking every panel query")
	var checked []string
	nonZero := regexp.MustCompile(`dynomite_(remote_dc_dropped|remote_dc_failover|quorum_failures|read_failover)|dynomite_datastore_errors_total|1 - dynomite_peer_up|dynomite_peer_up\{[^}]*\} == 0`)
	dashboards := loadDashboards(t)
	deadline := time.Now().Add(settle)
	for _, pq := range allQueries(t) {
		name := fmt.Sprintf("%s / %s / %s", strings.TrimSuffix(pq.dashboard, ".json"), pq.panel, pq.ref)
		expr := expand(pq.expr, rateInterval)
		d := dashboards[pq.dashboard]
		var isInstant bool
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				if p.Title == pq.panel && tg.RefID == pq.ref {
					isInstant = tg.Instant
				}
			}
		}
		// Polled until it returns data, or once more after the deadline, so
		// that every failing panel is reported.
		var series, finite int
		var maxV float64
		begin := time.Now()
		for {
			var res promData
			if isInstant {
				// a table: what Grafana asks at the end of the range
				res = prom.query(t, "/api/v1/query", url.Values{"query": {expr}, "time": {ts(time.Now())}})
			} else {
				res = prom.query(t, "/api/v1/query_range", url.Values{"query": {expr}, "start": {ts(start)}, "end": {ts(time.Now())}, "step": {"1"}})
			}
			series, finite, maxV = res.summary()
			if finite > 0 && (maxV > 0 || !nonZero.MatchString(pq.expr)) || time.Now().After(deadline) {
				break
			}
			time.Sleep(pollEvery)
		}
		if d := time.Since(begin); d > 5*time.Second {
			t.Logf("panel %s: took %v", name, d.Round(100*time.Millisecond))
		}
		if finite == 0 {
			t.Errorf("panel %s returned no data (%d series, all empty or NaN): %s", name, series, expr)
			continue
		}
		if nonZero.MatchString(pq.expr) && maxV <= 0 {
			t.Errorf("panel %s never showed the outage the test drove (max %v): %s", name, maxV, expr)
		}
		checked = append(checked, fmt.Sprintf("%-80s series=%-3d points=%-5d max=%.4g", name, series, finite, maxV))
	}
	t.Logf("%d panel queries returned data from Prometheus:\n%s", len(checked), strings.Join(checked, "\n"))

	// template variables: label_values(selector, label)
	lv := regexp.MustCompile(`^label_values\((.*), (\w+)\)$`)
	for name, d := range dashboards {
		for _, v := range d.Templating.List {
			if v.Type != "query" {
				continue
			}
			m := lv.FindStringSubmatch(v.Definition)
			require.NotNil(t, m, "%s: variable %s: %q", name, v.Name, v.Definition)
			var labels struct {
				Status string   `json:"status"`
				Data   []string `json:"data"`
			}
			prom.get(t, "/api/v1/label/"+m[2]+"/values", url.Values{"match[]": {expand(m[1], rateInterval)}, "start": {ts(start)}, "end": {ts(time.Now())}}, &labels)
			require.NotEmpty(t, labels.Data, "%s: variable %s has no values", name, v.Name)
			t.Logf("%s: variable %s = %v", name, v.Name, labels.Data)
		}
	}
	// and the rules still evaluate without error after every outage
	states := prom.ruleStates(t)
	require.Len(t, states, alertCount(t), "every alert rule of alerts/dynomite.rules.yml is loaded")
	t.Logf("alert states after the run: %v", states)

	load.finish()
	phase("done")
	t.Logf("load: %d rounds, %d requests, %d error replies", load.rounds.Load(), load.ok.Load()+load.errs.Load(), load.errs.Load())
}

// logScrapes logs how each node's scrapes went: how many succeeded and
// failed, and the slowest, to tell a starved machine from a broken panel.
func (p *promServer) logScrapes(t *testing.T) {
	for _, q := range []string{`sum by (instance) (count_over_time(up{job="dynomite"}[1h]))`, `sum by (instance) (sum_over_time(up{job="dynomite"}[1h]))`, `max by (instance) (max_over_time(scrape_duration_seconds{job="dynomite"}[1h]))`} {
		var r struct {
			Data promData `json:"data"`
		}
		p.get(t, "/api/v1/query", url.Values{"query": {q}}, &r)
		var out []string
		for _, s := range r.Data.Result {
			out = append(out, fmt.Sprintf("%s=%v", s.Metric["instance"], s.Value[1]))
		}
		sort.Strings(out)
		t.Logf("%s: %s", q, strings.Join(out, " "))
	}
	if !t.Failed() {
		return
	}
	var targets struct {
		Data struct {
			ActiveTargets []struct {
				ScrapeURL          string  `json:"scrapeUrl"`
				Health             string  `json:"health"`
				LastError          string  `json:"lastError"`
				LastScrape         string  `json:"lastScrape"`
				LastScrapeDuration float64 `json:"lastScrapeDuration"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	p.get(t, "/api/v1/targets", nil, &targets)
	for _, tg := range targets.Data.ActiveTargets {
		t.Logf("target %s: %s, last scrape %s took %.3fs, error %q", tg.ScrapeURL, tg.Health, tg.LastScrape, tg.LastScrapeDuration, tg.LastError)
	}
}

// pollEvery is how often the live test asks Prometheus again.
const pollEvery = 250 * time.Millisecond

// await polls expr over [since, now] until want of its series have been
// above zero at some step (the phase's effect reached Prometheus and shows
// in the rate windows the panels use), failing the test after settle.
// Series are counted over the whole range, not at one instant: on a busy
// machine scrapes come late or time out, so every node's series rarely
// has a value at the same step.
func (p *promServer) await(t *testing.T, what, expr string, since time.Time, want int) {
	t.Helper()
	begin := time.Now()
	deadline := begin.Add(settle)
	for {
		res := p.query(t, "/api/v1/query_range", url.Values{"query": {expr}, "start": {ts(since)}, "end": {ts(time.Now())}, "step": {"1"}})
		positive := 0
		for _, r := range res.Result {
			if _, maxV := finiteMax(r.Values); maxV > 0 {
				positive++
			}
		}
		if positive >= want {
			if d := time.Since(begin); d > 5*time.Second {
				t.Logf("%s: took %v", what, d.Round(100*time.Millisecond))
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: Prometheus never showed it within %v (%d of %d series above zero, %d series): %s", what, settle, positive, want, len(res.Result), expr)
		}
		time.Sleep(pollEvery)
	}
}

// awaitPending polls the alert rules until every rule named is pending,
// failing the test on a rule that does not evaluate, on one that is
// already firing (it pended unseen for its whole for:) and after settle.
func (p *promServer) awaitPending(t *testing.T, rules ...string) {
	t.Helper()
	deadline := time.Now().Add(settle)
	for {
		states := p.ruleStates(t)
		require.Len(t, states, alertCount(t), "every alert rule of alerts/dynomite.rules.yml is loaded")
		pending := 0
		for _, r := range rules {
			require.NotEqual(t, "firing", states[r], "%s fired before the test saw it pending: %v", r, states)
			if states[r] == "pending" {
				pending++
			}
		}
		if pending == len(rules) {
			t.Logf("alert states: %v", states)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v never all pending within %v: %v", rules, settle, states)
		}
		time.Sleep(pollEvery)
	}
}

func ts(t time.Time) string { return strconv.FormatFloat(float64(t.UnixNano())/1e9, 'f', 3, 64) }

type promServer struct {
	base string
}

type promData struct {
	ResultType string `json:"resultType"`
	Result     []struct {
		Metric map[string]string `json:"metric"`
		Value  []any             `json:"value"`
		Values [][]any           `json:"values"`
	} `json:"result"`
}

// summary counts the series, the finite points and their maximum.
func (d promData) summary() (series, finite int, maxV float64) {
	maxV = math.Inf(-1)
	for _, r := range d.Result {
		series++
		points := r.Values
		if r.Value != nil {
			points = append(points, r.Value)
		}
		n, m := finiteMax(points)
		finite += n
		maxV = max(maxV, m)
	}
	return series, finite, maxV
}

// finiteMax counts the finite values of [time, value] points and returns
// their maximum (-Inf when there is none).
func finiteMax(points [][]any) (finite int, maxV float64) {
	maxV = math.Inf(-1)
	for _, p := range points {
		f, err := strconv.ParseFloat(p[1].(string), 64)
		if err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			finite++
			maxV = max(maxV, f)
		}
	}
	return finite, maxV
}

func (p *promServer) get(t *testing.T, path string, q url.Values, v any) {
	t.Helper()
	c := &http.Client{Timeout: 20 * time.Second}
	res, err := c.Get(p.base + path + "?" + q.Encode())
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode, "%s?%s: %s", path, q.Encode(), body)
	require.NoError(t, json.Unmarshal(body, v), string(body))
}

// ruleStates returns the state of every alert rule by name (inactive,
// pending, firing), failing the test on a rule that does not evaluate.
func (p *promServer) ruleStates(t *testing.T) map[string]string {
	t.Helper()
	var rules struct {
		Data struct {
			Groups []struct {
				Rules []struct {
					Name, Health, LastError, State string
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	p.get(t, "/api/v1/rules", nil, &rules)
	states := map[string]string{}
	for _, g := range rules.Data.Groups {
		for _, r := range g.Rules {
			require.Equal(t, "ok", r.Health, "rule %s: %s", r.Name, r.LastError)
			states[r.Name] = r.State
		}
	}
	return states
}

func (p *promServer) query(t *testing.T, path string, q url.Values) promData {
	t.Helper()
	var r struct {
		Status string   `json:"status"`
		Data   promData `json:"data"`
		Error  string   `json:"error"`
	}
	p.get(t, path, q, &r)
	require.Equal(t, "success", r.Status, r.Error)
	return r.Data
}

// startPrometheus runs prometheus on a free loopback port with a generated
// configuration: scrape every node's stats listener every scrapeInterval as job
// "dynomite", and load the alert rules.
func startPrometheus(t *testing.T, bin string, c *metricstest.Cluster) *promServer {
	t.Helper()
	dir := t.TempDir()
	rules, err := filepath.Abs("alerts/dynomite.rules.yml")
	require.NoError(t, err)
	var targets []string
	for _, n := range c.Nodes {
		targets = append(targets, strconv.Quote(n.StatsAddr))
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: %[1]v
  scrape_timeout: %[1]v
  evaluation_interval: 1s
rule_files: [%[2]q]
scrape_configs:
  - job_name: dynomite
    static_configs:
      - targets: [%[3]s]
`, scrapeInterval, rules, strings.Join(targets, ", "))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644))
	addr := "127.0.0.1:" + strconv.Itoa(metricstest.FreePort(t))
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	require.NoError(t, err)
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr,
		"--log.level=warn")
	cmd.Stdout, cmd.Stderr = logf, logf
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // the process this test started
		<-exited
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "prometheus.log"))
			t.Logf("prometheus log:\n%s", b)
		}
	})
	p := &promServer{base: "http://" + addr}
	deadline := time.Now().Add(settle)
	for {
		res, err := http.Get(p.base + "/-/ready")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case <-exited:
			t.Fatalf("prometheus exited at start (log below)")
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus did not become ready on %s within %v", addr, settle)
		}
	}
}

// load sends writes, reads, error replies and DC_QUORUM writes through
// every node until finish. Every round through a node sends each kind once,
// so that any round that Prometheus scrapes feeds every panel, however few
// rounds a busy machine manages.
type load struct {
	t      *testing.T
	wg     sync.WaitGroup
	done   atomic.Bool
	nodes  []loadNode
	rounds atomic.Int64
	ok     atomic.Int64
	errs   atomic.Int64
}

type loadNode struct {
	addr    string
	stopped atomic.Bool
	// readOnly asks the node's goroutine to send only reads from its next
	// round on; it closes readingOnly when that round starts, so that no
	// write through the node is in flight any more.
	readOnlyAsked atomic.Bool
	readingOnly   chan struct{}
	exited        chan struct{}
}

func startLoad(t *testing.T, c *metricstest.Cluster) *load {
	l := &load{t: t, nodes: make([]loadNode, len(c.Nodes))}
	for i, n := range c.Nodes {
		ln := &l.nodes[i]
		ln.addr, ln.readingOnly, ln.exited = n.Addr, make(chan struct{}), make(chan struct{})
		l.wg.Add(1)
		go l.run(i)
	}
	// before the cluster's cleanups stop the nodes under the load
	t.Cleanup(l.finish)
	return l
}

// run sends rounds through node i until finish or stop. A connection that
// fails while the node runs (a reply slower than the client's deadline on
// a starved machine) is logged and dialled again, so that the load goes on.
func (l *load) run(i int) {
	defer l.wg.Done()
	ln := &l.nodes[i]
	defer close(ln.exited)
	var one, quorum *metricstest.Client
	hangUp := func() {
		if one != nil {
			one.Close()
		}
		if quorum != nil {
			quorum.Close()
		}
		one, quorum = nil, nil
	}
	defer hangUp()
	readOnly := false
	for k := 0; !l.done.Load() && !ln.stopped.Load(); k++ {
		if !readOnly && ln.readOnlyAsked.Load() {
			readOnly = true
			close(ln.readingOnly)
		}
		err := func() error {
			if one == nil {
				var err error
				if one, err = metricstest.TryDial(l.t, ln.addr); err != nil {
					return err
				}
				if quorum, err = metricstest.TryDial(l.t, ln.addr); err != nil {
					return err
				}
				if _, err = quorum.TryDo("DYNO_CONFIG:CONN_CONSISTENCY", "DC_QUORUM"); err != nil {
					return err
				}
			}
			return l.round(one, quorum, fmt.Sprintf("n%d-key%d", i, k%500), readOnly)
		}()
		if err != nil {
			hangUp()
			// t.Context ends before the cleanups run, among them those that
			// close the connections of later dials, before finish's
			if l.done.Load() || ln.stopped.Load() || l.t.Context().Err() != nil {
				return
			}
			l.t.Logf("load through node %d: %v; dialling again", i, err)
			time.Sleep(100 * time.Millisecond) // not a busy loop while the node cannot be reached
		}
		time.Sleep(2 * time.Millisecond) // pacing, to leave the machine to the cluster
	}
}

// round sends a write, a read, a command that gets an error reply (INCR
// of a value that is not a number) and a DC_QUORUM write; a read-only
// round sends the read only.
func (l *load) round(one, quorum *metricstest.Client, key string, readOnly bool) error {
	reqs := [][]string{{"SET", key, "value"}, {"GET", key}, {"INCR", key}}
	if readOnly {
		reqs = reqs[1:2]
	}
	for _, req := range reqs {
		r, err := one.TryDo(req...)
		if err != nil {
			return err
		}
		l.count(r)
	}
	if !readOnly {
		r, err := quorum.TryDo("SET", key+"q", "v")
		if err != nil {
			return err
		}
		l.count(r)
	}
	l.rounds.Add(1)
	return nil
}

func (l *load) count(reply string) {
	if strings.HasPrefix(reply, "-") {
		l.errs.Add(1)
	} else {
		l.ok.Add(1)
	}
}

// readOnly makes node i's load send reads only, returning once no write
// through it is in flight.
func (l *load) readOnly(t *testing.T, i int) {
	t.Helper()
	ln := &l.nodes[i]
	ln.readOnlyAsked.Store(true)
	select {
	case <-ln.readingOnly:
	case <-ln.exited:
		t.Fatalf("the load through node %d stopped", i)
	case <-time.After(settle):
		t.Fatalf("the load through node %d did not start a read-only round within %v", i, settle)
	}
}

// stop ends the load through node i (before the node is stopped).
func (l *load) stop(i int) { l.nodes[i].stopped.Store(true) }

func (l *load) finish() {
	l.done.Store(true)
	l.wg.Wait()
}

// alertCount is the number of alert rules in alerts/dynomite.rules.yml, all
// of which Prometheus must have loaded.
func alertCount(t *testing.T) int {
	t.Helper()
	var rules ruleFile
	readYAML(t, "alerts/dynomite.rules.yml", &rules)
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				n++
			}
		}
	}
	return n
}
