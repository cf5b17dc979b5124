package memcache

// NextValue returns the key of the VALUE block at reply[pos:] and the offset
// just after that block; ok is false at END, at an error line or at anything
// else. reply must be a retrieval reply that ParseReply accepted. It lets a
// caller walk a reply block by block without copying (per-key quorum of a
// multi-key get compares the racks' blocks key by key).
func NextValue(reply []byte, pos int) (key []byte, next int, ok bool) {
	return valueBlock(reply, pos)
}

// IsEnd reports whether rest is exactly the END line that closes a retrieval
// reply.
func IsEnd(rest []byte) bool { return string(rest) == endLine }
