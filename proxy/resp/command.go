package resp

import (
	"github.com/dynomite-go/dynomite/proxy/msg"
)

// Command is one entry of the command table: how the proxy routes a Redis
// command and where its keys are. Entries are immutable and shared.
type Command struct {
	// Name is the command name in lowercase ("get", "json.set").
	Name string
	// Class is how the command is routed.
	Class msg.Class
	// Arity is Redis's: n means exactly n arguments including the name, -n
	// means at least n.
	Arity int
	// FirstKey, LastKey and KeyStep give the key positions, as in Redis's
	// COMMAND INFO: args[FirstKey], args[FirstKey+KeyStep], ... up to
	// args[LastKey]; a negative LastKey counts from the end (-1 is the last
	// argument). FirstKey 0 means no key at a fixed position.
	FirstKey, LastKey, KeyStep int
	// NumKeysAt, when not 0, is the position of a key count (EVAL's numkeys,
	// ZUNIONSTORE's numkeys); that many keys follow it.
	NumKeysAt int
	// Flags are what the router needs to know beyond Class: read or write,
	// multi-key and how its fragments' replies coalesce, script, key-less,
	// local rack only, delete. The codec copies them onto each request.
	Flags msg.Flags
	// Answer is what the proxy does with a command of [msg.ClassProxy].
	Answer Answer
	// Reply3 is how the command's RESP2 reply becomes RESP3 for a client
	// that asked for RESP3 (resp3.go).
	Reply3 Shape
	// Upstream is true when Netflix Dynomite supports the command.
	Upstream bool
	// Stats is the group of upstream's redis_req_<group> counter the command
	// counts in: get, set, del, incr_decr, keys, mget, scan, sort, lreqm,
	// sunion, ping, lists, sets, hashes, sortedsets or other.
	Stats string
	// StatsAlso is a second group the command also counts in, or "":
	// upstream counts LREM in lreqm and lists, SUNION in sunion and sets.
	StatsAlso string

	check    func(c *Command, args [][]byte) error
	arityErr *CommandError
}

// Answer is how the proxy answers a command of [msg.ClassProxy] itself.
type Answer uint8

const (
	// AnswerNone: the command is not answered by the proxy.
	AnswerNone Answer = iota
	// AnswerQuit: +OK, then the connection closes.
	AnswerQuit
	// AnswerEcho: the argument, as a bulk string.
	AnswerEcho
	// AnswerConnConsistency: DYNO_CONFIG:CONN_CONSISTENCY sets the
	// connection's read and write consistency levels.
	AnswerConnConsistency
	// AnswerHello: HELLO 2 or 3 sets the session's protocol; the session
	// answers it.
	AnswerHello
	// AnswerLocal: the local datastore answers.
	AnswerLocal
	// AnswerPubSub: the node's pub/sub (proxy/pubsub.go): SUBSCRIBE and
	// its kin, PUBLISH, SPUBLISH, PUBSUB.
	AnswerPubSub
	// The answers below are the client session's (proxy/session_redis.go):
	// connection state, transactions, COMMAND from this table, and the
	// commands that see the keyspace of every node of the rack.
	AnswerClient
	AnswerSelect
	AnswerReset
	AnswerMulti
	AnswerExec
	AnswerDiscard
	AnswerWatch
	AnswerUnwatch
	AnswerCommand
	AnswerKeys
	AnswerScan
	AnswerDBSize
	AnswerRandomKey
	AnswerFlush
)

// Session reports whether the client's session answers a command answered
// this way (AnswerHello and the answers from AnswerClient on).
func (a Answer) Session() bool { return a == AnswerHello || a >= AnswerClient }

// CommandError is a request the proxy refuses without forwarding it. Error
// returns the reply text without the leading '-' ("ERR wrong number of
// arguments for 'get' command"), ready for [AppendError].
type CommandError struct{ Msg string }

func (e *CommandError) Error() string { return e.Msg }

// maxNameLen is the longest command name Lookup considers; longer names are
// not in the table.
const maxNameLen = 32

// index maps lowercase names to ids; built once in init and never written
// again, so lookups need no lock.
var index map[string]uint16

func init() {
	index = make(map[string]uint16, len(table))
	for id := 1; id < len(table); id++ {
		c := &table[id]
		if len(c.Name) > maxNameLen {
			panic("resp: command name longer than maxNameLen: " + c.Name)
		}
		if _, dup := index[c.Name]; dup {
			panic("resp: duplicate command " + c.Name)
		}
		index[c.Name] = uint16(id)
		c.arityErr = &CommandError{Msg: "ERR wrong number of arguments for '" + c.Name + "' command"}
		c.Reply3 = replyShapes[c.Name]
	}
}

