package metrics_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/metrics"
	"github.com/dynomite-go/dynomite/proxy/metrics/metricstest"
	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/ring"
)

// unstarted returns a server that is built but never serves: enough for
// the scrape-time collector (nothing is dialled).
func unstarted(t *testing.T, m *metrics.Metrics) *proxy.Server {
	t.Helper()
	s, err := proxy.New(proxy.Options{Pool: "dyn_o_mite", Proto: msg.Redis, Listen: "127.0.0.1:0",
		Datastore: "127.0.0.1:1", DatastoreName: "127.0.0.1:1", DC: "dc1", Rack: "r1", DynListen: "127.0.0.1:2",
		Tokens: []ring.Token{7}, Observer: m, HintsDir: t.TempDir(),
		Peers: []proxy.Peer{
			{Name: "127.0.0.1:3", Addr: "127.0.0.1:3", DC: "dc1", Rack: "r1", Tokens: []ring.Token{1 << 31}},
			{Name: "127.0.0.1:4", Addr: "127.0.0.1:4", DC: "dc1", Rack: "r2", Tokens: []ring.Token{0}},
			{Name: "127.0.0.1:5", Addr: "127.0.0.1:5", DC: "dc2", Rack: "r1", Tokens: []ring.Token{0}},
		}})
	require.NoError(t, err)
	return s
}

func newAttached(t *testing.T) (*metrics.Metrics, *prometheus.Registry) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, "dc1", "r1")
	t.Cleanup(m.Close)
	m.SetVersion("1.2.3")
	m.Attach(unstarted(t, m))
	m.RegisterSeedProvider("florida", func() uint64 { return 5 }, func() uint64 { return 2 })
	return m, reg
}

func TestEveryCatalogMetricIsExportedWithPlaceLabels(t *testing.T) {
	_, reg := newAttached(t)
	mfs, err := reg.Gather()
	require.NoError(t, err)
	got := map[string]bool{}
	for _, mf := range mfs {
		name := mf.GetName()
		got[name] = true
		require.Regexp(t, `^(dynomite|go|process)_`, name)
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			require.Equal(t, "dc1", labels["datacenter"], name)
			require.Equal(t, "r1", labels["rack"], name)
		}
	}
	for _, i := range metrics.Catalog() {
		require.True(t, got[i.Name], "%s is in the catalog but not exported", i.Name)
	}
	for name := range got {
		if strings.HasPrefix(name, "dynomite_") {
			found := false
			for _, i := range metrics.Catalog() {
				found = found || i.Name == name
			}
			require.True(t, found, "%s is exported but not in the catalog", name)
		}
	}
	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "dynomite_") {
			t.Errorf("lint: %s: %s", p.Metric, p.Text)
		}
	}
}

func TestCatalogConventions(t *testing.T) {
	for _, i := range metrics.Catalog() {
		require.True(t, strings.HasPrefix(i.Name, "dynomite_"), i.Name)
		switch i.Type {
		case metrics.Counter:
			require.True(t, strings.HasSuffix(i.Name, "_total"), "counter %s must end in _total", i.Name)
		case metrics.Histogram:
			require.True(t, strings.HasSuffix(i.Name, "_seconds"), "histogram %s must end in _seconds", i.Name)
		}
		for _, l := range i.Labels {
			require.NotContains(t, []string{"datacenter", "rack", "key", "client", "addr"}, l, i.Name)
		}
		require.NotEmpty(t, i.Help)
	}
}

