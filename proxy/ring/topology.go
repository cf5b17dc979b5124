package ring

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
)

// Errors wrapped by [NewTopology]. The messages name the node, and the token
// where one is involved.
var (
	// ErrEmptyRing: no nodes at all.
	ErrEmptyRing = errors.New("empty ring")
	// ErrInvalidNode: a node without a name, datacenter or rack, a name used
	// twice, or a node marked Local that is not the local node.
	ErrInvalidNode = errors.New("invalid node")
	// ErrNoTokens: a node without tokens.
	ErrNoTokens = errors.New("node has no tokens")
	// ErrDuplicateToken: two tokens equal within one rack.
	ErrDuplicateToken = errors.New("duplicate token")
	// ErrUnknownLocal: the local node's name is not among the nodes.
	ErrUnknownLocal = errors.New("local node not in the ring")
	// ErrInvalidHashTag: a hash tag that is neither empty nor two bytes.
	ErrInvalidHashTag = errors.New("invalid hash tag")
	// ErrNoOwner: a rack whose nodes are all joining (no owner before the
	// move) or all leaving (no owner after it), or a node of unknown
	// state.
	ErrNoOwner = errors.New("rack without owner")
)

// Node is one dynomite node as the ring sees it.
//
// Fill Name, Addr, DC, Rack and Tokens when calling [NewTopology]. The
// topology keeps its own copy, fills in the other fields, and hands out
// pointers to that copy: they stay valid for the topology's lifetime and must
// not be modified.
type Node struct {
	// Name identifies the node and is unique within a topology. Upstream
	// names a peer by its dyn_seeds address, "host:port".
	Name string
	// Addr is the host:port of the node's peer (dnode) listener. The ring
	// does not use or check it.
	Addr string
	// DC and Rack are the node's datacenter and rack names (upstream's
	// `datacenter` and `rack`). Names are compared byte for byte.
	DC   string
	Rack string
	// Tokens are the node's positions on its rack's ring: at least one, no
	// two equal within a rack. The topology's copy is sorted ascending.
	Tokens []Token
	// Local is true for the node this process runs. NewTopology sets it from
	// its local argument; passing a different node with Local set is an
	// error.
	Local bool
	// State is the node's part in a move of token ranges (scaling a rack
	// out or in): [StateNormal] unless a scale plan names it. See
	// [Topology.ExtraOwner].
	State NodeState

	// Index is the node's position in [Topology.Nodes], which is the order
	// of the slice passed to NewTopology. Set by NewTopology.
	Index int
	// DCIndex and RackIndex locate the node in the topology's sorted
	// datacenters and racks (see [Topology.DCName], [Topology.RackName]).
	// Set by NewTopology.
	DCIndex   int
	RackIndex int
}

// Options configure how keys map to tokens.
type Options struct {
	// Hash is upstream's name of the key hash (the `hash` config key, see
	// [HashNames]); empty means [DefaultHash].
	Hash string
	// HashTag is upstream's `hash_tag`: empty for none, or exactly two bytes
	// such as "{}".
	HashTag string
	// Switched picks which continuum answers [Topology.Owner] while nodes
	// are joining or leaving: false, the current owners (normal and
	// leaving nodes); true, the owners after the move (normal and joining
	// nodes). The other continuum's owners are [Topology.ExtraOwner].
	Switched bool
}

// Topology is an immutable snapshot of the cluster's rings: datacenters
// sorted by name, each with its racks sorted by name, each rack holding the
// continuum of its nodes' tokens.
//
// A Topology never changes after [NewTopology] returns, so every method is
// safe for concurrent use, takes no lock and, apart from NewTopology, does not
// allocate. Hold the current one in an atomic.Pointer[Topology] and, when
// membership or tokens change, build a new one off the hot path and swap it
// in wholesale; requests that loaded the old pointer finish on the old
// snapshot.
//
// Build one with NewTopology; the zero value is not usable. DC and rack
// indices are only meaningful for the Topology that produced them. Methods given an index out of range return nil, -1, "" or an empty
// result instead of panicking.
type Topology struct {
	nodes     []Node
	byName    map[string]int
	local     int
	localDC   int
	localRack int
	dcs       []datacenter

	hashName string
	hash     HashFunc
	tag      [2]byte
	hasTag   bool

	// moving: some node is joining or leaving, so some racks have a second
	// continuum (rack.other); switched is Options.Switched.
	moving   bool
	switched bool
}

