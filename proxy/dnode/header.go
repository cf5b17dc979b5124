package dnode

import (
	"strconv"

	"github.com/dynomite-go/dynomite/proxy/msg"
)

// Type is the kind of a peer frame (upstream's dmsg_type_t).
type Type uint8

// The frame types, numbered as upstream numbers them on the wire. Upstream
// acts on TypeReq, TypeReqForward, TypeRes and TypeGossipSyn only.
const (
	TypeUnknown          Type = 0
	TypeDebug            Type = 1
	TypeParseError       Type = 2
	TypeReq              Type = 3 // a request for the receiver's own datastore
	TypeReqForward       Type = 4 // a request from another datacenter, for every rack of the receiver's
	TypeRes              Type = 5 // a response; it carries the request's ID
	TypeCryptoHandshake  Type = 6
	TypeGossipSyn        Type = 7 // gossip; never answered
	TypeGossipSynReply   Type = 8
	TypeGossipAck        Type = 9
	TypeGossipDigestSyn  Type = 10
	TypeGossipDigestAck  Type = 11
	TypeGossipDigestAck2 Type = 12
	TypeGossipShutdown   Type = 13
	// TypePubSub is ours, beyond upstream's numbers: a pub/sub message or
	// query (msg.PeerPubSub) for the receiver's own subscribers, which it
	// must not send on.
	TypePubSub Type = 14
)

var typeNames = [...]string{
	TypeUnknown:          "UNKNOWN",
	TypeDebug:            "DEBUG",
	TypeParseError:       "PARSE_ERROR",
	TypeReq:              "REQ",
	TypeReqForward:       "REQ_FORWARD",
	TypeRes:              "RES",
	TypeCryptoHandshake:  "CRYPTO_HANDSHAKE",
	TypeGossipSyn:        "GOSSIP_SYN",
	TypeGossipSynReply:   "GOSSIP_SYN_REPLY",
	TypeGossipAck:        "GOSSIP_ACK",
	TypeGossipDigestSyn:  "GOSSIP_DIGEST_SYN",
	TypeGossipDigestAck:  "GOSSIP_DIGEST_ACK",
	TypeGossipDigestAck2: "GOSSIP_DIGEST_ACK2",
	TypeGossipShutdown:   "GOSSIP_SHUTDOWN",
	TypePubSub:           "PUBSUB",
}

// String returns the upstream name without its DMSG_ prefix ("REQ",
// "GOSSIP_SYN"), or "Type(N)" for a number upstream does not define.
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// RequestType is the frame type a request is sent to a peer with:
// TypeReqForward for msg.PeerForward, TypePubSub for msg.PeerPubSub,
// TypeReq otherwise.
func RequestType(p msg.PeerType) Type {
	switch p {
	case msg.PeerForward:
		return TypeReqForward
	case msg.PeerPubSub:
		return TypePubSub
	}
	return TypeReq
}

// peerType is RequestType's inverse for the two request types; ok is false
// for every other type.
func peerType(t Type) (p msg.PeerType, ok bool) {
	switch t {
	case TypeReq:
		return msg.PeerServe, true
	case TypeReqForward:
		return msg.PeerForward, true
	case TypePubSub:
		return msg.PeerPubSub, true
	}
	return 0, false
}

// Flag bits of Header.Flags. Upstream sets FlagEncrypted on every frame of a
// secured connection; FlagCompressed is reserved and never set.
const (
	FlagEncrypted  uint8 = 1 << 0
	FlagCompressed uint8 = 1 << 1

	// maxFlags is the largest flags value ParseHeader accepts: upstream keeps
	// only the low four bits (num & 0xF); we reject the rest instead of
	// masking them off.
	maxFlags = 0xF
)

// Version1 is the only frame version upstream writes (VERSION_10). It is
// parsed and otherwise ignored.
const Version1 uint8 = 1

// Data field contents upstream writes when the frame carries no key.
const (
	DataDefault = "d" // requests and responses
	DataGossip  = "a" // gossip frames
)

// Header is the decoded header of one peer frame. See the package
// documentation for the meaning of each field.
type Header struct {
	// ID is the sender's message id; a response carries its request's ID.
	ID uint64
	// Type is the frame kind.
	Type Type
	// Flags holds FlagEncrypted (and the unused FlagCompressed); at most 15.
	Flags uint8
	// Version is Version1. AppendHeader writes 1 when it is 0.
	Version uint8
	// SameDC is the sender's view of whether both nodes share a datacenter.
	SameDC bool
	// Data is the data field: "d", "a" in gossip frames, or the
	// RSA-encrypted AES key on the first frame of a secured connection.
	// ParseHeader sets it to a slice of its input (capacity trimmed to its
	// length), valid as long as that buffer is. AppendHeader writes "d"
	// when it is empty.
	Data []byte
	// PayloadLen is the ciphertext length of an encrypted payload. Upstream
	// writes 0 for an unencrypted one, whose end the datastore parser finds.
	PayloadLen uint32
	// Stamp is the write version a request frame carries in its data field
	// (see "Write stamps" in the package documentation). ParseHeader sets it
	// from an unencrypted frame's data; AppendHeader writes it as the data
	// when Data is empty and Stamp.TS is not zero.
	Stamp Stamp
}

// Encrypted reports whether FlagEncrypted is set.
func (h *Header) Encrypted() bool { return h.Flags&FlagEncrypted != 0 }

// magic opens every frame, as upstream writes it (MAGIC_STR).
const magic = "   $2014$ "

// magicToken is the part of the magic that ParseHeader looks for after any
// run of leading spaces.
const magicToken = "$2014$"

// AppendHeader appends the header h, byte for byte as upstream's dmsg_write
// formats it, to dst and returns the extended slice:
//
//	"   $2014$ " id " " type " " flags " " version " " same_dc " *" len(data) " " data " *" payload_len "\r\n"
//
// An empty Data is written as "d" (or as h.Stamp, when it is set) and a zero
// Version as 1. It allocates only when dst lacks capacity: len(h.Data) plus
// 128 bytes are always enough.
// AppendHeader does not check h: a header ParseHeader would reject (Flags
// over 15) is written as given.
func AppendHeader(dst []byte, h Header) []byte {
	dst = append(dst, magic...)
	dst = strconv.AppendUint(dst, h.ID, 10)
	dst = append(dst, ' ')
	dst = strconv.AppendUint(dst, uint64(h.Type), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendUint(dst, uint64(h.Flags), 10)
	dst = append(dst, ' ')
	v := h.Version
	if v == 0 {
		v = Version1
	}
	dst = strconv.AppendUint(dst, uint64(v), 10)
	if h.SameDC {
		dst = append(dst, " 1 *"...)
	} else {
		dst = append(dst, " 0 *"...)
	}
	switch {
	case len(h.Data) == 0 && h.Stamp.TS != 0:
		// the digits first, on the stack, for the length before them
		var b [maxStampData]byte
		d := appendStampData(b[:0], h.Stamp)
		dst = strconv.AppendUint(dst, uint64(len(d)), 10)
		dst = append(dst, ' ')
		dst = append(dst, d...)
	case len(h.Data) == 0:
		dst = append(dst, "1 "+DataDefault...)
	default:
		dst = strconv.AppendUint(dst, uint64(len(h.Data)), 10)
		dst = append(dst, ' ')
		dst = append(dst, h.Data...)
	}
	dst = append(dst, " *"...)
	dst = strconv.AppendUint(dst, uint64(h.PayloadLen), 10)
	return append(dst, '\r', '\n')
}
