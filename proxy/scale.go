package proxy

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
func (s *Server) SetScalePlan(p *ScalePlan) error {
	panic("proxy: SetScalePlan is not implemented yet")
}

// ScalePlan returns a copy of the installed plan, or nil.
func (s *Server) ScalePlan() *ScalePlan {
	panic("proxy: ScalePlan is not implemented yet")
}
