package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/dynomite-go/dynomite/proxy/hints"
	"github.com/dynomite-go/dynomite/proxy/msg"
)

// Hinted handoff (proxy/hints has the design). This file is the proxy's
// side: which failed copies become hints (keepHint, from the fan-out),
// when a target is back (the peer pool is connected and the peer is not
// marked down), and how a hint is sent (sendHint, through the same peer
// pool as live copies, stamped "h" so the replica's guard (lww.go) can
// refuse it).

// hintPoll is how often the replayer looks for targets that are back.
var hintPoll = time.Second

// handoff is the cluster's hint store and its replayer's state.
type handoff struct {
	store *hints.Store
	rate  int64

	mu      sync.Mutex
	running map[string]bool
}

// keepHint keeps a hint for a write's copy that its replica did not apply:
// it failed (peer down or marked down, link cut, timeout, shutdown; this
// node's own datastore down or timing out), or the peer answered with one
// of the proxy's own failures (its datastore refused or timed out,
// "Storage: ..."; a node shutting down). A copy the datastore answered,
// even with an error (WRONGTYPE), was applied as far as it goes and is not
// hinted. A copy for this node's own datastore is kept under this node's
// name and replayed to that datastore once it is connected again.
func (f *fanout) keepHint(si *subInfo, sub *msg.Request) {
	h := f.c.hints
	if h == nil || !f.hinted || errors.Is(sub.Err, errNotNeeded) {
		return
	}
	if sub.Err == nil && !(replyIsError(sub.Reply) && proxyFailure(sub.Reply)) {
		return
	}
	h.store.Add(si.node.Name, &hints.Hint{Stamp: sub.Stamp, Node: sub.StampNode, PeerType: uint8(sub.PeerType), Raw: sub.Raw})
}

// errHintTarget: the target is not in the ring, not connected or marked
// down; the replay stops and resumes when it is back.
var errHintTarget = errors.New("hint target not reachable")

// replayLoop replays the hints of every target that is back, one goroutine
// per target, until ctx ends; it also ends each target's episode of
// failures once the target is reachable (hints.Store.Up).
func (c *cluster) replayLoop(ctx context.Context) {
	h := c.hints
	tk := time.NewTicker(hintPoll)
	defer tk.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		}
		for _, ts := range h.store.Stats() {
			if !c.reachable(ts.Target) {
				continue
			}
			if !ts.DownSince.IsZero() {
				h.store.Up(ts.Target)
			}
			if ts.PendingRecords == 0 {
				continue
			}
			h.mu.Lock()
			busy := h.running[ts.Target]
			h.running[ts.Target] = true
			h.mu.Unlock()
			if busy {
				continue
			}
			target := ts.Target
			wg.Go(func() {
				defer func() {
					h.mu.Lock()
					delete(h.running, target)
					h.mu.Unlock()
				}()
				err := h.store.Replay(ctx, target, h.rate, func(ctx context.Context, hint *hints.Hint) error {
					return c.sendHint(target, hint)
				})
				if err != nil && ctx.Err() == nil {
					c.opts.Logger.Info("hint replay paused", "target", target, "err", err)
				}
			})
		}
	}
}

// reachable reports whether the node named name is in the ring, connected
// and not marked down (this node: its datastore is connected).
func (c *cluster) reachable(name string) bool {
	st := c.state.Load()
	i := st.nodeIndex(name)
	switch {
	case i < 0:
		return false
	case st.topo.Node(i).Local:
		return c.local.Up()
	}
	return !st.down[i].Load() && st.pools[i].Up()
}

// nodeIndex is the ring index of the node named name, or -1.
func (st *clusterState) nodeIndex(name string) int {
	for i, n := range st.topo.Nodes() {
		if n.Name == name {
			return i
		}
	}
	return -1
}

// sendHint sends one hint to its target and waits for the reply. The
// request is parsed again from its raw bytes (the hint keeps only those),
// so that the peer pool knows how its reply ends.
func (c *cluster) sendHint(target string, h *hints.Hint) error {
	if !c.reachable(target) {
		return errHintTarget
	}
	st := c.state.Load()
	i := st.nodeIndex(target)
	r := c.reqs.Get()
	defer c.reqs.Put(r)
	fr := msg.NewFrameReader(bytes.NewReader(h.Raw), len(h.Raw)+1, len(h.Raw)+1)
	if err := fr.Fill(len(h.Raw)); err != nil {
		return fmt.Errorf("hint for %s: reading it back: %w", target, err)
	}
	if act, _, err := c.codec.read(fr, r); err != nil || act != actForward {
		// cannot happen for a request this node forwarded; not retried
		c.opts.Logger.Error("hint does not parse as a request; skipped", "target", target, "err", err)
		c.hintsUnparsed.Add(1)
		return nil
	}
	r.Stamp, r.StampNode, r.Replay = h.Stamp, h.Node, true
	r.PeerType = msg.PeerType(h.PeerType)
	if st.topo.Node(i).Local {
		c.toDatastore(r, 0)
	} else {
		st.pools[i].Send(r, 0)
	}
	r.Wait()
	if st.topo.Node(i).Local {
		c.applied(r)
	}
	if r.Err != nil {
		return fmt.Errorf("hint for %s: %w", target, r.Err)
	}
	if replyIsError(r.Reply) && proxyFailure(r.Reply) {
		return fmt.Errorf("hint for %s: the replica could not apply it: %s", target, bytes.TrimSpace(r.Reply))
	}
	return nil
}

// proxyFailure reports whether an error reply is the proxy's own (its
// datastore or its peers failed: "Storage: ...", "Peer: ...",
// "Dynomite: ..."), not the datastore's answer to the command.
func proxyFailure(reply []byte) bool {
	head := reply[:min(len(reply), 40)]
	return bytes.Contains(head, []byte("Storage: ")) || bytes.Contains(head, []byte("Peer: ")) ||
		bytes.Contains(head, []byte("Dynomite: "))
}

// HintStats lists the hint log of every target, and an empty one for each
// peer of the ring without hints (so that its series exist from the
// start); nil when hinted handoff is off (no hints_dir).
func (s *Server) HintStats() []hints.TargetStats {
	if s.cluster == nil || s.cluster.hints == nil {
		return nil
	}
	out := s.cluster.hints.store.Stats()
	have := make(map[string]bool, len(out))
	for _, st := range out {
		have[st.Target] = true
	}
	for _, n := range s.cluster.state.Load().topo.Nodes() {
		if !n.Local && !have[n.Name] {
			out = append(out, hints.TargetStats{Target: n.Name})
		}
	}
	return out
}
