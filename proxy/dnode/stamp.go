package dnode

import "strconv"

// Stamp is a write's version as it travels in a request frame's data field:
// the hybrid logical clock stamp its coordinator gave it (proxy/hlc's
// Timestamp, as a number), the coordinator's node order (hlc.Version.Node)
// and whether the receiver is to apply it only when newer than its last
// write of the key: always (Replay: a replayed hint, proxy/hints), or when
// it arrives late (CrossDC: a copy from another datacenter's coordinator).
// The zero Stamp means "not stamped": the data field is then upstream's "d".
type Stamp struct {
	TS      uint64
	Node    uint64
	Replay  bool
	CrossDC bool
}

// Data field prefixes of a stamped request (see the package documentation,
// "Write stamps").
const (
	stampCopy    = 's'
	stampReplay  = 'h'
	stampCrossDC = 'f'
)

// maxStampData is the longest stamped data field: a prefix, two 20-digit
// numbers and the ':' between them.
const maxStampData = 1 + 20 + 1 + 20

// appendStampData appends the data field that carries s.
func appendStampData(dst []byte, s Stamp) []byte {
	p := byte(stampCopy)
	switch {
	case s.Replay:
		p = stampReplay
	case s.CrossDC:
		p = stampCrossDC
	}
	dst = append(dst, p)
	dst = strconv.AppendUint(dst, s.TS, 10)
	dst = append(dst, ':')
	return strconv.AppendUint(dst, s.Node, 10)
}

// parseStamp reads a data field written by appendStampData. ok is false when
// data is not a stamp at all (upstream's "d", say); err is set when it
// starts like one but is malformed.
func parseStamp(data []byte) (s Stamp, ok bool, reason string) {
	if len(data) == 0 || (data[0] != stampCopy && data[0] != stampReplay && data[0] != stampCrossDC) {
		return Stamp{}, false, ""
	}
	s.Replay, s.CrossDC = data[0] == stampReplay, data[0] == stampCrossDC
	if len(data) > maxStampData {
		return Stamp{}, true, "stamp in the data field longer than " + strconv.Itoa(maxStampData) + " bytes"
	}
	i := 1
	ts, i, ok := stampNumber(data, i)
	if !ok || i >= len(data) || data[i] != ':' || ts == 0 {
		return Stamp{}, true, "stamp in the data field is not <prefix><timestamp>:<node> with a non-zero timestamp"
	}
	node, i, ok := stampNumber(data, i+1)
	if !ok || i != len(data) {
		return Stamp{}, true, "stamp in the data field has a malformed node order"
	}
	s.TS, s.Node = ts, node
	return s, true, ""
}

// stampNumber reads the decimal number at data[i:], at least one digit,
// fitting in 64 bits.
func stampNumber(data []byte, i int) (v uint64, end int, ok bool) {
	start := i
	for ; i < len(data) && data[i] >= '0' && data[i] <= '9'; i++ {
		d := uint64(data[i] - '0')
		// 19 digits never overflow 64 bits: only a 20th (and any later
		// one) needs the check, which every peer request pays otherwise
		if i-start >= 19 && v > (1<<64-1-d)/10 {
			return 0, i, false
		}
		v = v*10 + d
	}
	return v, i, i > start
}