// Lookup finds a command by name, in any letter case. It returns id 0 and a
// nil command for a name that is not in the table: the session then replies
// `-ERR unsupported command '<name>'`. Lookup does not allocate.
func Lookup(name []byte) (id uint16, cmd *Command) {
	if len(name) == 0 || len(name) > maxNameLen {
		return 0, nil
	}
	var lower [maxNameLen]byte
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	// The compiler does not allocate for a string conversion used only as
	// a map key.
	id, ok := index[string(lower[:len(name)])]
	if !ok {
		return 0, nil
	}
	return id, &table[id]
}

// CommandByID returns the command with the given id, or nil. Ids are
// positions in the table: stable within a build, not across builds.
func CommandByID(id uint16) *Command {
	if id == 0 || int(id) >= len(table) {
		return nil
	}
	return &table[id]
}

// Commands returns every command of the table, in id order. The commands
// are shared and must not be modified.
func Commands() []*Command {
	out := make([]*Command, 0, len(table)-1)
	for id := 1; id < len(table); id++ {
		out = append(out, &table[id])
	}
	return out
}

// Allowed checks that args (args[0] being the name) is a call the proxy
// will route: the argument count fits Arity, and for commands the proxy
// supports only in part, the subcommand or options are allowed (CONFIG GET
// only; SCRIPT LOAD/EXISTS/FLUSH/KILL; EVAL with at least one key; HELLO
// with no version or version 2; MSET with whole pairs). The error is a
// *[CommandError] in Redis's wording. Allowed does not allocate when the
// call is allowed or its arity is wrong.
func (c *Command) Allowed(args [][]byte) error {
	n := len(args)
	if c.Arity > 0 && n != c.Arity || c.Arity < 0 && n < -c.Arity {
		return c.arityErr
	}
	if c.check != nil {
		return c.check(c, args)
	}
	return nil
}

// Key returns the routing key: the first key, or for EVAL/EVALSHA KEYS[1].
// It returns nil for a key-less command, when args is too short, and for a
// script whose numkeys is 0 or malformed.
func (c *Command) Key(args [][]byte) []byte {
	if c.FirstKey > 0 {
		if c.FirstKey < len(args) {
			return args[c.FirstKey]
		}
		return nil
	}
	if c.NumKeysAt > 0 {
		if nk, ok := c.numKeys(args); ok && nk > 0 {
			return args[c.NumKeysAt+1]
		}
	}
	return nil
}

// Keys appends every key of args to dst[:0] and returns it: the keys to
// fragment by for multi-key commands (MSET: every other argument), and the
// keys that must all live on one node for the others (SUNIONSTORE, EVAL...).
// Keys named inside options (SORT ... STORE dst, GEORADIUS ... STORE dst)
// are not reported.
func (c *Command) Keys(args [][]byte, dst [][]byte) [][]byte {
	dst = dst[:0]
	if c.FirstKey > 0 {
		for i, last := c.FirstKey, c.lastKey(args); i <= last; i += c.KeyStep {
			dst = append(dst, args[i])
		}
	}
	if c.NumKeysAt > 0 {
		if nk, ok := c.numKeys(args); ok {
			first := c.NumKeysAt + 1
			dst = append(dst, args[first:first+nk]...)
		}
	}
	return dst
}

// KeyCount returns len(c.Keys(args, nil)) without building the list.
func (c *Command) KeyCount(args [][]byte) int {
	n := 0
	if c.FirstKey > 0 {
		if last := c.lastKey(args); last >= c.FirstKey {
			n = (last-c.FirstKey)/c.KeyStep + 1
		}
	}
	if c.NumKeysAt > 0 {
		if nk, ok := c.numKeys(args); ok {
			n += nk
		}
	}
	return n
}

// lastKey is the index of the last argument that may be a key.
func (c *Command) lastKey(args [][]byte) int {
	last := c.LastKey
	if last < 0 {
		last += len(args)
	}
	return min(last, len(args)-1)
}

// numKeys reads the key count at NumKeysAt; ok is false when it is missing,
// malformed, negative or larger than the arguments that follow it.
func (c *Command) numKeys(args [][]byte) (int, bool) {
	if c.NumKeysAt >= len(args) {
		return 0, false
	}
	nk, ok := parseInt(args[c.NumKeysAt])
	if !ok || nk < 0 || nk > int64(len(args)-c.NumKeysAt-1) {
		return 0, false
	}
	return int(nk), true
}

