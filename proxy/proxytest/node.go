package proxytest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/msg"
)

// Node is one in-process proxy serving on 127.0.0.1.
type Node struct {
	// Server is the running node; Addr its client listener.
	Server *proxy.Server
	Addr   string

	t      testing.TB
	mu     sync.Mutex // serialises Stop
	cancel context.CancelFunc
	done   chan error
}

// NodeOptions are the options StartNode begins with: the datastore timeouts
// short enough for tests, the pool connected before serving.
func NodeOptions(proto msg.Proto, datastore string) proxy.Options {
	return proxy.Options{Proto: proto, Listen: "127.0.0.1:0", Datastore: datastore, DatastoreConns: 2,
		Timeout: 2 * time.Second, RetryTimeout: 500 * time.Millisecond, Preconnect: true, FailureLimit: 3}
}

// StartNode starts a node in front of the datastore at address datastore,
// with NodeOptions adjusted by mod (nil for none), and waits until it is
// connected to it. The node stops with the test.
func StartNode(t testing.TB, proto msg.Proto, datastore string, mod func(*proxy.Options)) *Node {
	t.Helper()
	o := NodeOptions(proto, datastore)
	if mod != nil {
		mod(&o)
	}
	return startServer(t, o)
}

func startServer(t testing.TB, o proxy.Options) *Node {
	t.Helper()
	s, err := proxy.New(o)
	if err != nil {
		t.Fatalf("proxy.New: %v", err)
	}
	if err := s.Listen(); err != nil {
		t.Fatalf("listening: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &Node{Server: s, Addr: s.Addr().String(), t: t, cancel: cancel, done: make(chan error, 1)}
	go func() { n.done <- s.Serve(ctx) }()
	t.Cleanup(n.Stop)
	Eventually(t, 10*time.Second, s.Backend().AllUp, "the node never connected every datastore connection to %s", o.Datastore)
	return n
}

// Stop stops the node and waits until Serve returned (its connections
// drained and closed); an error from Serve, or a drain longer than 15
// seconds, fails the test. It may be called from any goroutine, and more
// than once.
func (n *Node) Stop() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cancel == nil {
		return
	}
	n.cancel()
	n.cancel = nil
	select {
	case err := <-n.done:
		if err != nil {
			n.t.Errorf("node %s stopped with: %v", n.Addr, err)
		}
	case <-time.After(15 * time.Second):
		n.t.Errorf("node %s did not stop within 15s", n.Addr)
	}
}

// Running reports whether the node has not been stopped.
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cancel != nil
}
