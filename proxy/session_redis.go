package proxy

import (
	"errors"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/resp"
)

// A Redis client's connection state, kept by its session: the protocol it
// asked for (HELLO), its name (CLIENT SETNAME), its transaction (MULTI ...
// EXEC) and its WATCH. The datastore connections are shared by every
// client, so none of this reaches them: the session answers HELLO, CLIENT,
// SELECT and RESET itself, converts replies for RESP3 clients
// (resp.AppendRESP3, by the command table's Reply3), and sends a
// transaction as one unit, MULTI, the queued commands and EXEC, that each
// replica's datastore runs on one connection, atomically.
//
// # Transactions
//
// Commands between MULTI and EXEC are queued in the session (+QUEUED) and
// checked as they come: every key of the transaction must have the same
// owner in every rack (the same replicas; a hash tag, {user1}:a and
// {user1}:b, makes that easy). A command with a key of another owner, or a
// command the proxy refuses, gets its error at once and makes EXEC answer
// -EXECABORT, as Redis does for a command it refuses while queueing. EXEC
// sends the unit like any write at the connection's write consistency:
// the peers get the whole unit in one frame (peerserver.go reads it back
// as one request), so each replica runs it atomically. The client gets the
// EXEC reply of the replica the consistency level picks.
//
// WATCH needs the watched keys and the transaction on one datastore
// connection: the session dials a connection of its own to the local
// datastore at the first WATCH and keeps it until UNWATCH, EXEC, DISCARD
// or RESET (one datastore connection per watching client: the cost of
// WATCH). So the local node must own the watched keys in its rack (always
// so with one node per rack); otherwise WATCH is refused, naming the key
// and its owner. A watched transaction runs first on that connection; only
// when it commits is the unit sent to the other racks' owners, whose
// replies are not waited for (a DC_ONE write's replication): the client
// gets the local EXEC reply, nil when a watched key changed.
type redisState struct {
	name  []byte
	txn   *txnState
	watch net.Conn
	// conv is the writer's buffer for converted replies (used by the
	// writer goroutine only)
	conv []byte
	// track: CLIENT TRACKING is on (tracking.go); push: the pushes
	// waiting for the writer
	track *trackClient
	push  pushQueue
	// trackLocal: the request being read is a tracked read, dispatched
	// at DC_ONE (tracking.go levels)
	trackLocal bool
}

type txnState struct {
	raw     []byte // MULTI and the queued commands
	queued  int
	key     []byte // the first key queued (a copy): the unit's routing key
	owner   string // its replicas (replicaSignature), "" before a key
	aborted bool
}

var (
	replyQueued    = []byte("+QUEUED\r\n")
	replyExecAbort = []byte("-EXECABORT Transaction discarded because of previous errors.\r\n")
	replyReset     = []byte("+RESET\r\n")
	multiRaw       = resp.AppendCommand(nil, [][]byte{[]byte("MULTI")})
	execRaw        = resp.AppendCommand(nil, [][]byte{[]byte("EXEC")})
)

// unitCmd is the command id a transaction unit is sent with (MULTI's): the
// codec reads the replies of every command of the unit for it, and the
// session writes the client the last one, EXEC's.
var unitCmd = func() uint16 { id, _ := resp.Lookup([]byte("multi")); return id }()

// helloVersion is the Redis version HELLO reports: the release whose
// commands the table follows (resp/table_test.go checks it against Redis
// 7.0's COMMAND INFO).
const helloVersion = "7.0.0"

func (rs *redisState) close() {
	if rs.watch != nil {
		rs.watch.Close()
		rs.watch = nil
	}
}

