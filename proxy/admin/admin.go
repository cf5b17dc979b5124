// Package admin serves the stats listener (`stats_listen`, default
// 0.0.0.0:22222): upstream's HTTP endpoints (dyn_stats.c) beside the
// Prometheus metrics that proxy/metrics registers.
//
// [Server] answers:
//
//	/ping   "OK\r\n" while the node serves (what upstream answers)
//	/health 200 "OK" when the datastore is connected, 503 otherwise
//	        (used by the container healthcheck: `dynomite health`)
//
// [RegisterCluster] adds the endpoints that read and change the node
// (consistency, timeout factor, node state, peers, read repairs, log
// level, /cluster_describe) over the narrow [Cluster] interface, which the
// proxy package implements: admin never imports it. [RegisterReload] adds
// POST /reload (the configuration reload, whose JSON answer `dynomite
// reload` prints). [RegisterOps] adds the operator's endpoints (/ready,
// /ring, /owner, /status) that the `dynomite ready|ring|owner|status`
// commands read. [RegisterWarmup] adds POST /warmup (start a warm-up of
// the node, guarded) and GET /datastore (the datastore's address as other
// nodes reach it, which a warming peer copies from).
//
// Upstream answers every unknown path with "OK"; we answer 404 so that a
// typo in a runbook is visible (docs/compatibility.md).
package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Checker reports whether the node can serve requests.
type Checker interface {
	Healthy() (ok bool, why string)
}

// Server is the stats listener.
type Server struct {
	addr string
	log  *slog.Logger
	mux  *http.ServeMux
	srv  *http.Server
	ln   net.Listener
}

// New returns a stats server for addr; health may be nil.
func New(addr string, health Checker, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{addr: addr, log: log.With("component", "admin"), mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /ping", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("OK\r\n"))
	})
	s.mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		if health != nil {
			if ok, why := health.Healthy(); !ok {
				http.Error(w, why, http.StatusServiceUnavailable)
				return
			}
		}
		_, _ = w.Write([]byte("OK\n"))
	})
	s.srv = &http.Server{Handler: s.mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
	return s
}

// Handle registers another endpoint (used by later packages: /info, /metrics).
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Listen opens the listener.
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("stats_listen: %q: %w", s.addr, err)
	}
	s.ln = ln
	return nil
}

// Addr is the bound address (after Listen).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve runs until ctx ends.
func (s *Server) Serve(ctx context.Context) error {
	if s.ln == nil {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = s.srv.Shutdown(sctx)
		<-errc
		return nil
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("stats listener: %w", err)
	}
}
