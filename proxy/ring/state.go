package ring

// NodeState is a node's part in a move of token ranges between the nodes
// of a rack (scaling the rack out or in).
//
// While any node is joining or leaving, each rack has two continuums: the
// owners before the move (normal and leaving nodes) and the owners after it
// (normal and joining nodes). [Topology.Owner] answers from one of them,
// chosen by [Options.Switched]; writes also go to the owner in the other
// one ([Topology.ExtraOwner]), so whichever continuum serves reads holds
// every write made since the move began.
type NodeState uint8

const (
	// StateNormal: the node owns its tokens in both continuums.
	StateNormal NodeState = iota
	// StateJoining: the node is receiving its ranges; it is an owner only
	// in the continuum after the move.
	StateJoining
	// StateLeaving: the node is handing its ranges over; it is an owner
	// only in the continuum before the move.
	StateLeaving
)

// String names the state as the admin endpoints print it.
func (s NodeState) String() string {
	switch s {
	case StateJoining:
		return "joining"
	case StateLeaving:
		return "leaving"
	}
	return "normal"
}
