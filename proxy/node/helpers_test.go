package node_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/config"
	"github.com/dynomite-go/dynomite/proxy/node"
	"github.com/dynomite-go/dynomite/proxy/node/nodetest"
	"github.com/dynomite-go/dynomite/proxy/proxytest"
)

// redisDo sends one command on a new connection and returns the raw reply.
func redisDo(t testing.TB, addr string, args ...string) string {
	c := proxytest.Dial(t, addr)
	defer c.Close()
	return c.Do(args...)
}

// runNode builds the node yml describes and runs it as the dynomite
// command does; kill stops it and checks Run's result. With gossip on,
// kill stops gossip first without a goodbye, so the others must detect
// the death.
func runNode(t *testing.T, yml string, log *slog.Logger, opts ...node.Option) (n *node.Node, kill func()) {
	t.Helper()
	cfg, err := config.Parse([]byte(yml), "node.yml")
	require.NoError(t, err)
	n, err = node.New(context.Background(), cfg, append([]node.Option{node.WithLogger(log)}, opts...)...)
	require.NoError(t, err)
	require.NoError(t, n.Listen())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	if cfg.EnableGossip {
		require.Eventually(t, func() bool { return n.Membership().Gossip() != nil }, 10*time.Second, 10*time.Millisecond, "gossip never started")
	}
	var once sync.Once
	kill = func() {
		once.Do(func() {
			if g := n.Membership().Gossip(); g != nil {
				_ = g.Shutdown() // no Leave: the others must detect the death
			}
			cancel()
			require.NoError(t, <-done)
		})
	}
	t.Cleanup(kill)
	return n, kill
}

// testLog is a logger into a buffer whose contents are shown when the
// test fails.
func testLog(t *testing.T, level slog.Level) (*slog.Logger, *nodetest.Logs) {
	logs := &nodetest.Logs{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", logs)
		}
	})
	return slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: level})), logs
}