// equalFold compares an argument with a lowercase ASCII word.
func equalFold(arg []byte, lower string) bool {
	if len(arg) != len(lower) {
		return false
	}
	for i, c := range arg {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// quoteName renders a client-supplied name for an error message: lowercase,
// at most 64 bytes, control characters and quotes as '?'.
func quoteName(b []byte) string {
	out := make([]byte, 0, min(len(b), 64)+3)
	for i, c := range b {
		if i == 64 {
			out = append(out, "..."...)
			break
		}
		switch {
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		case c < ' ' || c == 0x7f || c == '\'':
			c = '?'
		}
		out = append(out, c)
	}
	return string(out)
}

func unsupportedSub(c *Command, sub []byte) error {
	return &CommandError{Msg: "ERR unsupported command '" + c.Name + "|" + quoteName(sub) + "'"}
}

func subArityError(c *Command, sub string) error {
	return &CommandError{Msg: "ERR wrong number of arguments for '" + c.Name + "|" + sub + "' command"}
}

// checkConfig allows CONFIG GET only: every other subcommand changes the
// datastore under the proxy's feet.
func checkConfig(c *Command, args [][]byte) error {
	if !equalFold(args[1], "get") {
		return unsupportedSub(c, args[1])
	}
	if len(args) < 3 {
		return subArityError(c, "get")
	}
	return nil
}

var scriptSubs = [...]struct {
	name  string
	arity int
}{{"load", 3}, {"exists", -3}, {"flush", -2}, {"kill", 2}}

// checkScript allows the SCRIPT subcommands upstream sends to every node.
func checkScript(c *Command, args [][]byte) error {
	for _, s := range scriptSubs {
		if !equalFold(args[1], s.name) {
			continue
		}
		if s.arity > 0 && len(args) != s.arity || s.arity < 0 && len(args) < -s.arity {
			return subArityError(c, s.name)
		}
		return nil
	}
	return unsupportedSub(c, args[1])
}

// checkEval requires a well-formed numkeys of at least 1: scripts are
// routed by KEYS[1], and a script without keys has no owner.
func checkEval(c *Command, args [][]byte) error {
	nk, ok := parseInt(args[c.NumKeysAt])
	switch {
	case !ok:
		return &CommandError{Msg: "ERR value is not an integer or out of range"}
	case nk < 0:
		return &CommandError{Msg: "ERR Number of keys can't be negative"}
	case nk > int64(len(args)-c.NumKeysAt-1):
		return &CommandError{Msg: "ERR Number of keys can't be greater than number of args"}
	}
	return nil
}

// subcommands checks args[1] against the allowed subcommands and their
// arities (Redis's: n exactly, -n at least).
func subcommands(c *Command, args [][]byte, subs map[string]int) error {
	for name, arity := range subs {
		if !equalFold(args[1], name) {
			continue
		}
		if arity > 0 && len(args) != arity || arity < 0 && len(args) < -arity {
			return subArityError(c, name)
		}
		return nil
	}
	return unsupportedSub(c, args[1])
}

// checkFunction allows the FUNCTION subcommands that every node runs alike:
// a library loaded on every datastore makes FCALL work wherever its keys
// land.
func checkFunction(c *Command, args [][]byte) error {
	return subcommands(c, args, map[string]int{"load": -3, "delete": 3, "flush": -2, "list": -2})
}

// checkClient allows the CLIENT subcommands about the client's own
// connection, which the session answers.
func checkClient(c *Command, args [][]byte) error {
	return subcommands(c, args, map[string]int{"setname": 3, "getname": 2, "setinfo": 4, "id": 2, "info": 2,
		"no-evict": 3, "no-touch": 3, "tracking": -3, "caching": 3, "trackinginfo": 2, "getredir": 2})
}

// checkMemory allows MEMORY USAGE key [SAMPLES n], routed by its key.
func checkMemory(c *Command, args [][]byte) error {
	return subcommands(c, args, map[string]int{"usage": -3})
}

// checkObject allows the OBJECT subcommands about one key.
func checkObject(c *Command, args [][]byte) error {
	return subcommands(c, args, map[string]int{"encoding": 3, "freq": 3, "idletime": 3, "refcount": 3})
}

// checkHello allows HELLO, HELLO 2 and HELLO 3: the session converts the
// datastore's RESP2 replies for RESP3 clients. Options after the version
// are the session's business.
func checkHello(_ *Command, args [][]byte) error {
	if len(args) < 2 {
		return nil
	}
	v, ok := parseInt(args[1])
	switch {
	case !ok:
		return &CommandError{Msg: "ERR Protocol version is not an integer or out of range"}
	case v != 2 && v != 3:
		return &CommandError{Msg: "NOPROTO unsupported protocol version"}
	}
	return nil
}

// checkPairs rejects an MSET without whole key-value pairs, which could not
// be fragmented.
func checkPairs(c *Command, args [][]byte) error {
	if len(args)%2 != 1 {
		return c.arityErr
	}
	return nil
}