type datacenter struct {
	name  string
	racks []rack
	// remoteOrder lists the racks to replicate to when this datacenter is
	// remote: the preselected rack first, then the others by name (the
	// failover order). nil for the local datacenter.
	remoteOrder []int
}

// continuum is one ring of tokens: tokens ascending, owners[i] owning
// tokens[i].
type continuum struct {
	tokens []Token
	owners []*Node
}

// rack is the continuum [Topology.Owner] answers from, and, while one of
// the rack's nodes is joining or leaving, the other continuum (before or
// after the move), whose owners only take writes.
type rack struct {
	name string
	continuum
	// other is nil when no node of the rack is joining or leaving.
	other *continuum
	nodes []*Node // every node of the rack, by lowest token
}

// owner is upstream's vnode_dispatch: the node with the first token >= tok,
// wrapping to the smallest token when tok is above the largest. A key equal
// to a node's token belongs to that node, and a key at or below the smallest
// token belongs to the smallest token's node.
func (r *continuum) owner(tok Token) *Node {
	i, _ := slices.BinarySearch(r.tokens, tok)
	if i == len(r.tokens) {
		i = 0
	}
	return r.owners[i]
}

// NewTopology builds the rings for nodes. local is the Name of the node this
// process runs; it must be among nodes, with tokens like any other node.
//
// Every (DC, rack) gets a continuum of all its nodes' tokens. A node may have
// several tokens; upstream's vnode_update appends one continuum entry per
// token too, but a node with more than one token is not a setup upstream
// supports (its docs say "vnode not supported"). Two equal tokens in one rack
// are an error: upstream would pick either owner depending on the binary
// search. The same token in different racks is normal (each rack is a full
// replica ring).
//
// A node's [Node.State] places it in the continuums of a move (see
// [NodeState]): when any node of a rack is joining or leaving, the rack
// gets a continuum of its normal and leaving nodes (before the move) and
// one of its normal and joining nodes (after it), and opts.Switched picks
// the one [Topology.Owner] answers from. Equal tokens are an error within
// one continuum only: a joining node may take over a leaving node's token.
// A rack whose nodes are all joining, or all leaving, has no owner on one
// side of the move and is an error.
//
// The errors wrap [ErrEmptyRing], [ErrInvalidNode], [ErrNoTokens],
// [ErrDuplicateToken], [ErrUnknownLocal], [ErrInvalidHashTag],
// [ErrNoOwner] or [ErrUnknownHash].
func NewTopology(local string, nodes []Node, opts Options) (*Topology, error) {
	if len(nodes) == 0 {
		return nil, fmt.Errorf("ring: %w: no nodes", ErrEmptyRing)
	}
	t := &Topology{
		nodes:    make([]Node, len(nodes)),
		byName:   make(map[string]int, len(nodes)),
		local:    -1,
		hashName: cmp.Or(opts.Hash, DefaultHash),
		switched: opts.Switched,
	}
	var err error
	if t.hash, err = ParseHash(t.hashName); err != nil {
		return nil, err
	}
	switch len(opts.HashTag) {
	case 0:
	case 2:
		t.tag, t.hasTag = [2]byte{opts.HashTag[0], opts.HashTag[1]}, true
	default:
		return nil, fmt.Errorf("ring: %w %q: want two bytes, such as \"{}\"", ErrInvalidHashTag, opts.HashTag)
	}

	for i, n := range nodes {
		switch {
		case n.Name == "":
			return nil, fmt.Errorf("ring: %w: node %d has no name", ErrInvalidNode, i)
		case n.DC == "":
			return nil, fmt.Errorf("ring: %w: node %q has no datacenter", ErrInvalidNode, n.Name)
		case n.Rack == "":
			return nil, fmt.Errorf("ring: %w: node %q has no rack", ErrInvalidNode, n.Name)
		case len(n.Tokens) == 0:
			return nil, fmt.Errorf("ring: %w: node %q (dc %q, rack %q)", ErrNoTokens, n.Name, n.DC, n.Rack)
		case n.Local && n.Name != local:
			return nil, fmt.Errorf("ring: %w: node %q is marked local but the local node is %q", ErrInvalidNode, n.Name, local)
		case n.State > StateLeaving:
			return nil, fmt.Errorf("ring: %w: node %q has unknown state %d", ErrInvalidNode, n.Name, n.State)
		}
		if _, dup := t.byName[n.Name]; dup {
			return nil, fmt.Errorf("ring: %w: node name %q is used twice", ErrInvalidNode, n.Name)
		}
		t.byName[n.Name] = i
		n.Tokens = slices.Clone(n.Tokens)
		slices.Sort(n.Tokens)
		n.Local = n.Name == local
		n.Index = i
		if n.Local {
			t.local = i
		}
		t.moving = t.moving || n.State != StateNormal
		t.nodes[i] = n
	}
	if t.local < 0 {
		return nil, fmt.Errorf("ring: %w: %q", ErrUnknownLocal, local)
	}

	t.buildDCs()
	for d := range t.dcs {
		for r := range t.dcs[d].racks {
			if err := t.buildContinuum(&t.dcs[d].racks[r], d, r); err != nil {
				return nil, err
			}
		}
	}
	ln := &t.nodes[t.local]
	t.localDC, t.localRack = ln.DCIndex, ln.RackIndex
	t.preselectRemoteRacks()
	return t, nil
}

