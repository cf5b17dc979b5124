package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/proxytest"
)

// infoOf reads the node's /info.
func infoOf(t *testing.T, stats string) map[string]any {
	t.Helper()
	res, err := http.Get("http://" + stats + "/info")
	require.NoError(t, err)
	defer res.Body.Close()
	var v map[string]any
	require.NoError(t, json.NewDecoder(res.Body).Decode(&v))
	return v
}

func sha(b string) string {
	s := sha256.Sum256([]byte(b))
	return hex.EncodeToString(s[:])
}

// SIGHUP reloads the configuration file: a live change applies, a
// restart-only change is refused and the configuration in force stays.
func TestSIGHUPReloadsTheConfigurationFile(t *testing.T) {
	ds := proxytest.StartFakeRedis(t).Addr
	listen, stats := proxytest.FreeAddr(t), proxytest.FreeAddr(t)
	body := func(extra string) string {
		return fmt.Sprintf("dyn_o_mite:\n  listen: %s\n  stats_listen: %s\n  servers:\n  - %s:1\n%s", listen, stats, ds, extra)
	}
	first := body("")
	conf := writeConf(t, first)
	cmd := startNodeBinary(t, conf, stats)
	require.Equal(t, sha(first), infoOf(t, stats)["config_hash"])
	require.Equal(t, 1.0, metric(t, stats, "dynomite_config_last_reload_successful"))

	live := body("  write_consistency: DC_QUORUM\n")
	require.NoError(t, os.WriteFile(conf, []byte(live), 0o644))
	require.NoError(t, cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return infoOf(t, stats)["config_hash"] == sha(live) }, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, true, infoOf(t, stats)["config_last_reload_successful"])

	restart := fmt.Sprintf("dyn_o_mite:\n  listen: %s\n  stats_listen: %s\n  servers:\n  - %s:1\n", proxytest.FreeAddr(t), stats, ds)
	require.NoError(t, os.WriteFile(conf, []byte(restart), 0o644))
	require.NoError(t, cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return infoOf(t, stats)["config_last_reload_successful"] == false }, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, sha(live), infoOf(t, stats)["config_hash"], "the configuration in force stays")
	require.Equal(t, 0.0, metric(t, stats, "dynomite_config_last_reload_successful"))
	c := proxytest.Dial(t, listen)
	require.Equal(t, "+PONG\r\n", c.Do("PING"), "still serving on the old listener")
}
