package admin

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// fakeScaler records what the endpoints hand it.
type fakeScaler struct {
	req      *ScaleRequest
	plan     *ScalePlanJSON
	planSet  int
	startErr error
}

func (f *fakeScaler) StartScale(req ScaleRequest) (ScaleStatus, error) {
	f.req = &req
	return ScaleStatus{ID: "ab", State: ScaleRunning, Join: req.Join}, f.startErr
}
func (f *fakeScaler) ScaleStatus() ScaleStatus { return ScaleStatus{ID: "ab", State: ScaleDone} }
func (f *fakeScaler) AbortScale() (ScaleStatus, error) {
	return ScaleStatus{ID: "ab", State: ScaleRunning}, errors.New("the move cannot be aborted: switched")
}
func (f *fakeScaler) SetScalePlan(p *ScalePlanJSON) error {
	f.planSet++
	if p != nil && p.Phase == "sideways" {
		return errors.New(`unknown phase "sideways"`)
	}
	f.plan = p
	return nil
}
func (f *fakeScaler) ScalePlan() *ScalePlanJSON { return f.plan }
func (f *fakeScaler) StartCleanup() (CleanupStatus, error) {
	return CleanupStatus{ID: 3, State: ScaleRunning}, nil
}
func (f *fakeScaler) CleanupStatus() CleanupStatus { return CleanupStatus{ID: 3, State: ScaleDone} }

// send serves one request from 127.0.0.1, or from header[0] when it is
// the only header argument, with the header header[0]: header[1] when
// there are two.
func send(t testing.TB, h http.Handler, method, path, body string, header ...string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.RemoteAddr = "127.0.0.1:5000"
	if len(header) == 2 {
		req.Header.Set(header[0], header[1])
	}
	if len(header) == 1 {
		req.RemoteAddr = header[0]
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	b, err := io.ReadAll(w.Result().Body)
	require.NoError(t, err)
	return w.Code, string(b)
}

func TestScaleEndpoints(t *testing.T) {
	f := &fakeScaler{}
	mux := http.NewServeMux()
	RegisterScale(mux, newFake(t, "s3cret"), f)

	code, _ := send(t, mux, "POST", "/scale", `{"join":["10.0.0.4:8101"]}`)
	require.Equal(t, http.StatusUnauthorized, code, "guarded by stats_admin_token")
	require.Nil(t, f.req)
	auth := []string{"Authorization", "Bearer s3cret"}
	code, body := send(t, mux, "POST", "/scale", `{"join":["10.0.0.4:8101"]}`, auth...)
	require.Equal(t, http.StatusAccepted, code, body)
	require.Equal(t, &ScaleRequest{Join: []string{"10.0.0.4:8101"}}, f.req)
	require.Contains(t, body, `"state": "running"`)

	code, body = send(t, mux, "POST", "/scale", `{"joins":["x"]}`, auth...)
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, body, `unknown field "joins"`)

	f.startErr = errors.New(`leave: no node "x:1" in the ring`)
	code, body = send(t, mux, "POST", "/scale", `{"leave":["x:1"]}`, auth...)
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, body, `no node "x:1"`)
	f.startErr = ErrScaleRunning
	code, body = send(t, mux, "POST", "/scale", `{"leave":["x:1"]}`, auth...)
	require.Equal(t, http.StatusConflict, code)
	require.Contains(t, body, `"error": "a move is already running"`)

	code, body = send(t, mux, "GET", "/scale", "")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `"state": "done"`)

	code, body = send(t, mux, "POST", "/scale/abort", "", auth...)
	require.Equal(t, http.StatusConflict, code)
	require.Contains(t, body, "cannot be aborted")

	code, body = send(t, mux, "POST", "/scale/plan", `{"id":"ab","join":["j:1"],"phase":"dual"}`, auth...)
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, &ScalePlanJSON{ID: "ab", Join: []string{"j:1"}, Phase: "dual"}, f.plan)
	code, body = send(t, mux, "GET", "/scale/plan", "")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `"phase": "dual"`)
	code, body = send(t, mux, "POST", "/scale/plan", `{"id":"ab","phase":"sideways"}`, auth...)
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, body, `"sideways"`)
	code, body = send(t, mux, "POST", "/scale/plan", ``, auth...)
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, body, "the body is empty")
	require.NotNil(t, f.plan, "an empty body does not remove the plan")
	code, _ = send(t, mux, "POST", "/scale/plan", `null`, auth...)
	require.Equal(t, http.StatusOK, code)
	require.Nil(t, f.plan)
	code, body = send(t, mux, "GET", "/scale/plan", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "null\n", body)

	code, body = send(t, mux, "POST", "/cleanup", "", auth...)
	require.Equal(t, http.StatusAccepted, code)
	require.Contains(t, body, `"state": "running"`)
	code, body = send(t, mux, "GET", "/cleanup", "")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `"state": "done"`)
}
