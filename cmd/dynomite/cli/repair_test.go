package cli_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/admin"
)

// fakeRepair answers POST /repair with a running repair, then GET /repair
// with it running once more and then with final; it records the request.
func fakeRepair(t *testing.T, final string) (addr string, got *admin.RepairRequest) {
	got = &admin.RepairRequest{}
	var polls atomic.Int32
	running := `{"id":4,"state":"running","trigger":"admin","replicas":["dc1/r1: 10.0.0.1:6379"],"result":{"phase":"digest","scanned":10}}`
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/repair":
			b, _ := io.ReadAll(r.Body)
			if err := json.Unmarshal(b, got); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			w.WriteHeader(http.StatusAccepted)
			_, _ = w.Write([]byte(running))
		case r.Method == http.MethodGet && r.URL.Path == "/repair":
			if polls.Add(1) == 1 {
				_, _ = w.Write([]byte(running))
				return
			}
			_, _ = w.Write([]byte(final))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://"), got
}

const repairDone = `{"id":4,"state":"done","trigger":"admin","replicas":["dc1/r1: 10.0.0.1:6379","dc1/r2: 10.0.0.2:6379"],
"result":{"phase":"done","ranges":[{"range":{"start":5,"end":9},"keys":300,"leaves":32,"leaves_differing":2,"candidates":2,"found":2,"fixed":2}],
"scanned":600,"found":2,"fixed":2,"by_majority":1,"by_timestamp":1,"elapsed_seconds":0.25,
"keys":[{"key":"user:1","rule":"majority","winner":"dc1/r1","losers":["dc1/r2"]},{"key":"user:7","rule":"timestamp","winner":"dc1/r2","losers":["dc1/r1"]}]}}`

func TestRepairWaitsAndPrintsTheResult(t *testing.T) {
	addr, got := fakeRepair(t, repairDone)
	out, errOut, code := run("repair", "--addr", addr, "--range", "5:9", "--datastore", "10.0.0.2:8101=10.0.0.2:6379")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, admin.RepairRequest{Ranges: []admin.RepairRange{{Start: 5, End: 9}},
		Datastores: map[string]string{"10.0.0.2:8101": "10.0.0.2:6379"}}, *got)
	require.Equal(t, `repair 4 done in 0.2s (admin)
replicas: dc1/r1: 10.0.0.1:6379; dc1/r2: 10.0.0.2:6379
RANGE   KEYS  LEAVES  DIFFERING  FOUND  FIXED  UNRESOLVED  CHANGED
(5, 9]  300   32      2          2      2      0           0
600 keys read; 2 divergent keys found, 2 fixed (by timestamp 1, majority 1, preferred datacenter 0); 0 unresolved, 0 changed meanwhile, 0 errors
KEY       RULE       WINNER  REPAIRED
"user:1"  majority   dc1/r1  dc1/r2
"user:7"  timestamp  dc1/r2  dc1/r1
`, out)

	addr, _ = fakeRepair(t, repairDone)
	out, _, code = run("repair", "--addr", addr, "-o", "json")
	require.Equal(t, 0, code)
	var v map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &v))
	require.Equal(t, "done", v["state"])
	require.Equal(t, float64(2), v["result"].(map[string]any)["fixed"])
}

func TestRepairExitsOneWhenKeysStayDivergent(t *testing.T) {
	addr, _ := fakeRepair(t, `{"id":4,"state":"done","replicas":[],"result":{"found":3,"fixed":2,"unresolved":1}}`)
	_, errOut, code := run("repair", "--addr", addr)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "repair 4 left keys divergent: 1 unresolved (set repair_preferred_dc)")

	addr, _ = fakeRepair(t, `{"id":4,"state":"failed","replicas":[],"error":"replica dc2/r1: connecting to 10.1.0.1:6379: refused","result":{}}`)
	out, errOut, code := run("repair", "--addr", addr)
	require.Equal(t, 1, code)
	require.Contains(t, out, "error: replica dc2/r1: connecting to 10.1.0.1:6379: refused")
	require.Contains(t, errOut, "repair 4 failed")

	_, errOut, code = run("repair", "--addr", addr, "--range", "5-9")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, `--range "5-9": want START:END`)
}
