package proxy

import (
	"fmt"
	"slices"

	"github.com/dynomite-go/dynomite/proxy/ring"
)

// ScalePhase is how far a scale plan has gone.
type ScalePhase string

const (
	// ScaleDual: joining nodes receive writes for the ranges they will
	// own, leaving nodes still own theirs; reads go to the owners before
	// the move. The ranges are being copied.
	ScaleDual ScalePhase = "dual"
	// ScaleSwitched: reads go to the owners after the move; writes still
	// reach the owners before it too, so a node that has not switched yet
	// reads what a switched node wrote.
	ScaleSwitched ScalePhase = "switched"
	// ScaleDone: joining nodes are normal owners and leaving nodes are
	// out of the ring, even while the seed provider still lists them.
	ScaleDone ScalePhase = "done"
	// ScaleAborted: joining nodes are out of the ring (no reads, no
	// writes) even while the seed provider lists them; leaving nodes are
	// normal owners again.
	ScaleAborted ScalePhase = "aborted"
)

// ScalePlan names the nodes a move adds to their racks (Join) and removes
// (Leave), by ring node name, and how far the move has gone. The node that
// orchestrates a move (proxy/node) installs the same plan on every node
// with SetScalePlan, phase by phase.
type ScalePlan struct {
	ID    string     `json:"id"`
	Join  []string   `json:"join,omitempty"`
	Leave []string   `json:"leave,omitempty"`
	Phase ScalePhase `json:"phase"`
}

// SetScalePlan installs p (nil removes the plan) and rebuilds the ring from
// the current membership and p; the new ring is swapped in atomically. It
// refuses a plan whose phase is unknown, that names a node both joining and
// leaving, or that would leave a rack without an owner, and keeps the
// current one.
//
// A node the plan names need not be in the membership yet (the seed
// provider may list a new node after the plan reached this node): the plan
// applies to it when UpdatePeers brings it. Peers whose address, datacenter
// and rack did not change keep their connections, as with UpdatePeers.
func (s *Server) SetScalePlan(p *ScalePlan) error {
	if err := p.validate(); err != nil {
		return err
	}
	var cp *ScalePlan
	if p != nil {
		cp = p.clone()
	}
	c := s.cluster
	c.mu.Lock()
	defer c.mu.Unlock()
	old, cur, err := c.rebuild(c.members, cp)
	switch {
	case err != nil && cp == nil:
		return fmt.Errorf("removing the scale plan refused: %w", err)
	case err != nil:
		return fmt.Errorf("scale plan %q (phase %s) refused: %w", p.ID, p.Phase, err)
	}
	if cp == nil {
		s.log.Info("scale plan removed")
	} else {
		s.log.Info("scale plan installed", "id", cp.ID, "phase", string(cp.Phase), "join", cp.Join, "leave", cp.Leave)
	}
	s.trackRingChanged(old, cur)
	return nil
}

// ScalePlan returns a copy of the installed plan, or nil.
func (s *Server) ScalePlan() *ScalePlan {
	c := s.cluster
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.plan == nil {
		return nil
	}
	return c.plan.clone()
}

func (p *ScalePlan) clone() *ScalePlan {
	cp := *p
	cp.Join, cp.Leave = slices.Clone(p.Join), slices.Clone(p.Leave)
	return &cp
}

// validate checks what does not depend on the ring: a known phase, names
// that are not empty, and no node both joining and leaving. A nil plan is
// valid (no move).
func (p *ScalePlan) validate() error {
	if p == nil {
		return nil
	}
	switch p.Phase {
	case ScaleDual, ScaleSwitched, ScaleDone, ScaleAborted:
	default:
		return fmt.Errorf("scale plan %q: unknown phase %q (want %s, %s, %s or %s)", p.ID, p.Phase,
			ScaleDual, ScaleSwitched, ScaleDone, ScaleAborted)
	}
	for _, name := range p.Join {
		if name == "" {
			return fmt.Errorf("scale plan %q: an empty node name in join", p.ID)
		}
		if slices.Contains(p.Leave, name) {
			return fmt.Errorf("scale plan %q: node %q is both joining and leaving", p.ID, name)
		}
	}
	if slices.Contains(p.Leave, "") {
		return fmt.Errorf("scale plan %q: an empty node name in leave", p.ID)
	}
	return nil
}

// ringNodes is this node and members as the ring sees them under plan:
//
//   - dual and switched: the Join nodes are joining, the Leave nodes
//     leaving; switched reads from the owners after the move;
//   - done: the Join nodes are normal and the Leave nodes are out of the
//     ring, though the membership still lists them;
//   - aborted: the Leave nodes are normal and the Join nodes are out of the
//     ring, though the membership lists them.
//
// This node stays in its own ring (the ring always holds the local node):
// where the plan puts it out, it keeps its joining or leaving state on the
// side the reads do not use (aborted reads from before the move, done
// from after it), so it serves no reads for ranges it does not own and
// only ever receives extra copies of writes from itself.
func (c *cluster) ringNodes(members []Peer, plan *ScalePlan) ([]ring.Node, ring.Options) {
	opts := ring.Options{Hash: c.opts.Hash, HashTag: c.opts.HashTag}
	nodes := make([]ring.Node, 0, 1+len(members))
	nodes = append(nodes, c.self)
	nodes = append(nodes, members...)
	if plan == nil {
		return nodes, opts
	}
	opts.Switched = plan.Phase == ScaleSwitched || plan.Phase == ScaleDone
	out := nodes[:0]
	for i, n := range nodes {
		local := i == 0
		join, leave := slices.Contains(plan.Join, n.Name), slices.Contains(plan.Leave, n.Name)
		switch {
		case !join && !leave:
		case plan.Phase == ScaleDual || plan.Phase == ScaleSwitched:
			n.State = ring.StateJoining
			if leave {
				n.State = ring.StateLeaving
			}
		case plan.Phase == ScaleDone && leave, plan.Phase == ScaleAborted && join:
			if !local {
				continue // out of the ring
			}
			n.State = ring.StateJoining
			if leave {
				n.State = ring.StateLeaving
			}
		}
		out = append(out, n)
	}
	return out, opts
}