// buildDCs sorts datacenter and rack names and sets each node's DCIndex and
// RackIndex.
func (t *Topology) buildDCs() {
	racksOf := map[string][]string{}
	for _, n := range t.nodes {
		if !slices.Contains(racksOf[n.DC], n.Rack) {
			racksOf[n.DC] = append(racksOf[n.DC], n.Rack)
		}
	}
	dcNames := make([]string, 0, len(racksOf))
	for name := range racksOf {
		dcNames = append(dcNames, name)
	}
	slices.Sort(dcNames)
	t.dcs = make([]datacenter, len(dcNames))
	for d, name := range dcNames {
		rackNames := racksOf[name]
		slices.Sort(rackNames)
		t.dcs[d] = datacenter{name: name, racks: make([]rack, len(rackNames))}
		for r, rn := range rackNames {
			t.dcs[d].racks[r].name = rn
		}
	}
	for i := range t.nodes {
		n := &t.nodes[i]
		n.DCIndex, _ = slices.BinarySearch(dcNames, n.DC)
		n.RackIndex = slices.Index(racksOf[n.DC], n.Rack)
	}
}

// buildContinuum fills rack r of datacenter d from the nodes placed there:
// one continuum, or two when one of them is joining or leaving.
func (t *Topology) buildContinuum(rk *rack, d, r int) error {
	moving := false
	for i := range t.nodes {
		if n := &t.nodes[i]; n.DCIndex == d && n.RackIndex == r {
			rk.nodes = append(rk.nodes, n)
			moving = moving || n.State != StateNormal
		}
	}
	slices.SortStableFunc(rk.nodes, func(a, b *Node) int { return cmp.Compare(a.Tokens[0], b.Tokens[0]) })
	if !moving {
		c, err := t.continuumOf(rk, d, StateNormal)
		rk.continuum = c
		return err
	}
	before, err := t.continuumOf(rk, d, StateLeaving)
	if err != nil {
		return err
	}
	after, err := t.continuumOf(rk, d, StateJoining)
	if err != nil {
		return err
	}
	if t.switched {
		before, after = after, before
	}
	rk.continuum, rk.other = before, &after
	return nil
}

