package cli_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/admin"
)

// fakeScale answers the scale endpoints from canned bodies and records the
// requests it got ("METHOD /path body").
type fakeScale struct {
	mu      sync.Mutex
	got     []string
	answers map[string][]string // "METHOD /path" -> "code body", one per call, the last repeated
}

func (f *fakeScale) start(t *testing.T) string {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		key := r.Method + " " + r.URL.Path
		f.mu.Lock()
		f.got = append(f.got, strings.TrimSpace(key+" "+string(b)))
		list := f.answers[key]
		var a string
		if len(list) > 0 {
			a = list[0]
			if len(list) > 1 {
				f.answers[key] = list[1:]
			}
		}
		f.mu.Unlock()
		if a == "" {
			http.NotFound(w, r)
			return
		}
		code, body, _ := strings.Cut(a, " ")
		w.Header().Set("Content-Type", "application/json")
		switch code {
		case "202":
			w.WriteHeader(http.StatusAccepted)
		case "409":
			w.WriteHeader(http.StatusConflict)
		case "400":
			w.WriteHeader(http.StatusBadRequest)
		}
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

const scaleRunning = `{"id":"ab12","join":["10.0.0.4:8101"],"leave":[],"phase":"dual","state":"running","step":"copying 1 transfers (attempt 1)",
"transfers":[],"nodes":[],"cleanups":[],"started":"2026-12-05T17:00:00Z"}`

const scaleDone = `{"id":"ab12","join":["10.0.0.4:8101"],"leave":[],"phase":"done","state":"done","step":"done",
"transfers":[{"datacenter":"dc1","rack":"r1","from":"10.0.0.1:8101","to":"10.0.0.4:8101","ranges":"(0, 2147483648]","keys":120,"skipped":3,"bytes":2048,"done":true}],
"nodes":[{"name":"10.0.0.1:8101","phase":"done"},{"name":"10.0.0.4:8101","phase":"done"}],
"cleanups":[{"node":"10.0.0.1:8101","state":"done","deleted":120}],
"started":"2026-12-05T17:00:00Z","finished":"2026-12-05T17:01:00Z"}`

func TestScaleJoinStatusAbort(t *testing.T) {
	f := &fakeScale{answers: map[string][]string{
		"POST /scale":       {"202 " + scaleRunning},
		"GET /scale":        {"200 " + scaleRunning, "200 " + scaleDone},
		"POST /scale/abort": {`409 {"error":"the move cannot be aborted: move ab12 has switched reads to the new owners; it can only complete","status":{}}`},
	}}
	addr := f.start(t)
	out, errOut, code := run("scale", "join", "10.0.0.4:8101", "--addr", addr)
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "move ab12 started: join [10.0.0.4:8101] leave [] (dynomite scale status shows its progress)\n", out)
	require.Equal(t, `POST /scale {"join":["10.0.0.4:8101"]}`, f.got[0])

	out, errOut, code = run("scale", "status", "--addr", addr)
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "move ab12 running, phase dual: copying 1 transfers (attempt 1)\njoin [10.0.0.4:8101] leave [], started 2026-12-05T17:00:00Z\n", out)
	out, _, code = run("scale", "status", "--addr", addr)
	require.Equal(t, 0, code)
	require.Equal(t, `move ab12 done, phase done: done
join [10.0.0.4:8101] leave [], started 2026-12-05T17:00:00Z, finished 2026-12-05T17:01:00Z
RACK    FROM           TO             RANGES           KEYS  SKIPPED  BYTES   DONE
dc1/r1  10.0.0.1:8101  10.0.0.4:8101  (0, 2147483648]  120   3        2.0KiB  true
NODE           PHASE  ERROR
10.0.0.1:8101  done   -
10.0.0.4:8101  done   -
CLEANUP        STATE  DELETED  ERROR
10.0.0.1:8101  done   120      -
`, out)

	_, errOut, code = run("scale", "abort", "--addr", addr)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "abort refused: the move cannot be aborted: move ab12 has switched")

	_, errOut, code = run("scale", "leave", "--addr", addr)
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "name the nodes")
	_, errOut, code = run("scale", "sideways", "--addr", addr)
	require.Equal(t, 2, code)
	require.Contains(t, errOut, `unknown "sideways"`)
	_, errOut, code = run("scale", "--addr", addr)
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "want join NAME... | leave NAME... | status | abort")
}

func TestScaleLeaveWaitsAndFails(t *testing.T) {
	failed := strings.Replace(strings.Replace(scaleRunning, `"state":"running"`, `"state":"aborted"`, 1), `"step":"copying 1 transfers (attempt 1)"`,
		`"step":"aborted","error":"aborted by POST /scale/abort"`, 1)
	f := &fakeScale{answers: map[string][]string{
		"POST /scale": {"202 " + scaleRunning},
		"GET /scale":  {"200 " + scaleRunning, "200 " + failed},
	}}
	addr := f.start(t)
	out, _, code := run("scale", "leave", "10.0.0.4:8101", "--wait", "1m", "--addr", addr)
	require.Equal(t, 1, code)
	require.Contains(t, out, "move ab12 aborted")
	require.Contains(t, out, "error: aborted by POST /scale/abort")
	require.Equal(t, `POST /scale {"leave":["10.0.0.4:8101"]}`, f.got[0])

	f = &fakeScale{answers: map[string][]string{
		"POST /scale": {`409 {"error":"a move is already running","status":` + scaleRunning + `}`},
	}}
	addr = f.start(t)
	_, errOut, code := run("scale", "join", "x:1", "--addr", addr)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "a move is already running: move ab12 (started 2026-12-05T17:00:00Z) is running")
}

func TestCleanupWaitsAndPrints(t *testing.T) {
	running := `{"id":7,"state":"running","datastore":"127.0.0.1:6379","keep":"(2147483648, 0]","total":300,"scanned":100,"deleted":40,"started":"2026-12-05T17:00:00Z"}`
	done := `{"id":7,"state":"done","datastore":"127.0.0.1:6379","keep":"(2147483648, 0]","total":300,"scanned":300,"deleted":150,"started":"2026-12-05T17:00:00Z","finished":"2026-12-05T17:00:02Z"}`
	f := &fakeScale{answers: map[string][]string{"POST /cleanup": {"202 " + running}, "GET /cleanup": {"200 " + running, "200 " + done}}}
	addr := f.start(t)
	out, errOut, code := run("cleanup", "--addr", addr)
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "cleanup 7 done in 2s: 150 keys deleted of 300 scanned, 0 errors; kept (2147483648, 0]\n", out)

	f = &fakeScale{answers: map[string][]string{"POST /cleanup": {`409 {"error":"cleanup refused: move ab12 is in phase dual on this node; a cleanup runs after phase done","status":{}}`}}}
	addr = f.start(t)
	_, errOut, code = run("cleanup", "--addr", addr)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "cleanup refused: move ab12 is in phase dual")

	var v admin.CleanupStatus
	f = &fakeScale{answers: map[string][]string{"POST /cleanup": {"202 " + done}}}
	addr = f.start(t)
	out, _, code = run("cleanup", "--addr", addr, "-o", "json")
	require.Equal(t, 0, code)
	require.NoError(t, json.Unmarshal([]byte(out), &v))
	require.Equal(t, int64(150), v.Deleted)
}