// redisSession runs on the reader goroutine for every Redis request, after
// authentication: it answers the session's commands, queues commands inside
// MULTI and marks requests of RESP3 clients.
func (ss *session) redisSession(r *msg.Request, act action) action {
	rs := &ss.rs
	rs.push.accepted.Add(1)
	if rs.track != nil {
		ss.trackRequest(r, act)
	}
	if act == actForward && rs.txn == nil {
		r.RESP3 = ss.resp3
		return act
	}
	var cmd *resp.Command
	if act == actSession || act == actForward {
		cmd = resp.CommandByID(r.Cmd)
	}
	if rs.txn != nil {
		switch {
		case act == actAnswered && replyIsError(r.Reply):
			rs.txn.aborted = true // refused while queueing: EXEC aborts
			return act
		case act == actForward:
			return ss.queue(r)
		case act == actSession && cmd.Answer != resp.AnswerExec && cmd.Answer != resp.AnswerDiscard &&
			cmd.Answer != resp.AnswerMulti && cmd.Answer != resp.AnswerWatch:
			rs.txn.aborted = true
			return ss.answerError(r, "ERR Dynomite: "+strings.ToUpper(cmd.Name)+" inside MULTI is not supported")
		}
	}
	if act != actSession {
		return act
	}
	switch cmd.Answer {
	case resp.AnswerHello:
		return ss.hello(r)
	case resp.AnswerClient:
		return ss.client(r)
	case resp.AnswerSelect:
		db, ok := resp.ParseInt(r.Args[1])
		switch {
		case !ok:
			return ss.answerError(r, "ERR value is not an integer or out of range")
		case db != 0:
			return ss.answerError(r, "ERR Dynomite: only database 0 exists (SELECT "+strconv.FormatInt(db, 10)+")")
		}
		r.AdoptReply(redisOK)
	case resp.AnswerReset:
		rs.txn = nil
		rs.close()
		ss.trackingOff()
		ss.resp3, rs.name = false, nil
		r.AdoptReply(replyReset)
	case resp.AnswerCommand:
		r.KeepReply(commandReply(r.ReplyBuf(), r.Args, ss.resp3))
	case resp.AnswerMulti:
		if rs.txn != nil {
			return ss.answerError(r, "ERR MULTI calls can not be nested")
		}
		rs.txn = &txnState{raw: append([]byte(nil), multiRaw...)}
		r.AdoptReply(redisOK)
	case resp.AnswerDiscard:
		if rs.txn == nil {
			return ss.answerError(r, "ERR DISCARD without MULTI")
		}
		rs.txn = nil
		rs.close()
		r.AdoptReply(redisOK)
	case resp.AnswerExec:
		return ss.exec(r)
	case resp.AnswerWatch:
		if rs.txn != nil {
			return ss.answerError(r, "ERR WATCH inside MULTI is not allowed")
		}
		return ss.watchKeys(r)
	case resp.AnswerUnwatch:
		rs.close()
		r.AdoptReply(redisOK)
	default: // the rack's keyspace (keyspace.go)
		return ss.keyspace(r, cmd)
	}
	return actAnswered
}

func (ss *session) answerError(r *msg.Request, text string) action {
	r.KeepReply(resp.AppendError(r.ReplyBuf(), text))
	return actAnswered
}

// hello answers HELLO [2|3] [AUTH user pass] [SETNAME name]; checkAuth has
// checked the credentials.
func (ss *session) hello(r *msg.Request) action {
	rs := &ss.rs
	proto3 := ss.resp3
	if len(r.Args) > 1 {
		v, _ := resp.ParseInt(r.Args[1]) // resp.checkHello allowed 2 or 3
		proto3 = v == 3
	}
	var name []byte
	setName := false
	for i := 2; i < len(r.Args); i++ {
		switch {
		case strings.EqualFold(string(r.Args[i]), "auth") && i+2 < len(r.Args):
			i += 2
		case strings.EqualFold(string(r.Args[i]), "setname") && i+1 < len(r.Args):
			name, setName = r.Args[i+1], true
			i++
		default:
			return ss.answerError(r, "ERR Syntax error in HELLO option '"+safeText(r.Args[i])+"'")
		}
	}
	if setName {
		if err := checkClientName(name); err != "" {
			return ss.answerError(r, err)
		}
		rs.name = append(rs.name[:0], name...)
	}
	ss.resp3 = proto3
	if !proto3 {
		ss.trackingOff() // pushes need RESP3 (tracking.go)
	}
	proto := int64(2)
	if proto3 {
		proto = 3
	}
	b := r.ReplyBuf()
	if proto3 {
		b = append(b, "%7\r\n"...)
	} else {
		b = resp.AppendArrayHeader(b, 14)
	}
	b = resp.AppendBulkString(b, "server")
	b = resp.AppendBulkString(b, "redis")
	b = resp.AppendBulkString(b, "version")
	b = resp.AppendBulkString(b, helloVersion)
	b = resp.AppendBulkString(b, "proto")
	b = resp.AppendInt(b, proto)
	b = resp.AppendBulkString(b, "id")
	b = resp.AppendInt(b, int64(ss.id))
	b = resp.AppendBulkString(b, "mode")
	b = resp.AppendBulkString(b, "standalone")
	b = resp.AppendBulkString(b, "role")
	b = resp.AppendBulkString(b, "master")
	b = resp.AppendBulkString(b, "modules")
	b = resp.AppendArrayHeader(b, 0)
	r.KeepReply(b)
	return actAnswered
}

// checkClientName applies Redis's rule for connection names (no spaces,
// newlines or other special characters).
func checkClientName(name []byte) string {
	for _, c := range name {
		if c < '!' || c > '~' {
			return "ERR Client names cannot contain spaces, newlines or special characters."
		}
	}
	return ""
}

// safeText renders a client-supplied word for an error message.
func safeText(b []byte) string {
	return string(unsupported(nil, b)[len("-ERR unsupported command '") : len(unsupported(nil, b))-3])
}