// continuumOf builds the continuum of rk's normal nodes and its nodes in
// state also: StateLeaving gives the owners before a move, StateJoining the
// owners after it, StateNormal the one continuum of a rack where nothing
// moves.
func (t *Topology) continuumOf(rk *rack, d int, also NodeState) (continuum, error) {
	type entry struct {
		tok  Token
		node *Node
	}
	var entries []entry
	for _, n := range rk.nodes {
		if n.State != StateNormal && n.State != also {
			continue
		}
		for _, tok := range n.Tokens {
			entries = append(entries, entry{tok, n})
		}
	}
	if len(entries) == 0 {
		side, state := "after", "leaving"
		if also == StateLeaving {
			side, state = "before", "joining"
		}
		return continuum{}, fmt.Errorf("ring: %w: every node of dc %q, rack %q is %s, so the rack has no owner %s the move",
			ErrNoOwner, t.dcs[d].name, rk.name, state, side)
	}
	slices.SortFunc(entries, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.tok, b.tok), cmp.Compare(a.node.Index, b.node.Index))
	})
	for i := 1; i < len(entries); i++ {
		a, b := entries[i-1], entries[i]
		if a.tok != b.tok {
			continue
		}
		if a.node == b.node {
			return continuum{}, fmt.Errorf("ring: %w: node %q lists token %d twice", ErrDuplicateToken, a.node.Name, a.tok)
		}
		return continuum{}, fmt.Errorf("ring: %w: token %d is claimed by node %s and node %s in dc %q, rack %q",
			ErrDuplicateToken, a.tok, moveName(a.node), moveName(b.node), t.dcs[d].name, rk.name)
	}
	c := continuum{tokens: make([]Token, len(entries)), owners: make([]*Node, len(entries))}
	for i, e := range entries {
		c.tokens[i], c.owners[i] = e.tok, e.node
	}
	return c, nil
}

// moveName is n's name, quoted, with its state when it is joining or
// leaving.
func moveName(n *Node) string {
	if n.State == StateNormal {
		return strconv.Quote(n.Name)
	}
	return strconv.Quote(n.Name) + " (" + n.State.String() + ")"
}

// preselectRemoteRacks is upstream's preselect_remote_rack_for_replication:
// with racks sorted by name, the local rack's index i within the local
// datacenter picks rack i % len(racks) in every remote datacenter. The other
// racks follow in name order, which is the order upstream tries them when
// the preselected one cannot take the request.
func (t *Topology) preselectRemoteRacks() {
	for d := range t.dcs {
		dc := &t.dcs[d]
		if d == t.localDC {
			continue
		}
		pre := t.localRack % len(dc.racks)
		dc.remoteOrder = make([]int, 0, len(dc.racks))
		dc.remoteOrder = append(dc.remoteOrder, pre)
		for r := range dc.racks {
			if r != pre {
				dc.remoteOrder = append(dc.remoteOrder, r)
			}
		}
	}
}

// HashName returns the name of the key hash, e.g. "murmur".
func (t *Topology) HashName() string { return t.hashName }

// HashTag returns the configured hash tag and whether there is one.
func (t *Topology) HashTag() ([2]byte, bool) { return t.tag, t.hasTag }

// Nodes returns every node, in the order given to [NewTopology] (Node.Index
// order). The slice is shared: do not modify it.
func (t *Topology) Nodes() []Node { return t.nodes }

// Node returns the node with Index i, or nil.
func (t *Topology) Node(i int) *Node {
	if uint(i) >= uint(len(t.nodes)) {
		return nil
	}
	return &t.nodes[i]
}

// NodeByName returns the node called name, or nil.
func (t *Topology) NodeByName(name string) *Node {
	i, ok := t.byName[name]
	if !ok {
		return nil
	}
	return &t.nodes[i]
}

// Local returns the node this process runs.
func (t *Topology) Local() *Node { return &t.nodes[t.local] }

// LocalDC returns the index of the local node's datacenter.
func (t *Topology) LocalDC() int { return t.localDC }

// LocalRack returns the index of the local node's rack within [Topology.LocalDC].
func (t *Topology) LocalRack() int { return t.localRack }

// NumDCs returns the number of datacenters. Their indices run from 0, in
// name order.
func (t *Topology) NumDCs() int { return len(t.dcs) }

// DCName returns the name of datacenter dc, or "".
func (t *Topology) DCName(dc int) string {
	if uint(dc) >= uint(len(t.dcs)) {
		return ""
	}
	return t.dcs[dc].name
}

