package cli_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/jobs"
)

func TestStreams(t *testing.T) {
	reg := jobs.NewRegistry()
	srv := httptest.NewServer(reg.Handler())
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")

	out, errOut, code := run("streams", "--addr", addr)
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "no streams\n", out)

	j := reg.Start(jobs.Warmup, "from 127.0.0.1:6380 (dc1/rack2)")
	j.Update(jobs.Progress{RangesTotal: 2, Scanned: 3000, Copied: 2000, Skipped: 5, Bytes: 3 << 20, KeysPerSec: 1000, ETA: -1})
	j.Retry(errors.New("source 127.0.0.1:6380: connection refused"))
	j.Update(jobs.Progress{RangesTotal: 2, Scanned: 10, Copied: 10, Bytes: 100, KeysPerSec: 20, ETA: 0})
	out, errOut, code = run("streams", "--addr", addr)
	require.Equal(t, 0, code, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 3, out)
	require.Regexp(t, `^ID +KIND +STATE +ATTEMPTS +RANGES +SCANNED +COPIED +SKIPPED +BYTES +KEYS/S +ETA +ERRORS +NAME$`, lines[0])
	require.Regexp(t, `^1 +warmup +running +2 +0/2 +3010 +2010 +5 +3\.0MiB +20 +0s +0 +from 127\.0\.0\.1:6380 \(dc1/rack2\)$`, lines[1])
	require.Equal(t, "stream 1 (warmup) last error: source 127.0.0.1:6380: connection refused", lines[2])

	out, _, code = run("streams", "--addr", addr, "-o", "json")
	require.Equal(t, 0, code)
	var got []jobs.Snapshot
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	require.Len(t, got, 1)
	require.Equal(t, int64(2010), got[0].KeysCopied)
	require.Equal(t, 1, got[0].FailedAttempts)
}

func TestWarmupCommand(t *testing.T) {
	answer := func(code int, body string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost || r.URL.Path != "/warmup" {
				http.Error(w, "want POST /warmup", http.StatusNotFound)
				return
			}
			w.WriteHeader(code)
			_, _ = w.Write([]byte(body))
		}))
		t.Cleanup(srv.Close)
		return strings.TrimPrefix(srv.URL, "http://")
	}
	out, errOut, code := run("warmup", "--addr", answer(202, `{"started":true,"id":3}`))
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "warm-up started: stream 3 (dynomite streams shows its progress)\n", out)

	_, errOut, code = run("warmup", "--addr", answer(409, `{"started":false,"error":"a warm-up is already running (stream 2)"}`))
	require.Equal(t, 1, code)
	require.Equal(t, "dynomite: warm-up refused (409): a warm-up is already running (stream 2)\n", errOut)

	_, errOut, code = run("warmup", "--addr", answer(401, "admin endpoint: missing or wrong stats_admin_token\n"))
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "pass the node's stats_admin_token with --token")
}
