package node_test

import (
	"context"
	"fmt"
	"net"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/config"
	"github.com/dynomite-go/dynomite/proxy/node"
	"github.com/dynomite-go/dynomite/proxy/proxytest"
)

func newNode(t *testing.T, extra string) *node.Node {
	t.Helper()
	yml := fmt.Sprintf("dyn_o_mite:\n  listen: %s\n  dyn_listen: %s\n  stats_listen: %s\n  tokens: '0'\n  servers:\n  - 127.0.0.1:1:1\n  preconnect: false\n%s",
		proxytest.FreeAddr(t), proxytest.FreeAddr(t), proxytest.FreeAddr(t), extra)
	cfg, err := config.Parse([]byte(yml), "node.yml")
	require.NoError(t, err)
	n, err := node.New(context.Background(), cfg)
	require.NoError(t, err)
	return n
}

// refused reports whether nothing accepts connections on addr any more.
func refused(addr net.Addr) bool {
	c, err := net.Dial("tcp", addr.String())
	if err == nil {
		c.Close()
	}
	return err != nil
}

func TestRunStopsEveryComponentWhenOneFails(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	n := newNode(t, "  enable_gossip: true\n  gossip_listen: "+taken.Addr().String()+"\n")
	require.NoError(t, n.Listen())

	// gossip cannot bind: Run returns its error without ctx ending, and the
	// proxy and stats listeners it started are closed
	err = n.Run(context.Background())
	require.ErrorContains(t, err, "gossip: listen on "+taken.Addr().String())
	require.True(t, refused(n.Addr()), "client listener closed")
	require.True(t, refused(n.StatsAddr()), "stats listener closed")
	require.True(t, refused(n.Server().PeerAddr()), "peer listener closed")
}

func TestRunReturnsNilWhenItsContextEnds(t *testing.T) {
	n := newNode(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	cancel()
	require.NoError(t, <-done)
}

func TestRunFailsWhenTheStatsPortIsTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	cfg, err := config.Parse([]byte(fmt.Sprintf("dyn_o_mite:\n  listen: %s\n  stats_listen: %s\n  servers:\n  - 127.0.0.1:1:1\n  preconnect: false\n",
		proxytest.FreeAddr(t), taken.Addr())), "node.yml")
	require.NoError(t, err)
	n, err := node.New(context.Background(), cfg)
	require.NoError(t, err)
	require.ErrorContains(t, n.Run(context.Background()), "stats_listen")
	require.True(t, refused(n.Addr()), "the client listener Listen opened is closed again")
}
