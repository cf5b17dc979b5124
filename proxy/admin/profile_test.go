package admin

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func postRaw(t *testing.T, h http.Handler, path, remote string) (int, []byte) {
	t.Helper()
	req := httptest.NewRequest("POST", path, nil)
	req.RemoteAddr = remote
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	b, err := io.ReadAll(w.Result().Body)
	require.NoError(t, err)
	return w.Code, b
}

// spin burns CPU so that the profile has samples.
func spin(n int) uint64 {
	var x uint64 = 1
	for i := 0; i < n; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	return x
}

func TestCPUProfileBracketsARun(t *testing.T) {
	mux := http.NewServeMux()
	RegisterProfiling(mux, func() string { return "" })
	const local = "127.0.0.1:4000"

	code, body := postRaw(t, mux, "/debug/cpuprofile/stop", local)
	require.Equal(t, http.StatusConflict, code, "stop without start")
	require.Contains(t, string(body), "no profile is running")

	code, _ = postRaw(t, mux, "/debug/cpuprofile/start", local)
	require.Equal(t, http.StatusOK, code)
	code, body = postRaw(t, mux, "/debug/cpuprofile/start", local)
	require.Equal(t, http.StatusConflict, code, "a second start")
	require.Contains(t, string(body), "already running")

	_ = spin(50_000_000)
	code, body = postRaw(t, mux, "/debug/cpuprofile/stop", local)
	require.Equal(t, http.StatusOK, code)
	// A CPU profile is a gzip-compressed protocol buffer.
	require.Greater(t, len(body), 2)
	require.Equal(t, []byte{0x1f, 0x8b}, body[:2], "not a gzip stream")

	// Stopped: it can start again.
	code, _ = postRaw(t, mux, "/debug/cpuprofile/start", local)
	require.Equal(t, http.StatusOK, code)
	code, _ = postRaw(t, mux, "/debug/cpuprofile/stop", local)
	require.Equal(t, http.StatusOK, code)
}

func TestProfilingIsGuarded(t *testing.T) {
	mux := http.NewServeMux()
	RegisterProfiling(mux, func() string { return "" })
	code, _ := postRaw(t, mux, "/debug/cpuprofile/start", "10.1.2.3:4000")
	require.Equal(t, http.StatusForbidden, code, "a remote client without a token")
	code, body := call(t, mux, "/debug/pprof/", "10.1.2.3:4000")
	require.Equal(t, http.StatusForbidden, code, body)
	code, body = call(t, mux, "/debug/pprof/")
	require.Equal(t, http.StatusOK, code)
	require.True(t, strings.Contains(body, "goroutine"), body)

	tok := http.NewServeMux()
	RegisterProfiling(tok, func() string { return "s3cret" })
	code, _ = call(t, tok, "/debug/pprof/goroutine?debug=1")
	require.Equal(t, http.StatusUnauthorized, code, "loopback without the token, when one is set")
	code, body = call(t, tok, "/debug/pprof/goroutine?debug=1", "Authorization", "Bearer s3cret")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "goroutine profile")
}