// client answers the CLIENT subcommands resp.checkClient allows.
func (ss *session) client(r *msg.Request) action {
	rs := &ss.rs
	sub := strings.ToLower(string(r.Args[1]))
	switch sub {
	case "setname":
		if err := checkClientName(r.Args[2]); err != "" {
			return ss.answerError(r, err)
		}
		rs.name = append(rs.name[:0], r.Args[2]...)
		r.AdoptReply(redisOK)
	case "getname":
		if len(rs.name) == 0 {
			r.KeepReply(appendNull(r.ReplyBuf(), ss.resp3))
		} else {
			r.KeepReply(resp.AppendBulk(r.ReplyBuf(), rs.name))
		}
	case "id":
		r.KeepReply(resp.AppendInt(r.ReplyBuf(), int64(ss.id)))
	case "info":
		proto := 2
		if ss.resp3 {
			proto = 3
		}
		multi := -1
		if rs.txn != nil {
			multi = rs.txn.queued
		}
		line := "id=" + strconv.FormatUint(uint64(ss.id), 10) + " addr=" + ss.nc.RemoteAddr().String() +
			" laddr=" + ss.nc.LocalAddr().String() + " name=" + string(rs.name) + " db=0 multi=" + strconv.Itoa(multi) +
			" resp=" + strconv.Itoa(proto) + "\n"
		if ss.resp3 {
			b := append(r.ReplyBuf(), '=')
			b = strconv.AppendInt(b, int64(len(line)+4), 10)
			b = append(b, "\r\ntxt:"...)
			r.KeepReply(append(append(b, line...), "\r\n"...))
		} else {
			r.KeepReply(resp.AppendBulkString(r.ReplyBuf(), line))
		}
	case "setinfo":
		// LIB-NAME and LIB-VER describe the client library; nothing uses them
		if !strings.EqualFold(string(r.Args[2]), "lib-name") && !strings.EqualFold(string(r.Args[2]), "lib-ver") {
			return ss.answerError(r, "ERR Unrecognized option '"+safeText(r.Args[2])+"'")
		}
		r.AdoptReply(redisOK)
	case "no-evict", "no-touch":
		// Redis's eviction and LRU hints about this client's own
		// commands; the shared datastore connections cannot carry them,
		// and without them Redis behaves as for any client
		if !strings.EqualFold(string(r.Args[2]), "on") && !strings.EqualFold(string(r.Args[2]), "off") {
			return ss.answerError(r, "ERR syntax error")
		}
		r.AdoptReply(redisOK)
	case "tracking":
		return ss.clientTracking(r)
	case "caching":
		return ss.clientCaching(r)
	case "trackinginfo", "getredir":
		return ss.clientTrackingInfo(r, sub == "getredir")
	}
	return actAnswered
}

func appendNull(dst []byte, resp3 bool) []byte {
	if resp3 {
		return append(dst, "_\r\n"...)
	}
	return resp.AppendNullBulk(dst)
}

// queue adds a command to the open transaction, or refuses it when one of
// its keys has another owner than the transaction's keys so far.
func (ss *session) queue(r *msg.Request) action {
	txn := ss.rs.txn
	if r.Class == msg.ClassAllNodes {
		txn.aborted = true
		return ss.answerError(r, "ERR Dynomite: "+strings.ToUpper(resp.CommandByID(r.Cmd).Name)+" runs on every node and cannot be part of a transaction")
	}
	c := ss.s.cluster
	st := c.state.Load()
	for _, k := range ss.s.codec.keys(r, nil) {
		owner := c.ownerOf(st, k)
		switch {
		case txn.owner == "" && txn.key == nil:
			txn.key, txn.owner = append([]byte(nil), k...), owner
		case owner != txn.owner:
			txn.aborted = true
			return ss.answerError(r, "CROSSSLOT Dynomite: keys of a transaction must have one owner per rack: '"+
				safeText(k)+"' and '"+safeText(txn.key)+"' have different owners (use a hash tag: {tag}key)")
		}
	}
	if ss.rs.watch != nil && txn.key != nil && !c.ownsLocally(st, txn.key) {
		txn.aborted = true
		return ss.answerError(r, "ERR Dynomite: a watched transaction's keys must be owned by this node in its rack ('"+safeText(txn.key)+"' is not)")
	}
	if len(txn.raw)+len(r.Raw)+len(execRaw) > ss.s.opts.MaxRequestBytes {
		// the unit travels as one request, to the datastore and to peers
		txn.aborted = true
		return ss.answerError(r, "ERR Dynomite: transaction larger than max_request_bytes ("+strconv.Itoa(ss.s.opts.MaxRequestBytes)+")")
	}
	txn.raw = append(txn.raw, r.Raw...)
	txn.queued++
	r.AdoptReply(replyQueued)
	return actAnswered
}

