package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/dynomite-go/dynomite/proxy/atomicfile"
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
	// the ring the plan makes must build before the plan is saved, and
	// the plan saved before it is in force
	topo, err := c.buildRing(c.members, cp)
	if err == nil {
		err = c.savePlan(cp)
	}
	var old, cur *ring.Topology
	if err == nil {
		old, cur = c.swapIn(topo, c.members, cp)
	}
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
		if local {
			join = join || slices.ContainsFunc(plan.Join, c.isSelfName)
			leave = leave || slices.ContainsFunc(plan.Leave, c.isSelfName)
		}
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

// isSelfName reports whether name, a node name from a plan, is this node.
// A plan names nodes as their peers do, by the address the seed provider
// gives (host:port). A node whose dyn_listen host is unspecified (0.0.0.0)
// names itself by that, so a name with its peer port whose host is one of
// this machine's interface addresses, or its host name, is this node too.
func (c *cluster) isSelfName(name string) bool {
	if name == c.self.Name {
		return true
	}
	host, port, err := net.SplitHostPort(name)
	if err != nil {
		return false
	}
	lhost, lport, err := net.SplitHostPort(c.self.Addr)
	if err != nil || port != lport {
		return false
	}
	if lip := net.ParseIP(lhost); lhost != "" && (lip == nil || !lip.IsUnspecified()) {
		return host == lhost
	}
	if hn, err := os.Hostname(); err == nil && strings.EqualFold(host, hn) {
		return true
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return false
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if in, ok := a.(*net.IPNet); ok && in.IP.Equal(ip) {
			return true
		}
	}
	return false
}

// scalePlanFile, in hints_dir, holds the plan installed on a node that has
// a hints_dir, so that a node restarted during a move takes its part again
// before it serves: without the plan, the writes it coordinates would skip
// the other side of the move, and the copy may already have passed their
// keys. A node without a hints_dir keeps its plan in memory only.
const scalePlanFile = "scale-plan.json"

// savePlan writes p (nil: removes the file) where loadPlan finds it,
// atomically.
func (c *cluster) savePlan(p *ScalePlan) error {
	dir := c.opts.HintsDir
	if dir == "" {
		return nil
	}
	path := filepath.Join(dir, scalePlanFile)
	if p == nil {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("hints_dir: removing the saved plan: %w", err)
		}
		return nil
	}
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("hints_dir %s: %w", dir, err)
	}
	err = atomicfile.Write(path, b, 0o640)
	if err != nil {
		return fmt.Errorf("hints_dir: saving the plan to %s: %w", path, err)
	}
	return nil
}

// loadPlan reads the plan savePlan saved, or returns nil when there is
// none.
func (c *cluster) loadPlan() (*ScalePlan, error) {
	if c.opts.HintsDir == "" {
		return nil, nil
	}
	path := filepath.Join(c.opts.HintsDir, scalePlanFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var p ScalePlan
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &p, nil
}
