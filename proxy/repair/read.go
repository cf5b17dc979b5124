package repair

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/dynomite-go/dynomite/proxy/resp"
)

// Statuses of a repairable read (upstream's E, R and X).
const (
	Exists  = 'E'
	Removed = 'R'
	Absent  = 'X'
)

// Reply is one replica's answer to a repairable read.
type Reply struct {
	// Status is Exists, Removed or Absent.
	Status byte
	// Score is the metadata's timestamp (0 when Absent).
	Score float64
	// Value is the read's own reply, exact RESP bytes: what the client
	// gets. It is a slice of the parsed reply.
	Value []byte
}

// ErrNotRepairable is what ParseRead returns for a reply that is not a
// read script's answer (an error reply: the key has the wrong type, or the
// datastore refused the script).
var ErrNotRepairable = errors.New("repair: not a {status, score, value} reply")

// ParseRead parses a read script's reply: an array of three, the status as
// a one-letter bulk string, the score as a bulk string or an integer, and
// the value, a bulk string, a null or an integer. It does not allocate.
func ParseRead(b []byte) (Reply, error) {
	const head = "*3\r\n$1\r\n"
	if !bytes.HasPrefix(b, []byte(head)) || len(b) < len(head)+3 || b[len(head)+1] != '\r' || b[len(head)+2] != '\n' {
		return Reply{}, ErrNotRepairable
	}
	r := Reply{Status: b[len(head)]}
	if r.Status != Exists && r.Status != Removed && r.Status != Absent {
		return Reply{}, fmt.Errorf("%w: status %q", ErrNotRepairable, r.Status)
	}
	pos := len(head) + 3
	n, err := resp.ParseReply(b[pos:], nil)
	if err != nil {
		return Reply{}, fmt.Errorf("%w: score: %w", ErrNotRepairable, err)
	}
	num, ok := scalar(b[pos : pos+n])
	if !ok {
		return Reply{}, fmt.Errorf("%w: the score is not a bulk string or an integer", ErrNotRepairable)
	}
	r.Score, err = strconv.ParseFloat(string(num), 64)
	if err != nil || math.IsInf(r.Score, 0) || math.IsNaN(r.Score) || r.Score < 0 {
		return Reply{}, fmt.Errorf("%w: score %q", ErrNotRepairable, num)
	}
	pos += n
	n, err = resp.ParseReply(b[pos:], nil)
	if err != nil || pos+n != len(b) || (b[pos] != '$' && b[pos] != ':') {
		return Reply{}, fmt.Errorf("%w: the value is not one bulk string, null or integer", ErrNotRepairable)
	}
	r.Value = b[pos:]
	return r, nil
}

// scalar returns the text of a bulk string or integer reply v.
func scalar(v []byte) ([]byte, bool) {
	switch {
	case len(v) >= 4 && v[0] == ':':
		return v[1 : len(v)-2], true
	case len(v) >= 5 && v[0] == '$' && v[1] != '-':
		i := bytes.IndexByte(v, '\n')
		return v[i+1 : len(v)-2], true
	}
	return nil, false
}

// Newer reports whether a is the newer of two replies: the higher score;
// on a tie a delete, then the greater value, so that every coordinator that
// compares the same replies picks the same winner.
func Newer(a, b Reply) bool {
	if a.Score != b.Score {
		return a.Score > b.Score
	}
	if a.Status != b.Status {
		return rank(a.Status) > rank(b.Status)
	}
	return bytes.Compare(a.Value, b.Value) > 0
}

func rank(status byte) int {
	switch status {
	case Removed:
		return 2
	case Exists:
		return 1
	}
	return 0
}

// same reports whether two replies say the same thing.
func same(a, b Reply) bool {
	return a.Status == b.Status && a.Score == b.Score && bytes.Equal(a.Value, b.Value)
}