// DCIndex returns the index of the datacenter called name, or -1.
func (t *Topology) DCIndex(name string) int {
	for i := range t.dcs {
		if t.dcs[i].name == name {
			return i
		}
	}
	return -1
}

// NumRacks returns the number of racks in datacenter dc (0 if dc is out of
// range). Their indices run from 0, in name order. Within a datacenter the
// number of racks is the replication factor: each rack holds a full copy.
func (t *Topology) NumRacks(dc int) int {
	if uint(dc) >= uint(len(t.dcs)) {
		return 0
	}
	return len(t.dcs[dc].racks)
}

// RackName returns the name of rack rack in datacenter dc, or "".
func (t *Topology) RackName(dc, rack int) string {
	rk := t.rack(dc, rack)
	if rk == nil {
		return ""
	}
	return rk.name
}

// RackIndex returns the index of the rack called name in datacenter dc, or -1.
func (t *Topology) RackIndex(dc int, name string) int {
	if uint(dc) >= uint(len(t.dcs)) {
		return -1
	}
	for i := range t.dcs[dc].racks {
		if t.dcs[dc].racks[i].name == name {
			return i
		}
	}
	return -1
}

// RackNodes returns the nodes of a rack ordered by their lowest token, or
// nil: every node, joining and leaving ones included (see [Node.State]).
// The slice is shared: do not modify it.
func (t *Topology) RackNodes(dc, rack int) []*Node {
	rk := t.rack(dc, rack)
	if rk == nil {
		return nil
	}
	return rk.nodes
}

// PreselectedRack returns the rack that receives this node's replication
// traffic in the remote datacenter dc, as upstream's
// preselect_remote_rack_for_replication chooses it: with racks sorted by
// name, rack (LocalRack % NumRacks(dc)). It returns -1 for the local
// datacenter and for an index out of range.
func (t *Topology) PreselectedRack(dc int) int {
	if uint(dc) >= uint(len(t.dcs)) || dc == t.localDC {
		return -1
	}
	return t.dcs[dc].remoteOrder[0]
}

// RemoteRackOrder returns the racks of the remote datacenter dc in the order
// a write should try them: [Topology.PreselectedRack] first, then the other
// racks in name order (upstream's failover order in req_forward_remote_dc).
// It returns nil for the local datacenter. The slice is shared: do not modify
// it.
func (t *Topology) RemoteRackOrder(dc int) []int {
	if uint(dc) >= uint(len(t.dcs)) {
		return nil
	}
	return t.dcs[dc].remoteOrder
}

func (t *Topology) rack(dc, rack int) *rack {
	if uint(dc) >= uint(len(t.dcs)) {
		return nil
	}
	racks := t.dcs[dc].racks
	if uint(rack) >= uint(len(racks)) {
		return nil
	}
	return &racks[rack]
}

// KeyToken returns the token of key: the configured hash of the key's hash
// tag part (or of the whole key when there is no tag, or the key does not
// contain one). ok is false for a key-less request: a nil or empty key, or an
// empty hash tag such as "{}foo". Upstream never hashes those; it serves them
// on the local node.
func (t *Topology) KeyToken(key []byte) (tok Token, ok bool) {
	if t.hasTag {
		key = HashTag(key, t.tag)
	}
	if len(key) == 0 {
		return 0, false
	}
	return Token(t.hash(key)), true
}

// Owner returns the node of rack rack in datacenter dc that owns tok: the
// node with the first token >= tok, or, when tok is above every token, the
// node with the smallest token (upstream's vnode_dispatch). While nodes of
// the rack join or leave, it answers from the continuum [Options.Switched]
// picks (see [Topology.ExtraOwner]). It returns nil only for an index out
// of range.
func (t *Topology) Owner(dc, rack int, tok Token) *Node {
	rk := t.rack(dc, rack)
	if rk == nil {
		return nil
	}
	return rk.owner(tok)
}

