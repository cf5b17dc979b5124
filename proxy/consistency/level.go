package consistency

import (
	"errors"
	"strconv"
	"strings"
)

// Level is a read or write consistency level. The zero value is DC_ONE,
// upstream's default for read_consistency and write_consistency.
type Level uint8

const (
	// DCOne: a read asks the token owner in the local rack (failing over to
	// the other replicas one at a time); a write goes to every local rack
	// and is acknowledged by the local rack's owner.
	DCOne Level = iota
	// DCQuorum: a majority of the local datacenter's racks must answer; when
	// no majority agrees the first good reply is returned.
	DCQuorum
	// DCSafeQuorum: like DCQuorum, but a majority of identical replies is
	// required; a disagreement is an error.
	DCSafeQuorum
	// DCEachSafeQuorum: a safe quorum in every datacenter.
	DCEachSafeQuorum

	// NumLevels is the number of levels; Level(0) to NumLevels-1 are valid.
	NumLevels = 4
)

// names are upstream's spellings (conf/*.yml, /get_consistency,
// DYNO_CONFIG:CONN_CONSISTENCY).
var names = [NumLevels]string{
	DCOne:            "DC_ONE",
	DCQuorum:         "DC_QUORUM",
	DCSafeQuorum:     "DC_SAFE_QUORUM",
	DCEachSafeQuorum: "DC_EACH_SAFE_QUORUM",
}

// String returns the upper-case name, e.g. "DC_QUORUM".
func (l Level) String() string {
	if l.Valid() {
		return names[l]
	}
	return "Level(" + strconv.Itoa(int(l)) + ")"
}

// Valid reports whether l is one of the four levels.
func (l Level) Valid() bool { return l < NumLevels }

// ErrUnknownLevel is returned by Parse and ParsePrefix for a name that is
// no level.
var ErrUnknownLevel = errors.New("must be one of DC_ONE, DC_QUORUM, DC_SAFE_QUORUM, DC_EACH_SAFE_QUORUM")

// Parse reads a level's name exactly, case-insensitively (dc_quorum and
// DC_QUORUM are the same level), as upstream's REST endpoint and
// DYNO_CONFIG:CONN_CONSISTENCY do.
func Parse(s string) (Level, error) {
	for l, n := range names {
		if strings.EqualFold(s, n) {
			return Level(l), nil
		}
	}
	return 0, ErrUnknownLevel
}

// ParsePrefix applies upstream's configuration rule (dyn_conf.c compares
// the value's first bytes with each name, case-insensitively): s must start
// with a level's name. It returns the level and whatever follows the name,
// so that the caller can warn about it.
func ParsePrefix(s string) (level Level, trailing string, err error) {
	// No name is a prefix of another, so the order of the tries is free.
	for l, n := range names {
		if len(s) >= len(n) && strings.EqualFold(s[:len(n)], n) {
			return Level(l), s[len(n):], nil
		}
	}
	return 0, "", ErrUnknownLevel
}