func TestScrapeTimeValues(t *testing.T) {
	_, reg := newAttached(t)
	val := func(name string, match map[string]string) float64 {
		v, ok := metricstest.Sum(t, reg, name, match)
		require.True(t, ok, "%s%v has no series", name, match)
		return v
	}
	require.Equal(t, 1.0, val("dynomite_build_info", map[string]string{"version": "1.2.3"}))
	require.Equal(t, 3.0, val("dynomite_seedprovider_refresh_total", map[string]string{"provider": "florida", "outcome": "success"}))
	require.Equal(t, 2.0, val("dynomite_seedprovider_refresh_total", map[string]string{"provider": "florida", "outcome": "error"}))
	require.Equal(t, 2.0, val("dynomite_ring_members", map[string]string{"ring_dc": "dc1", "ring_rack": "r1"}))
	require.Equal(t, 1.0, val("dynomite_ring_members", map[string]string{"ring_dc": "dc2", "ring_rack": "r1"}))
	require.Equal(t, 2.0, val("dynomite_ring_tokens", map[string]string{"ring_dc": "dc1", "ring_rack": "r1"}))
	require.Equal(t, 1.0, val("dynomite_consistency_level", map[string]string{"op": "read", "level": "DC_ONE"}))
	require.Equal(t, 0.0, val("dynomite_consistency_level", map[string]string{"op": "write", "level": "DC_QUORUM"}))
	require.Equal(t, 1.0, val("dynomite_node_state", map[string]string{"state": "NORMAL"}))
	require.Equal(t, 0.0, val("dynomite_node_state", map[string]string{"state": "STANDBY"}))
	require.Equal(t, 0.0, val("dynomite_peer_up", map[string]string{"peer": "127.0.0.1:4", "peer_dc": "dc1", "peer_rack": "r2"}))
	require.Equal(t, 3.0*5, float64(len(seriesOf(t, reg, "dynomite_peer_errors_total"))), "3 peers x 5 causes")
	require.Len(t, seriesOf(t, reg, "dynomite_datastore_errors_total"), 5)
	// requests: every class x outcome exists from the start (rates of 0, not gaps)
	require.Len(t, seriesOf(t, reg, "dynomite_client_requests_total"), 8*2) // msg.Class: 8 classes
}

func seriesOf(t *testing.T, g prometheus.Gatherer, name string) []string {
	mfs, err := g.Gather()
	require.NoError(t, err)
	var out []string
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				out = append(out, m.String())
			}
		}
	}
	return out
}

func TestObserverCounts(t *testing.T) {
	m, reg := newAttached(t)
	m.ClientRequest(msg.ClassRead, false, 300*time.Microsecond, 20, 10)
	m.ClientRequest(msg.ClassRead, false, 300*time.Microsecond, 20, 10)
	m.ClientRequest(msg.ClassWrite, true, 2*time.Millisecond, 100, 5)
	m.Datastore(100*time.Microsecond, false)
	m.Peer(proxy.ScopeCrossDC, 30*time.Millisecond, false)
	m.Peer(proxy.ScopeSameRack, time.Millisecond, false)
	val := func(name string, match map[string]string) float64 {
		v, ok := metricstest.Sum(t, reg, name, match)
		require.True(t, ok, "%s%v has no series", name, match)
		return v
	}
	require.Equal(t, 2.0, val("dynomite_client_requests_total", map[string]string{"proto": "redis", "class": "read", "outcome": "success"}))
	require.Equal(t, 1.0, val("dynomite_client_requests_total", map[string]string{"class": "write", "outcome": "error"}))
	require.Equal(t, 0.0, val("dynomite_client_requests_total", map[string]string{"class": "write", "outcome": "success"}))
	require.Equal(t, 140.0, val("dynomite_client_request_bytes_total", map[string]string{"proto": "redis"}))
	require.Equal(t, 25.0, val("dynomite_client_response_bytes_total", map[string]string{"proto": "redis"}))
	require.Equal(t, 2.0, val("dynomite_client_request_duration_seconds", map[string]string{"class": "read"}))
	require.Equal(t, 1.0, val("dynomite_datastore_request_duration_seconds", nil))
	require.Equal(t, 1.0, val("dynomite_peer_request_duration_seconds", map[string]string{"scope": "cross_dc"}))
	require.Equal(t, 1.0, val("dynomite_peer_request_duration_seconds", map[string]string{"scope": "same_rack"}))
	require.Equal(t, 0.0, val("dynomite_peer_request_duration_seconds", map[string]string{"scope": "cross_rack"}))

	var info map[string]any
	require.NoError(t, json.Unmarshal(m.Info(), &info))
	require.EqualValues(t, 2000, info["latency_max"])
	require.EqualValues(t, 100, info["payload_size_max"], "payload sizes are of writes only")
	require.EqualValues(t, 30000, info["average_cross_region_rtt"])
	require.EqualValues(t, 100, info["average_server_latency"])
	pool := info["dyn_o_mite"].(map[string]any)
	require.EqualValues(t, 2, pool["client_read_requests"])
	require.EqualValues(t, 1, pool["client_write_requests"])
	m.HistoReset()
	require.NoError(t, json.Unmarshal(m.Info(), &info))
	require.EqualValues(t, 0, info["latency_max"])
	require.EqualValues(t, 0, info["99_cross_region_rtt"])
}

