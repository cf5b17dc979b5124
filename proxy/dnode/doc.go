// Package dnode is the wire format nodes use to talk to each other (upstream
// Dynomite's "dnode" peer protocol): the frame header that precedes every
// request, response and gossip message on a peer connection, and the peer
// listener that serves those connections.
//
// [AppendHeader] writes a header and [ParseHeader] reads one; [RequestType]
// names the frame type a msg.PeerType is sent with. [Server] is the
// accepting side (dyn_listen, upstream's dyn_dnode_server.c and
// dyn_dnode_client.c): connections, TLS, framing, replies in order and the
// drain on shutdown. What a request means (the datastore protocol, where it
// is routed) belongs to its [Handler], which the proxy package implements.
// The dialing side's connections are the proxy's peer pools (proxy/backend
// with this package's header). The package imports only proxy/msg and the
// leaves proxy/tlsconf and proxy/drain (scripts/depcheck.sh).
//
// # Frame
//
// Every frame is an ASCII header followed by a payload. All numbers are
// decimal, without sign. Upstream (Netflix/dynomite, dev branch, dmsg_write)
// writes the header as
//
//	"   $2014$ " msg_id " " type " " flags " " version " " same_dc " *" data_len " " data " *" payload_len "\r\n"
//
// for example, a SET sent to a peer in the same datacenter (as a Go string):
//
//	"   $2014$ 1 3 0 1 1 *1 d *0\r\n*3\r\n$3\r\nset\r\n$4\r\nfoo1\r\n$4\r\nbar1\r\n"
//
// The fields ([Header]):
//
//   - The magic: three spaces, "$2014$", one space.
//   - msg_id (uint64): the sender's id for a request. A response carries the
//     id of the request it answers.
//   - type ([Type]): 3 [TypeReq] (serve from the local datastore),
//     4 [TypeReqForward] (a request from another datacenter, which the
//     receiver sends on to the key's owner in every rack of its own
//     datacenter), 5 [TypeRes] (a response),
//     7 [TypeGossipSyn] and the other gossip types. Upstream acts on 3, 4, 5
//     and 7 only.
//   - flags: bit 0 ([FlagEncrypted]) marks an encrypted payload; bit 1
//     ([FlagCompressed]) is reserved and never set.
//   - version: always 1 ([Version1]); upstream ignores it.
//   - same_dc: 1 when the sender thinks both nodes share a datacenter, else
//     0. Upstream's receiver copies it onto the connection (stats and
//     cross-datacenter throttling).
//   - data_len and data: the bytes after exactly one space. Normally the
//     one byte "d" ([DataDefault]), "a" in gossip frames ([DataGossip]). On
//     the first frame of a secured connection it is the AES key encrypted
//     with the shared RSA key (RSA_size bytes, 128 for a 1024-bit key),
//     which may hold any byte, CRLF included.
//   - payload_len (uint32): for an encrypted frame the ciphertext length.
//     For an unencrypted frame upstream writes 0 and the receiver ignores
//     it.
//
// docs/dyn_protocol.txt upstream shows an older form ("2014 1344 1 11
// 1\r\n*4 minh\r\n..."); no released version writes it and ParseHeader
// rejects it. The form above is the one upstream's
// scripts/dynomite/dynomite-test.sh sends.
//
// # Write stamps
//
// A write's copies carry the version their coordinator stamped them with
// (proxy/hlc), so that replicas and replayed hints (proxy/hints) agree on
// the last writer. The version goes in the data field of the request
// frame, which upstream reads only on an encrypted frame: its dnode parser
// (src/dyn_dnode_msg.c, dyn_parse_core) keeps the data's bytes, and
// dyn_parse_req decrypts them as the AES key only when flags has bit 0 set
// and data_len is over 1; an unencrypted request's data is never looked at.
// A stamped frame therefore still reaches an upstream C peer intact: it
// serves the payload and ignores the stamp, so a mixed cluster keeps
// working (its C nodes neither stamp nor guard; their copies arrive here
// with "d", unstamped). The form ([Stamp], [Header].Stamp):
//
//	"s" timestamp ":" node      a write's copy
//	"h" timestamp ":" node      a copy to apply only when newer than the
//	                            receiver's last write of the key: a hint
//	                            being replayed
//	"f" timestamp ":" node      a copy from another datacenter's
//	                            coordinator: applied as it comes when it
//	                            arrives on time, as "h" when late (a cut
//	                            link held it back)
//
// timestamp is the hlc.Timestamp as one decimal number (non-zero) and node
// the coordinator's node order (hlc.Version.Node), for example
// "   $2014$ 7 3 0 1 1 *20 s7334567890123456:42 *0\r\n". A data field that
// starts with "s", "h" or "f" but is not of this form is a [*FrameError]. Stamps
// are only sent unencrypted: this implementation secures links with TLS
// and never writes upstream's encrypted frames, whose data field is the
// key.
//
// # What the caller does
//
//   - Framing the payload. The header does not say where an unencrypted
//     payload ends: it is exactly one Redis or Memcached message (request
//     on the accepting side, reply on the dialing side), and the datastore
//     parser (proxy/resp, proxy/memcache) finds its end, starting at
//     buf[n] after ParseHeader returns n. An encrypted payload is
//     payload_len bytes of AES ciphertext, to decrypt before parsing.
//   - Replies in order. Each node dials its peers for its own requests and
//     accepts their connections for theirs; the accepting side answers on
//     the same connection, in the order the requests arrived, one TypeRes
//     frame per request, carrying the request's msg_id. The dialing side
//     matches replies to its in-flight queue in FIFO order and checks the
//     id: upstream fails the skipped requests when a reply's id is larger
//     than the head request's and drops a reply whose id is smaller.
//     Gossip frames get no reply.
//   - Errors. On a [*FrameError] the stream cannot be trusted: close that
//     peer connection and fail its in-flight requests. ParseHeader keeps no
//     state: on [ErrIncomplete], read more and call it again from the same
//     start.
//   - Lifetimes. Header.Data is a slice of the buffer given to ParseHeader;
//     copy it (or finish with it) before the buffer is reused.
//
// # Differences from upstream's parser
//
// The parser accepts every header upstream writes, and like upstream's it
// allows any run of spaces before the magic and between fields (but
// exactly one space between data_len and the data, which may itself begin
// with spaces). Where upstream is lenient it is strict, since a proxy must
// never guess where a frame ends:
//
//   - Leading garbage. Upstream skips bytes until it finds "$2014$", and
//     restarts its search on any unexpected byte inside a header, dropping
//     the partial frame. ParseHeader instead fails on the first byte that
//     is neither a space nor the magic, and on any unexpected byte later,
//     so that the caller closes that one connection: a peer that sends
//     garbage is broken or not a peer, and resynchronising in the middle of
//     a stream of pipelined requests would silently lose some of them and
//     misalign the FIFO of replies.
//   - Numbers must have at least one digit (upstream reads an empty number
//     as 0) and must fit: msg_id in uint64, type in uint8, flags in four
//     bits (upstream masks with 0xF), version 1 to 255, same_dc 0 or 1,
//     data_len 1 to Limits.MaxDataLen, payload_len in uint32. Leading zeros
//     are allowed, as upstream allows them.
//   - payload_len must be followed by CRLF at once.
//   - Size. A header longer than Limits.MaxHeaderLen (4 KiB by default)
//     plus its data_len is an error rather than a reason to keep reading,
//     so that garbage cannot make the caller buffer without bound.
package dnode
