package node

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/admin"
	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/seedprovider"
)

func TestMetricsWiring(t *testing.T) {
	opts := proxy.Options{Pool: "dyn_o_mite", Proto: msg.Redis, Listen: "127.0.0.1:0",
		Datastore: "127.0.0.1:1", DatastoreName: "127.0.0.1:1", DC: "dc7", Rack: "rack7"}
	m, reg := setupMetrics(&opts, "1.2.3-test")
	defer m.Close()
	require.Same(t, m, opts.Observer)
	srv, err := proxy.New(opts)
	require.NoError(t, err)
	stats := admin.New("127.0.0.1:0", nil, nil)
	admin.RegisterCluster(stats, srv.Admin(), nil)
	attachMetrics(m, reg, srv, stats)
	require.NoError(t, stats.Listen())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- stats.Serve(ctx) }()
	defer func() {
		cancel()
		require.NoError(t, <-done)
	}()
	get := func(path string) string {
		c := &http.Client{Timeout: 5 * time.Second}
		res, err := c.Get("http://" + stats.Addr().String() + path)
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode, path)
		return string(b)
	}
	body := get("/metrics")
	require.Contains(t, body, `dynomite_build_info{datacenter="dc7",goversion=`)
	require.Contains(t, body, `version="1.2.3-test"} 1`)
	require.Contains(t, body, `dynomite_datastore_up{datacenter="dc7",rack="rack7"} 0`)
	var info map[string]any
	require.NoError(t, json.Unmarshal([]byte(get("/info")), &info))
	require.Equal(t, "1.2.3-test", info["version"])
	require.Equal(t, "dc7", info["dc"])
	require.Contains(t, info, "dyn_o_mite")
	require.Equal(t, "OK\r\n", get("/historeset"))

	// the defaults a configuration without datacenter/rack gets
	var o proxy.Options
	m2, reg2 := setupMetrics(&o, "1.2.3-test")
	defer m2.Close()
	mfs, err := reg2.Gather()
	require.NoError(t, err)
	require.Contains(t, mfs[0].GetMetric()[0].String(), "localdc")
}

func TestSeedProviderMetrics(t *testing.T) {
	o := proxy.Options{DC: "dc1", Rack: "r1"}
	m, reg := setupMetrics(&o, "test")
	defer m.Close()
	sm := &seedprovider.Metrics{}
	registerSeedMetrics(m, "florida_provider", sm)

	body := gather(t, reg) // not polling yet
	require.Contains(t, body, `dynomite_seedprovider_refresh_total{datacenter="dc1",outcome="success",provider="florida_provider",rack="r1"} 0`)

	sm.Refreshes.Store(7)
	sm.Failures.Store(2)
	body = gather(t, reg)
	require.Contains(t, body, `dynomite_seedprovider_refresh_total{datacenter="dc1",outcome="success",provider="florida_provider",rack="r1"} 5`)
	require.Contains(t, body, `dynomite_seedprovider_refresh_total{datacenter="dc1",outcome="error",provider="florida_provider",rack="r1"} 2`)
}

func gather(t *testing.T, g prometheus.Gatherer) string {
	t.Helper()
	mfs, err := g.Gather()
	require.NoError(t, err)
	var b bytes.Buffer
	for _, mf := range mfs {
		_, err := expfmt.MetricFamilyToText(&b, mf)
		require.NoError(t, err)
	}
	return b.String()
}