func TestObserverDoesNotAllocate(t *testing.T) {
	m, _ := newAttached(t)
	allocs := testing.AllocsPerRun(1000, func() {
		m.ClientRequest(msg.ClassWrite, false, 250*time.Microsecond, 64, 5)
		m.Datastore(100*time.Microsecond, false)
		m.Peer(proxy.ScopeCrossRack, 400*time.Microsecond, false)
	})
	require.Zero(t, allocs)
}

func BenchmarkObserver(b *testing.B) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, "dc1", "r1")
	defer m.Close()
	b.Run("ClientRequest", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				m.ClientRequest(msg.ClassRead, false, 250*time.Microsecond, 64, 5)
			}
		})
	})
	b.Run("Datastore", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			m.Datastore(100*time.Microsecond, false)
		}
	})
	b.Run("Peer", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			m.Peer(proxy.ScopeCrossDC, 20*time.Millisecond, false)
		}
	})
}

func TestInfoHasEveryUpstreamFieldInOrder(t *testing.T) {
	m, _ := newAttached(t)
	doc := m.Info()
	top, pool, server := metrics.InfoFields()

	// strict parse: keys in order, numbers are integers
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var keys []string
	var walk func(depth int)
	objects := map[int][]string{}
	walk = func(depth int) {
		tok, err := dec.Token()
		require.NoError(t, err)
		require.Equal(t, json.Delim('{'), tok)
		for dec.More() {
			k, err := dec.Token()
			require.NoError(t, err)
			key := k.(string)
			objects[depth] = append(objects[depth], key)
			keys = append(keys, key)
			if dec.More() {
				// peek: objects nest, everything else is a scalar
				var raw json.RawMessage
				if key == "dyn_o_mite" || key == "127.0.0.1:1" {
					walk(depth + 1)
					continue
				}
				require.NoError(t, dec.Decode(&raw))
				switch {
				case key == "config_last_reload_successful":
					require.Contains(t, []string{"true", "false"}, string(raw), key)
				case !strings.HasPrefix(string(raw), `"`):
					require.Regexp(t, `^[0-9]+$`, string(raw), key)
				}
			}
		}
		_, err = dec.Token()
		require.NoError(t, err)
	}
	walk(0)
	require.Equal(t, append(top, "dyn_o_mite"), objects[0])
	require.Equal(t, append(append(pool, "hints_pending_records", "hints_pending_bytes", "hints_written", "hints_replayed",
		"hints_dropped", "hints_superseded", "hint_replay_lag"), "127.0.0.1:1"), objects[1])
	require.Equal(t, append(server, "requests", "responses"), objects[2])

	var v map[string]any
	require.NoError(t, json.Unmarshal(doc, &v))
	require.Equal(t, "dynomite", v["service"])
	require.Equal(t, "1.2.3", v["version"])
	require.Equal(t, "dc1", v["dc"])
	require.Equal(t, "r1", v["rack"])
	require.InDelta(t, float64(time.Now().Unix()), v["timestamp"], 5)
	require.Greater(t, v["dyn_memory"], 0.0)
}

func TestDescribeListsEverything(t *testing.T) {
	var b bytes.Buffer
	metrics.Describe(&b, "9.9")
	out := b.String()
	require.True(t, strings.HasPrefix(out, "This is dynomite-9.9\n\npool stats:\n"))
	_, pool, server := metrics.InfoFields()
	for _, n := range append(pool, server...) {
		require.Regexp(t, regexp.MustCompile(`(?m)^  `+regexp.QuoteMeta(n)+` +".+"$`), out)
	}
	for _, i := range metrics.Catalog() {
		require.Contains(t, out, "  "+i.Name)
		require.Contains(t, out, `"`+i.Help+`"`)
	}
}

