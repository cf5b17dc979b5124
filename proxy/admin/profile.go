package admin

import (
	"bytes"
	"net/http"
	"net/http/pprof"
	rpprof "runtime/pprof"
	"sync"
)

// RegisterProfiling adds Go's profiling endpoints to mux, guarded like the
// endpoints that change the node by the token that token returns at each
// request (a profile shows the node's internals and costs CPU while it runs):
//
//   - /debug/pprof/... as net/http/pprof serves them (index, heap,
//     goroutine, profile?seconds=N, trace, ...);
//   - POST /debug/cpuprofile/start and POST /debug/cpuprofile/stop, a CPU
//     profile over exactly the span between two calls, which a benchmark
//     brackets around one load run without knowing its length in advance;
//     stop answers the profile (pprof's protobuf format, for
//     `go tool pprof -top BINARY FILE`).
func RegisterProfiling(mux Mux, token func() string) {
	g := func(pattern string, f http.HandlerFunc) { mux.Handle(pattern, guard(token, f)) }
	g("GET /debug/pprof/", pprof.Index)
	g("GET /debug/pprof/cmdline", pprof.Cmdline)
	g("GET /debug/pprof/profile", pprof.Profile)
	g("GET /debug/pprof/symbol", pprof.Symbol)
	g("GET /debug/pprof/trace", pprof.Trace)

	var cp cpuProfile
	g("POST /debug/cpuprofile/start", cp.start)
	g("POST /debug/cpuprofile/stop", cp.stop)
}

// cpuProfile is the one CPU profile a process can run at a time, started
// and stopped by two requests.
type cpuProfile struct {
	mu  sync.Mutex
	buf *bytes.Buffer // nil when none is running
}

func (p *cpuProfile) start(w http.ResponseWriter, _ *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.buf != nil {
		http.Error(w, "cpuprofile: a profile is already running; POST /debug/cpuprofile/stop first", http.StatusConflict)
		return
	}
	buf := new(bytes.Buffer)
	// runtime/pprof fails when another CPU profile runs (for example one
	// from GET /debug/pprof/profile): say so instead of losing it.
	if err := rpprof.StartCPUProfile(buf); err != nil {
		http.Error(w, "cpuprofile: "+err.Error(), http.StatusConflict)
		return
	}
	p.buf = buf
	text(w, "OK\r\n")
}

func (p *cpuProfile) stop(w http.ResponseWriter, _ *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.buf == nil {
		http.Error(w, "cpuprofile: no profile is running; POST /debug/cpuprofile/start first", http.StatusConflict)
		return
	}
	rpprof.StopCPUProfile()
	buf := p.buf
	p.buf = nil
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="cpu.pprof"`)
	_, _ = w.Write(buf.Bytes())
}
