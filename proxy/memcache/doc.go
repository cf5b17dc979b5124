// Package memcache parses memcached's ASCII protocol for the proxy: client
// requests ([ParseRequest]), datastore replies ([ParseReply]), and the
// re-encoding and reassembly of fragmented multi-key retrievals
// ([AppendGet], [AppendGat], [AppendCoalesced]).
//
// Malformed requests are answered exactly as memcached 1.6 answers them, so
// that a client cannot tell the proxy from the memcached behind it.
// TestMemcachedAgrees checks every case below against a real memcached.
//
// # Parser contract
//
// ParseRequest and ParseReply are stateless and incremental: they parse from
// the start of buf every time, and the caller calls again with more bytes
// after [ErrIncomplete]. For any input, each prefix parses either as
// ErrIncomplete or exactly as the whole input does, so the result does not
// depend on how the bytes arrived (fuzzed).
//
//   - On success n is the length of the request or reply; n <= len(buf), and
//     buf[:n] alone parses the same. A storage request includes its data
//     block; [Request.DataStart] and [Request.DataLen] locate the value.
//   - On ErrIncomplete n is 0, or the total length the message needs when
//     that is known: for a storage command whose line is complete, exactly
//     line + bytes + 2; for a retrieval reply inside a VALUE block, the end
//     of its data plus len("END\r\n") (a lower bound). The caller can then
//     read a large value into one buffer of that size.
//   - On a *[ClientError] n is the length of the malformed command line (0
//     when the connection is to be closed); the session writes
//     [ClientError.Reply] when it is not empty, then closes if
//     [ClientError.Close], else discards n + [ClientError.Skip] bytes (Skip
//     counts bytes after the line that may not have arrived yet) and goes on.
//   - A reply that is not memcached's protocol is an error wrapping
//     [ErrBadReply]: the datastore connection is out of step.
//
// [Request] is reused by the caller; its Keys slice keeps its capacity and
// its byte slices alias buf. Parsing a single-key request or a VALUE reply
// allocates nothing.
//
// # Commands and routing
//
// get and gets (one or more keys) are [msg.ClassRead] with one key and
// [msg.ClassMultiKey] with several. gat and gats (`gat <exptime> <key>*`)
// are [msg.ClassWrite] with one key, because they also set the expiry on
// every replica, and [msg.ClassMultiKey] with several, whose fragments are
// writes for the same reason ([msg.FlagWrite] in the table); without a key
// they are valid, memcached answers END, and they go to the local memcached
// ([msg.ClassLocal]). set, add, replace, append, prepend, cas, incr, decr,
// touch and delete are [msg.ClassWrite]. version is [msg.ClassLocal] (the
// local memcached answers). quit is [msg.ClassProxy]: memcached closes the
// connection without a reply, and so does the proxy.
//
// The meta commands mg, ms, md, ma, mn and me are routed by key like get
// and set (ms, md, ma are writes; mg a read unless it touches or vivifies;
// me reads the local rack); meta.go says what the proxy checks itself and
// how quiet mode (q) is kept in step with the datastore connection.
//
// Other commands memcached knows (stats, flush_all, verbosity,
// lru_crawler...) are not supported, as upstream Dynomite does not support
// them: they are answered ERROR, memcached's reply to a command it does not
// know, and the connection stays open (upstream closes it).
//
// # Malformed input and memcached 1.6's answers
//
// Tokens are separated by spaces only; runs of spaces and leading spaces
// are ignored; a line ends at LF, and one CR before the LF is dropped if the
// line has another byte; a NUL byte ends the line for the tokenizer.
// "noreply" counts only as the last token of a command that takes it.
//
//   - Unknown command, wrong case (GET), empty line ("\r\n", "\n", spaces),
//     or a control byte glued to the command ("get\tk", "version\r\r\n"):
//     ERROR. The connection stays open and nothing is skipped, so a data
//     block that follows is read as further commands (usually ERROR each).
//   - Too many or too few tokens for the command (get/gets without a key,
//     gat/gats without an exptime, set/add/replace/append/prepend with fewer
//     than 4 or more than 5 arguments, cas with fewer than 5 or more than 6,
//     incr/decr/touch with fewer than 2 or more than 3, delete with none or
//     more than 3): ERROR, even with noreply, nothing skipped. An extra last
//     argument other than noreply is ignored ("set k 0 0 3 4" is a set).
//   - A key longer than 250 bytes, in any command and at any position of a
//     multi-get: CLIENT_ERROR bad command line format, no VALUE for the
//     other keys, nothing skipped (a storage command's data block is then
//     read as a command).
//   - Non-numeric, negative or out-of-range flags, exptime, bytes or cas
//     unique in a storage command, and bytes < 0 or > INT_MAX-2:
//     CLIENT_ERROR bad command line format, nothing skipped. Numbers are
//     read like C strtol/strtoul, quirks included: a sign and leading
//     whitespace are allowed, whitespace ends a number ("1\tx" is 1),
//     values are truncated to 32 bits ("4294967299" bytes is 3), and
//     "-18446744073709551615" is a valid flags value (1).
//   - Non-numeric or negative incr/decr delta: CLIENT_ERROR invalid numeric
//     delta argument. Non-numeric exptime in touch, gat, gats: CLIENT_ERROR
//     invalid exptime argument (gat checks the exptime before the keys).
//   - delete with a second argument other than "0" or noreply, or with
//     three arguments other than "0 noreply": CLIENT_ERROR bad command line
//     format.  Usage: delete <key> [noreply] (two spaces, as memcached).
//   - A data block not followed by CRLF (a bare LF, or more bytes than
//     announced): CLIENT_ERROR bad data chunk, after reading bytes+2 bytes
//     (Skip), which are dropped; what follows is the next command.
//   - A value too large for the item size limit (1 MB by default; item =
//     48-byte header + key + 1 + bytes + 2 + 8 for CAS + 4 when flags are
//     not 0): SERVER_ERROR object too large for cache, and the data block is
//     swallowed (Skip = bytes + 2). memcached sends this reply once it has
//     swallowed the block; we answer at once (same bytes, earlier).
//   - With noreply, all the CLIENT_ERROR and SERVER_ERROR replies above are
//     not sent (memcached's out_string drops them), but bytes are skipped as
//     without it. ERROR is always sent.
//   - A command line longer than 2048 bytes: memcached closes the connection
//     without a reply when it has read more than 2048 bytes without a LF,
//     unless the line is a get or gets (after at most 100 leading spaces),
//     which it waits for without limit. Whether that happens depends on how
//     the line arrives; we always behave as if it arrived byte by byte
//     (close, n = 0), so a long line is refused whatever its segmentation.
//     get/gets lines are accepted up to [Limits.MaxGetLine] (1 MiB, our own
//     cap), beyond which we close.
//   - get with "noreply": a key like any other. version and quit ignore
//     their arguments.
package memcache
