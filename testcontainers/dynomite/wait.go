package dynomite

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/testcontainers/testcontainers-go/wait"
)

// ReadyStrategy waits until a node's stats listener says it serves: /ready
// answers 200 (the datastore is connected and every peer its seeds name is
// known). On builds without /ready (404) it asks /health instead, 200 once
// the datastore is connected. A node that exits fails the wait at once.
func ReadyStrategy(timeout time.Duration) wait.Strategy {
	return &readyStrategy{timeout: timeout, poll: 100 * time.Millisecond}
}

type readyStrategy struct {
	timeout, poll time.Duration
}

// Timeout lets wait.ForAll apply its own deadline.
func (s *readyStrategy) Timeout() *time.Duration { return &s.timeout }

func (s *readyStrategy) String() string {
	return fmt.Sprintf("dynomite /ready (or /health) on %s within %s", StatsPort, s.timeout)
}

func (s *readyStrategy) WaitUntilReady(ctx context.Context, target wait.StrategyTarget) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	path := "/ready"
	last := "no answer yet"
	client := http.Client{Timeout: 2 * time.Second}
	for {
		if st, err := target.State(ctx); err == nil && !st.Running {
			return fmt.Errorf("dynomite node is %s (exit code %d) while waiting for %s", st.Status, st.ExitCode, path)
		}
		addr, err := endpointOf(ctx, target, StatsPort)
		if err != nil {
			last = err.Error()
		} else {
			code, body, err := get(ctx, &client, "http://"+addr+path)
			switch {
			case err != nil:
				last = err.Error()
			case code == http.StatusOK:
				return nil
			case code == http.StatusNotFound && path == "/ready":
				path = "/health" // a build from before /ready
				continue
			default:
				last = fmt.Sprintf("%s answers %d: %s", path, code, body)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("dynomite node not ready within %s: %s", s.timeout, last)
		case <-time.After(s.poll):
		}
	}
}

func endpointOf(ctx context.Context, t wait.StrategyTarget, port string) (string, error) {
	host, err := t.Host(ctx)
	if err != nil {
		return "", err
	}
	p, err := t.MappedPort(ctx, port)
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(host, p.Port()), nil
}

// get returns the status and the start of the body (what /ready says is
// missing), on one line.
func get(ctx context.Context, c *http.Client, url string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	r, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(r.Body, 512))
	_, _ = io.Copy(io.Discard, r.Body)
	return r.StatusCode, strings.Join(strings.Fields(string(b)), " "), nil
}

// peersUp counts the peers a node reports connected: the
// dynomite_peer_up samples of its /metrics whose value is 1.
func peersUp(ctx context.Context, c *http.Client, statsAddr string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+statsAddr+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	r, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer r.Body.Close()
	if r.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("/metrics answers %d", r.StatusCode)
	}
	return countPeersUp(r.Body)
}

func countPeersUp(body io.Reader) (int, error) {
	n := 0
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "dynomite_peer_up{") {
			continue
		}
		if f := strings.Fields(line); f[len(f)-1] == "1" {
			n++
		}
	}
	return n, sc.Err()
}
