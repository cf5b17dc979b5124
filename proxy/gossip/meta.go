package gossip

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/hashicorp/memberlist"
)

// Meta is what a node tells the others about itself, carried in memberlist's
// NodeMeta (at most memberlist.MetaMaxSize, 512 bytes, encoded).
type Meta struct {
	// Name is the node's dyn_listen host:port: its name and peer address.
	Name string
	// DC and Rack place the node in the ring.
	DC, Rack string
	// Tokens are the node's ring tokens.
	Tokens []uint32
	// State is one of upstream's node states (the dyn_state_t enum, dyn_gossip.c): INIT, STANDBY,
	// WRITES_ONLY, RESUMING, NORMAL, JOINING, DOWN, RESET, UNKNOWN. Empty
	// means NORMAL.
	State string
}

// states are upstream's node states with their codes (dyn_core.h), which
// are what the encoded metadata carries.
var states = []struct {
	name string
	code byte
}{
	{"INIT", 0}, {"STANDBY", 1}, {"WRITES_ONLY", 2}, {"RESUMING", 3}, {"NORMAL", 4},
	{"JOINING", 7}, {"DOWN", 8}, {"RESET", 11}, {"UNKNOWN", 12},
}

func stateCode(s string) (byte, bool) {
	if s == "" {
		s = "NORMAL"
	}
	for _, st := range states {
		if st.name == s {
			return st.code, true
		}
	}
	return 0, false
}

func stateName(c byte) (string, bool) {
	for _, st := range states {
		if st.code == c {
			return st.name, true
		}
	}
	return "", false
}

// metaVersion is the first byte of the encoding.
const metaVersion = 1

// maxMeta is memberlist's limit on NodeMeta.
const maxMeta = memberlist.MetaMaxSize

// errBadMeta is returned for metadata that does not decode.
var errBadMeta = errors.New("gossip: malformed node metadata")

// encode returns m's compact form: version, state code, then name, dc and
// rack as uvarint-length-prefixed bytes, then the token count and the
// tokens as uvarints. It fails when the result exceeds 512 bytes, naming
// the tokens, which are what grows.
func (m Meta) encode() ([]byte, error) {
	if m.Name == "" {
		return nil, errors.New("gossip: the node's name (its dyn_listen host:port) is empty")
	}
	code, ok := stateCode(m.State)
	if !ok {
		return nil, fmt.Errorf("gossip: unknown node state %q", m.State)
	}
	b := []byte{metaVersion, code}
	for _, s := range []string{m.Name, m.DC, m.Rack} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	before := len(b)
	b = binary.AppendUvarint(b, uint64(len(m.Tokens)))
	for _, t := range m.Tokens {
		b = binary.AppendUvarint(b, uint64(t))
	}
	if len(b) > maxMeta {
		return nil, fmt.Errorf("gossip: node metadata is %d bytes, over memberlist's limit of %d: the %d tokens take %d bytes (name, datacenter and rack %d); give the node fewer tokens",
			len(b), maxMeta, len(m.Tokens), len(b)-before, before)
	}
	return b, nil
}

// decodeMeta is the inverse of encode; it accepts nothing else.
func decodeMeta(b []byte) (Meta, error) {
	var m Meta
	if len(b) < 2 || b[0] != metaVersion {
		return m, errBadMeta
	}
	name, ok := stateName(b[1])
	if !ok {
		return m, fmt.Errorf("%w: unknown state %d", errBadMeta, b[1])
	}
	m.State = name
	b = b[2:]
	str := func() (string, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return "", false
		}
		s := string(b[k : k+int(n)])
		b = b[k+int(n):]
		return s, true
	}
	var okN, okD, okR bool
	m.Name, okN = str()
	m.DC, okD = str()
	m.Rack, okR = str()
	if !okN || !okD || !okR || m.Name == "" {
		return Meta{}, errBadMeta
	}
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return Meta{}, errBadMeta
	}
	b = b[k:]
	if n > 0 {
		m.Tokens = make([]uint32, 0, n)
	}
	for range n {
		t, k := binary.Uvarint(b)
		if k <= 0 || t > 1<<32-1 {
			return Meta{}, errBadMeta
		}
		m.Tokens = append(m.Tokens, uint32(t))
		b = b[k:]
	}
	if len(b) != 0 {
		return Meta{}, fmt.Errorf("%w: %d trailing bytes", errBadMeta, len(b))
	}
	return m, nil
}