// exec ends the transaction: the unit, MULTI ... EXEC, goes to every
// replica of its keys like a write (or, watched, to the local datastore
// first on the watching connection).
func (ss *session) exec(r *msg.Request) action {
	rs := &ss.rs
	txn := rs.txn
	rs.txn = nil
	switch {
	case txn == nil:
		return ss.answerError(r, "ERR EXEC without MULTI")
	case txn.aborted:
		rs.close()
		r.AdoptReply(replyExecAbort)
		return actAnswered
	}
	unit := append(txn.raw, execRaw...)
	r.SetRaw(unit)
	r.SetArgs(nil)
	r.Key = nil
	if txn.key != nil {
		// the routing key, a slice of the request's own bytes
		_, args, _ := resp.ParseRequest(r.Raw[len(multiRaw):], nil, nil)
		if cmd := resp.CommandByID(lookupID(args)); cmd != nil {
			r.Key = cmd.Key(args)
		}
	}
	r.Cmd, r.Class, r.Flags = unitCmd, msg.ClassWrite, msg.FlagWrite
	r.RESP3 = ss.resp3
	if rs.watch != nil {
		return ss.execWatched(r)
	}
	return actForward
}

func lookupID(args [][]byte) uint16 {
	if len(args) == 0 {
		return 0
	}
	id, _ := resp.Lookup(args[0])
	return id
}

// watchKeys sends WATCH on the session's own connection to the local
// datastore, dialled at the first WATCH.
func (ss *session) watchKeys(r *msg.Request) action {
	c := ss.s.cluster
	st := c.state.Load()
	for _, k := range r.Args[1:] {
		if !c.ownsLocally(st, k) {
			return ss.answerError(r, "ERR Dynomite: WATCH needs this node to own the key in its rack: '"+safeText(k)+
				"' is owned by "+c.localRackOwner(st, k)+"; connect to that node")
		}
	}
	if ss.rs.watch == nil {
		nc, err := ss.s.dialDatastore()
		if err != nil {
			return ss.answerError(r, "ERR Storage: Datastore refused connection ("+err.Error()+")")
		}
		ss.rs.watch = nc
	}
	reply, err := ss.roundTrip(r.Raw, 1)
	if err != nil {
		ss.rs.close()
		return ss.answerError(r, "ERR Storage: WATCH failed ("+err.Error()+")")
	}
	r.SetReply(reply)
	return actAnswered
}

// execWatched runs the unit on the watching connection; when it commits,
// the unit is replicated to the other racks and datacenters.
func (ss *session) execWatched(r *msg.Request) action {
	defer ss.rs.close()
	replies, err := ss.roundTrip(r.Raw, resp.CountCommands(r.Raw))
	if err != nil {
		r.Err = msg.ErrDatastoreClosed
		return actAnswered
	}
	r.SetReply(replies)
	if last := lastReply(replies); len(last) > 0 && last[0] == '*' && string(last) != "*-1\r\n" && r.Key != nil {
		ss.s.cluster.replicateElsewhere(r, ss.id)
	}
	return actAnswered
}

// roundTrip writes raw on the watching connection and reads n replies.
func (ss *session) roundTrip(raw []byte, n int) ([]byte, error) {
	nc := ss.rs.watch
	_ = nc.SetDeadline(time.Now().Add(ss.s.opts.Timeout))
	if _, err := nc.Write(raw); err != nil {
		return nil, err
	}
	lim := resp.DefaultLimits()
	buf := make([]byte, 0, 4<<10)
	pos := 0
	for n > 0 {
		k, err := resp.ParseReply(buf[pos:], &lim)
		if err == nil {
			pos += k
			n--
			continue
		}
		if !errors.Is(err, resp.ErrIncomplete) {
			return nil, err
		}
		if len(buf) == cap(buf) {
			buf = append(buf, make([]byte, len(buf))...)[:len(buf)]
		}
		m, err := nc.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err != nil {
			return nil, err
		}
	}
	return buf[:pos], nil
}

// clientReply is what the writer sends for r's reply: the EXEC reply of a
// transaction unit, and RESP3 for a RESP3 client. It runs on the writer
// goroutine and reuses rs.conv.
func (rs *redisState) clientReply(r *msg.Request) []byte {
	reply := r.Reply
	if r.Cmd != unitCmd {
		cmd := resp.CommandByID(r.Cmd)
		if cmd == nil || len(reply) == 0 {
			return reply
		}
		rs.conv, _ = resp.AppendRESP3(rs.conv[:0], reply, cmd.Reply3, r.Args)
		return rs.conv
	}
	last := lastReply(reply)
	if !r.RESP3 || len(last) == 0 {
		return last
	}
	// each element of EXEC's array as its command's own reply
	rs.conv = execRESP3(rs.conv[:0], r.Raw, last)
	return rs.conv
}