// README.md lists every metric with its type and labels, and every /info
// field reported as 0.
func TestREADMEListsEveryMetric(t *testing.T) {
	b, err := os.ReadFile("README.md")
	require.NoError(t, err)
	readme := string(b)
	for _, i := range metrics.Catalog() {
		row := regexp.MustCompile("(?m)^\\| `" + regexp.QuoteMeta(i.Name) + "` \\| " + string(i.Type) + " \\| (.*?) \\|")
		mm := row.FindStringSubmatch(readme)
		require.NotNil(t, mm, "README.md has no table row for %s (%s)", i.Name, i.Type)
		for _, l := range i.Labels {
			require.Contains(t, mm[1], "`"+l+"`", "README.md row of %s misses label %s", i.Name, l)
		}
	}
	_, pool, server := metrics.InfoFields()
	for _, n := range append(pool, server...) {
		require.Contains(t, readme, "`"+n+"`", "README.md does not mention /info field %s", n)
	}
}

// Peer series come from the current membership at each scrape: the series
// of a peer that is no longer in the ring disappear.
func TestPeerSeriesFollowMembership(t *testing.T) {
	m, reg := newAttached(t)
	require.Len(t, seriesOf(t, reg, "dynomite_peer_up"), 3)
	s, err := proxy.New(proxy.Options{Proto: msg.Redis, Listen: "127.0.0.1:0", Datastore: "127.0.0.1:1",
		DC: "dc1", Rack: "r1", DynListen: "127.0.0.1:2", Tokens: []ring.Token{7}, Observer: m,
		Peers: []proxy.Peer{{Name: "127.0.0.1:4", Addr: "127.0.0.1:4", DC: "dc1", Rack: "r2", Tokens: []ring.Token{0}}}})
	require.NoError(t, err)
	m.Attach(s)
	up := seriesOf(t, reg, "dynomite_peer_up")
	require.Len(t, up, 1)
	require.Contains(t, up[0], "127.0.0.1:4")
	require.Len(t, seriesOf(t, reg, "dynomite_peer_errors_total"), 5)
	_, ok := metricstest.Sum(t, reg, "dynomite_peer_requests_total", lbl{"peer": "127.0.0.1:3"})
	require.False(t, ok, "the series of a peer that left are gone")
}

// blockingGatherer holds every Gather until release is closed.
type blockingGatherer struct {
	entered chan struct{}
	release chan struct{}
}

func (g blockingGatherer) Gather() ([]*dto.MetricFamily, error) {
	g.entered <- struct{}{}
	<-g.release
	return nil, nil
}

// scrape GETs url and sends the status code (0 on a transport error).
func scrape(url string, code chan<- int) {
	res, err := http.Get(url)
	if err != nil {
		code <- 0
		return
	}
	res.Body.Close()
	code <- res.StatusCode
}

// Scrapes that outlast the scraper's patience must not pile up: beyond
// MaxScrapesInFlight, a scrape is refused at once with 503 while the
// others are still being gathered, and they all complete once unblocked.
func TestSlowScrapesArePassedOverNotQueued(t *testing.T) {
	g := blockingGatherer{entered: make(chan struct{}), release: make(chan struct{})}
	srv := httptest.NewServer(metrics.Handler(g))
	defer srv.Close()
	codes := make(chan int, metrics.MaxScrapesInFlight)
	for i := 0; i < metrics.MaxScrapesInFlight; i++ {
		go scrape(srv.URL, codes)
		<-g.entered // this one is being gathered
	}
	extra := make(chan int, 1)
	go scrape(srv.URL, extra)
	select {
	case code := <-extra:
		require.Equal(t, http.StatusServiceUnavailable, code, "one scrape too many is refused, not queued")
	case <-g.entered:
		close(g.release)
		t.Fatalf("a scrape beyond MaxScrapesInFlight (%d) was gathered", metrics.MaxScrapesInFlight)
	}
	close(g.release)
	for i := 0; i < metrics.MaxScrapesInFlight; i++ {
		require.Equal(t, http.StatusOK, <-codes)
	}
}
