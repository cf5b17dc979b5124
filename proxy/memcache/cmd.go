package memcache

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
)

var cmdNames = [...]string{
	CmdUnknown: "unknown",
	CmdGet:     "get",
	CmdGets:    "gets",
	CmdGat:     "gat",
	CmdGats:    "gats",
	CmdSet:     "set",
	CmdAdd:     "add",
	CmdReplace: "replace",
	CmdAppend:  "append",
	CmdPrepend: "prepend",
	CmdCas:     "cas",
	CmdIncr:    "incr",
	CmdDecr:    "decr",
	CmdTouch:   "touch",
	CmdDelete:  "delete",
	CmdVersion: "version",
	CmdQuit:    "quit",
}

// String returns the command's wire name ("get", "set"...).
func (c Cmd) String() string {
	if int(c) < len(cmdNames) {
		return cmdNames[c]
	}
	return "unknown"
}

// Storage reports whether c is followed by a data block (set, add, replace,
// append, prepend, cas).
func (c Cmd) Storage() bool { return c >= CmdSet && c <= CmdCas }

// Retrieval reports whether c is answered with VALUE blocks and END (get,
// gets, gat, gats).
func (c Cmd) Retrieval() bool { return c >= CmdGet && c <= CmdGats }
