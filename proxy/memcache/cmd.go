package memcache

import "github.com/dynomite-go/dynomite/proxy/msg"

// Cmd identifies a memcached ASCII command. Its value is the command's index
// in this package's command table, which is what msg.Request.Cmd carries.
type Cmd uint8

// The commands the parser knows. Anything else is answered with ERROR.
const (
	CmdUnknown Cmd = iota
	CmdGet
	CmdGets
	CmdGat
	CmdGats
	CmdSet
	CmdAdd
	CmdReplace
	CmdAppend
	CmdPrepend
	CmdCas
	CmdIncr
	CmdDecr
	CmdTouch
	CmdDelete
	CmdVersion
	CmdQuit
	// the meta commands (meta.go)
	CmdMetaGet
	CmdMetaSet
	CmdMetaDelete
	CmdMetaArith
	CmdMetaNoop
	CmdMetaDebug
)

// Command is one entry of the command table: how the proxy routes a
// memcached command. Entries are immutable and shared.
type Command struct {
	// Name is the command's wire name ("get", "set"...).
	Name string
	// Class is how the command is routed with one key. A retrieval with
	// several keys is [msg.ClassMultiKey], and gat/gats without a key are
	// [msg.ClassLocal]: ParseRequest decides those by the key count.
	Class msg.Class
	// Flags are what the router needs to know beyond Class (see
	// [msg.Flags]); the codec copies them onto each request.
	Flags msg.Flags
}

const (
	read  = msg.FlagRead
	write = msg.FlagWrite
	// retrievals may name several keys: split per owner, their VALUE blocks
	// coalesced in key order with one END
	multi   = msg.FlagMultiKey | msg.FlagCoalesceArray
	keyless = msg.FlagKeyless
)

// table is indexed by Cmd. gat and gats are writes with any number of keys:
// they set the expiry, which every replica must agree on.
var table = [...]Command{
	CmdUnknown: {Name: "unknown"},
	CmdGet:     {"get", msg.ClassRead, read | multi},
	CmdGets:    {"gets", msg.ClassRead, read | multi},
	CmdGat:     {"gat", msg.ClassWrite, write | multi},
	CmdGats:    {"gats", msg.ClassWrite, write | multi},
	CmdSet:     {"set", msg.ClassWrite, write},
	CmdAdd:     {"add", msg.ClassWrite, write},
	CmdReplace: {"replace", msg.ClassWrite, write},
	CmdAppend:  {"append", msg.ClassWrite, write},
	CmdPrepend: {"prepend", msg.ClassWrite, write},
	CmdCas:     {"cas", msg.ClassWrite, write},
	CmdIncr:    {"incr", msg.ClassWrite, write},
	CmdDecr:    {"decr", msg.ClassWrite, write},
	CmdTouch:   {"touch", msg.ClassWrite, write},
	CmdDelete:  {"delete", msg.ClassWrite, write | msg.FlagDelete},
	// the local memcached answers version; quit closes the connection
	CmdVersion: {"version", msg.ClassLocal, keyless},
	CmdQuit:    {"quit", msg.ClassProxy, keyless},
	// meta commands: mg is a read (a write with N or T, see meta.go), me
	// a read of the local rack only, mn answered by the proxy
	CmdMetaGet:    {"mg", msg.ClassRead, read},
	CmdMetaSet:    {"ms", msg.ClassWrite, write},
	CmdMetaDelete: {"md", msg.ClassWrite, write | msg.FlagDelete},
	CmdMetaArith:  {"ma", msg.ClassWrite, write},
	CmdMetaNoop:   {"mn", msg.ClassProxy, keyless},
	CmdMetaDebug:  {"me", msg.ClassRead, read | msg.FlagLocalRackOnly},
}

// Command returns c's table entry (CmdUnknown's for an unknown c).
func (c Cmd) Command() *Command {
	if int(c) < len(table) {
		return &table[c]
	}
	return &table[CmdUnknown]
}

// Flags returns c's routing flags.
func (c Cmd) Flags() msg.Flags { return c.Command().Flags }

// String returns the command's wire name ("get", "set"...).
func (c Cmd) String() string { return c.Command().Name }

// Storage reports whether c is followed by a data block (set, add, replace,
// append, prepend, cas).
func (c Cmd) Storage() bool { return c >= CmdSet && c <= CmdCas }

// Meta reports whether c is a meta command (mg, ms, md, ma, mn, me).
func (c Cmd) Meta() bool { return c >= CmdMetaGet && c <= CmdMetaDebug }

// Retrieval reports whether c is answered with VALUE blocks and END (get,
// gets, gat, gats).
func (c Cmd) Retrieval() bool { return c >= CmdGet && c <= CmdGats }
