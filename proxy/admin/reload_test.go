package admin

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

func post(t *testing.T, h http.Handler, path, remote string, header ...string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest("POST", path, nil)
	req.RemoteAddr = remote
	if len(header) == 2 {
		req.Header.Set(header[0], header[1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	b, err := io.ReadAll(w.Result().Body)
	require.NoError(t, err)
	var doc map[string]any
	if w.Code < 401 || w.Code > 403 {
		require.NoError(t, json.Unmarshal(b, &doc), "%s", b)
		require.Equal(t, "application/json; charset=utf-8", w.Header().Get("Content-Type"))
	}
	return w.Code, doc
}

// The JSON document and status codes are what `dynomite reload` reads.
func TestReloadAnswersItsResultAsJSON(t *testing.T) {
	next := ReloadResult{OK: true, Hash: "ab12", Changed: []string{"timeout"}}
	mux := http.NewServeMux()
	calls := 0
	RegisterReload(mux, newFake(t, ""), func() ReloadResult { calls++; return next })

	code, doc := post(t, mux, "/reload", "127.0.0.1:5000")
	require.Equal(t, 200, code)
	require.Equal(t, map[string]any{"ok": true, "hash": "ab12", "changed": []any{"timeout"}, "error": ""}, doc)

	next = ReloadResult{Hash: "cd34", Changed: []string{"listen"}, Error: "listen: a → b needs a restart", Status: 409}
	code, doc = post(t, mux, "/reload", "127.0.0.1:5000")
	require.Equal(t, 409, code)
	require.Equal(t, false, doc["ok"])
	require.Equal(t, "listen: a → b needs a restart", doc["error"])

	next = ReloadResult{Error: "node.yml:3: timeout: \"x\" is not a number", Status: 400}
	code, doc = post(t, mux, "/reload", "127.0.0.1:5000")
	require.Equal(t, 400, code)
	require.Equal(t, []any{}, doc["changed"], "changed is a list, never null")
	require.Equal(t, 3, calls)

	// GET is not the endpoint: a crawler or a prefetch must not reload
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("GET", "/reload", nil))
	require.Equal(t, http.StatusMethodNotAllowed, w.Code)
	require.Equal(t, 3, calls)
}

func TestReloadIsGuardedLikeTheOtherAdminEndpoints(t *testing.T) {
	f := newFake(t, "")
	mux := http.NewServeMux()
	calls := 0
	RegisterReload(mux, f, func() ReloadResult { calls++; return ReloadResult{OK: true} })

	code, _ := post(t, mux, "/reload", "192.0.2.1:5000")
	require.Equal(t, http.StatusForbidden, code, "no token: loopback only")
	require.Zero(t, calls)

	f.token = "s3cret" // a reload may set the token: the guard reads it per request
	code, _ = post(t, mux, "/reload", "127.0.0.1:5000")
	require.Equal(t, http.StatusUnauthorized, code)
	code, _ = post(t, mux, "/reload", "192.0.2.1:5000", "Authorization", "Bearer s3cret")
	require.Equal(t, 200, code)
	require.Equal(t, 1, calls)
}
