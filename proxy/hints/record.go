package hints

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Hint is one write a target missed.
type Hint struct {
	// Stamp and Node are the write's version (hlc.Version: the timestamp
	// and the coordinator's node order).
	Stamp, Node uint64
	// PeerType is how the copy was to be sent (msg.PeerType: served by the
	// target, or forwarded by it to its datacenter's racks).
	PeerType uint8
	// Created is when the hint was kept, in Unix milliseconds.
	Created int64
	// Raw is the request as its coordinator forwards it (datastore protocol).
	Raw []byte
}

// Record layout: a header of the payload's length and the payload's CRC32C
// (Castagnoli), both little-endian uint32, then the payload:
//
//	version (1 byte, 1) | peer type (1) | stamp (8) | node (8) | created (8) | raw
const (
	recordHeader  = 8
	payloadFixed  = 1 + 1 + 8 + 8 + 8
	recordVersion = 1
	// MaxRecord bounds one record's payload (a request of up to 512 MiB plus
	// the fixed fields and slack): a larger length is corruption.
	MaxRecord = 1<<29 + 1<<20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendRecord appends h's record to dst.
func appendRecord(dst []byte, h *Hint) []byte {
	n := payloadFixed + len(h.Raw)
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(n))
	dst = binary.LittleEndian.AppendUint32(dst, 0) // the CRC, below
	dst = append(dst, recordVersion, h.PeerType)
	dst = binary.LittleEndian.AppendUint64(dst, h.Stamp)
	dst = binary.LittleEndian.AppendUint64(dst, h.Node)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(h.Created))
	dst = append(dst, h.Raw...)
	binary.LittleEndian.PutUint32(dst[start+4:], crc32.Checksum(dst[start+recordHeader:], castagnoli))
	return dst
}

// errShort is a record cut off by the end of the input: the tail of a
// segment whose last write did not complete.
var errShort = errors.New("record truncated")

// parseRecord reads the record at the start of b into h (h.Raw aliases b)
// and returns its length. Errors: errShort when b ends inside the record, a
// descriptive error when it is corrupt.
func parseRecord(b []byte, h *Hint) (int, error) {
	if len(b) < recordHeader {
		return 0, errShort
	}
	n := binary.LittleEndian.Uint32(b)
	if n < payloadFixed || n > MaxRecord {
		return 0, fmt.Errorf("record length %d outside %d..%d", n, payloadFixed, MaxRecord)
	}
	if uint64(len(b)-recordHeader) < uint64(n) {
		return 0, errShort
	}
	p := b[recordHeader : recordHeader+int(n)]
	if got, want := crc32.Checksum(p, castagnoli), binary.LittleEndian.Uint32(b[4:]); got != want {
		return 0, fmt.Errorf("record checksum %08x, header says %08x", got, want)
	}
	if p[0] != recordVersion {
		return 0, fmt.Errorf("record version %d, want %d", p[0], recordVersion)
	}
	*h = Hint{
		PeerType: p[1],
		Stamp:    binary.LittleEndian.Uint64(p[2:]),
		Node:     binary.LittleEndian.Uint64(p[10:]),
		Created:  int64(binary.LittleEndian.Uint64(p[18:])),
		Raw:      p[payloadFixed:],
	}
	return recordHeader + int(n), nil
}