// Lookup returns the node of rack rack in datacenter dc that owns key, after
// the hash tag and hash (see [Topology.KeyToken]). A key-less request returns
// the local node whatever dc and rack say, as upstream's
// dnode_peer_for_key_on_rack does; note that upstream therefore sends a
// key-less write to the local node once per rack and per remote datacenter,
// which callers may want to collapse. It returns nil only for an index out
// of range.
func (t *Topology) Lookup(key []byte, dc, rack int) *Node {
	tok, ok := t.KeyToken(key)
	if !ok {
		return &t.nodes[t.local]
	}
	return t.Owner(dc, rack, tok)
}

// RackOwners writes into dst[:0] the owner of tok in every rack of
// datacenter dc, in rack (name) order, and returns it. Use it for the local
// datacenter's replicas, for a remote coordinator's fan-out, and for
// DC_EACH_SAFE_QUORUM. It allocates only when cap(dst) < NumRacks(dc).
func (t *Topology) RackOwners(dc int, tok Token, dst []*Node) []*Node {
	dst = dst[:0]
	if uint(dc) >= uint(len(t.dcs)) {
		return dst
	}
	racks := t.dcs[dc].racks
	for i := range racks {
		dst = append(dst, racks[i].owner(tok))
	}
	return dst
}

// LocalReplicas is RackOwners for the local datacenter: the owner of tok in
// every local rack, in rack order, so element LocalRack() is the local rack's
// owner.
func (t *Topology) LocalReplicas(tok Token, dst []*Node) []*Node {
	return t.RackOwners(t.localDC, tok, dst)
}

// RemoteOwners writes into dst[:0] the owner of tok in each rack of the
// remote datacenter dc in [Topology.RemoteRackOrder]: the preselected rack's
// owner first, then the failover candidates. It is empty for the local
// datacenter. It allocates only when cap(dst) < NumRacks(dc).
func (t *Topology) RemoteOwners(dc int, tok Token, dst []*Node) []*Node {
	dst = dst[:0]
	if uint(dc) >= uint(len(t.dcs)) {
		return dst
	}
	d := &t.dcs[dc]
	for _, r := range d.remoteOrder {
		dst = append(dst, d.racks[r].owner(tok))
	}
	return dst
}

// ReplicasForToken writes into dst[:0] where upstream sends a write with
// token tok, and returns it: first the owner in every rack of the local
// datacenter (rack order, as [Topology.LocalReplicas]), then, for each remote
// datacenter in index order, the owner in its preselected rack. Its length is
// [Topology.NumReplicas]; it allocates only when cap(dst) is smaller.
//
// Upstream's remote copy is a single message to that owner, which then fans
// out to its own datacenter's racks (DMSG_REQ_FORWARD); failover to the other
// remote racks is [Topology.RemoteOwners].
func (t *Topology) ReplicasForToken(tok Token, dst []*Node) []*Node {
	dst = t.RackOwners(t.localDC, tok, dst)
	for d := range t.dcs {
		if d == t.localDC {
			continue
		}
		dc := &t.dcs[d]
		dst = append(dst, dc.racks[dc.remoteOrder[0]].owner(tok))
	}
	return dst
}

// NumReplicas returns the length of [Topology.ReplicasForToken]'s result: the
// racks of the local datacenter plus one per remote datacenter.
func (t *Topology) NumReplicas() int {
	return len(t.dcs[t.localDC].racks) + len(t.dcs) - 1
}

// Moving reports whether any node of the topology is joining or leaving.
func (t *Topology) Moving() bool { return t.moving }

// Switched reports whether [Topology.Owner] answers from the continuums
// after the move ([Options.Switched]).
func (t *Topology) Switched() bool { return t.switched }

// ExtraOwner returns the owner of tok in the continuum [Topology.Owner] does
// not answer from, when it differs from Owner's answer, and nil otherwise
// (always nil when nothing is moving, and for an index out of range). Writes
// go to both; reads only to Owner. It does not allocate.
func (t *Topology) ExtraOwner(dc, rack int, tok Token) *Node {
	if !t.moving {
		return nil
	}
	rk := t.rack(dc, rack)
	if rk == nil || rk.other == nil {
		return nil
	}
	if e := rk.other.owner(tok); e != rk.owner(tok) {
		return e
	}
	return nil
}
