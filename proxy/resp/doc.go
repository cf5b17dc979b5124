// Package resp is the Redis protocol of the proxy: an incremental parser for
// client requests and datastore replies, a few reply writers, and the
// command table that says how each command is routed.
//
// # Parsing
//
// [ParseRequest] and [ParseReply] look at the start of a buffer and either
// take one whole message (returning its length), or say that the buffer
// holds only part of one ([ErrIncomplete]), or that the input is broken (a
// *[ProtocolError], after which the connection must be closed). They keep no
// state between calls: the caller reads more bytes and calls again from the
// same offset. Parsing is cheap next to a network read, and the size hint
// that comes with ErrIncomplete lets the caller read a large value (tens of
// MB) into one buffer of the right size instead of reparsing it as it grows.
//
// Requests are RESP arrays of bulk strings, parsed without allocating (the
// arguments are slices of the buffer), or inline commands ([IsInline]),
// split as redis-server splits them (sdssplitargs: blanks, "double quotes"
// with \n \r \t \b \a \xHH escapes, 'single quotes' with \'). Inline
// arguments that needed unquoting are copied into one buffer allocated for
// the request; inline requests (telnet, redis-benchmark's PING_INLINE) are
// re-encoded with [AppendCommand] before forwarding, so this is off the hot
// path. Empty arrays (`*0`, `*-1`, any `*-n`) and blank lines are consumed
// with zero arguments, as Redis skips them.
//
// Errors use Redis 7.0's wording (checked against a real server):
//
//	Protocol error: invalid multibulk length
//	Protocol error: invalid bulk length
//	Protocol error: expected '$', got 'X'
//	Protocol error: too big inline request
//	Protocol error: unbalanced quotes in request
//
// Over-limit input ([Limits]) reuses the same wording and names the limit:
// `Protocol error: invalid bulk length (600000000 > MaxBulkLen 536870912)`.
//
// Where the parser is stricter than Redis (a proxy must never guess where a
// request ends, since it forwards the raw bytes):
//
//   - A bulk string must be followed by CRLF; Redis skips any two bytes.
//   - A length line must end with CRLF, and a byte that cannot be part of a
//     number is rejected at once; Redis accepts `*1\rX` and, for `*1\n`,
//     waits for a CR until 64 KB have arrived.
//   - MaxArrayLen defaults to 1024*1024 arguments (Redis 7.0 allows up to
//     2^31-1) and also bounds the argument count of inline requests.
//   - The inline line limit applies to the line whatever the read sizes;
//     Redis checks it only while the line feed is missing.
//   - A NUL byte in an inline request is an ordinary byte; redis-server
//     stops at it (strchr) and hangs until 64 KB have arrived.
//
// [ParseReply] knows every RESP2 and RESP3 type, including attributes and
// nested aggregates up to Limits.MaxDepth, so the proxy can frame any reply
// a datastore sends without decoding it.
//
// # Command table
//
// [Lookup] maps a command name, in any case and without allocating, to an
// id and a [Command]: its routing class (msg.Class), arity, key positions,
// whether it reads from the local rack only, whether upstream Netflix
// Dynomite supports it, and its upstream stats group. [Command.Allowed]
// checks the argument count and the subcommands the proxy lets through,
// [Command.Key] gives the routing key and [Command.Keys] every key.
// Commands missing from the table are unsupported: the session replies
// `-ERR unsupported command 'name'` (upstream closed the connection).
//
// The table lists every command upstream routes (src/proto/dyn_redis.c),
// with five upstream misclassifications corrected (TTL and PFCOUNT are
// reads; SUNIONSTORE, ZINTERSTORE and ZUNIONSTORE are writes), SORT and
// GEORADIUS[BYMEMBER] made writes because of their STORE option, and a
// few single-key commands of Redis 7.0 added. table.go lists every decision
// and every command added beyond upstream.
package resp
