package proxytest

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"time"
)

// The fake Redis: requests are RESP arrays of bulk strings, which is all a
// proxy sends a datastore (inline commands are for humans at a terminal).

// maxBulk caps one argument (Redis's proto-max-bulk-len is 512 MiB; tests
// never send a tenth of that to a fake).
const maxBulk = 64 << 20

func (c *conn) readRedis() (request, error) {
	line, err := readLine(c.br)
	if err != nil {
		return request{}, err
	}
	if len(line) == 0 || line[0] != '*' {
		return request{}, errProtocol("expected '*', got " + strconv.Quote(string(line)))
	}
	n, ok := strictInt(line[1:])
	if !ok || n < 1 || n > 1<<20 {
		return request{}, errProtocol("invalid multibulk length " + strconv.Quote(string(line[1:])))
	}
	args := make([][]byte, n)
	for i := range args {
		if line, err = readLine(c.br); err != nil {
			return request{}, eofIsProtocol(err)
		}
		if len(line) == 0 || line[0] != '$' {
			return request{}, errProtocol("expected '$', got " + strconv.Quote(string(line)))
		}
		l, ok := strictInt(line[1:])
		if !ok || l < 0 || l > maxBulk {
			return request{}, errProtocol("invalid bulk length " + strconv.Quote(string(line[1:])))
		}
		b := make([]byte, l+2)
		if _, err := io.ReadFull(c.br, b); err != nil {
			return request{}, eofIsProtocol(err)
		}
		if b[l] != '\r' || b[l+1] != '\n' {
			return request{}, errProtocol("bulk string not followed by CRLF")
		}
		args[i] = b[:l]
	}
	return request{name: string(args[0]), args: args[1:]}, nil
}

// eofIsProtocol reports a connection closed in the middle of a request as
// the framing error it is (nobody is left to read the reply, but a test
// reading the fake's counters sees no half request counted).
func eofIsProtocol(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errProtocol("connection closed inside a request")
	}
	return err
}

// strictInt parses a decimal integer with an optional minus sign and
// nothing else: no '+', no spaces, no empty string.
func strictInt(b []byte) (int64, bool) {
	if len(b) == 0 || b[0] == '+' {
		return 0, false
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	return n, err == nil
}

func (c *conn) redisProtocolError(what string) { c.redisError("Protocol error: " + what) }

func (c *conn) redisError(msg string) { c.bw.WriteString("-ERR " + msg + "\r\n") }

func (c *conn) simple(s string) { c.bw.WriteString("+" + s + "\r\n") }

func (c *conn) integer(n int64) {
	c.bw.WriteString(":" + strconv.FormatInt(n, 10) + "\r\n")
}

func (c *conn) bulk(b []byte, ok bool) {
	if !ok {
		c.bw.WriteString("$-1\r\n")
		return
	}
	c.bw.WriteString("$" + strconv.Itoa(len(b)) + "\r\n")
	c.bw.Write(b)
	c.bw.WriteString("\r\n")
}

// redisArity is how many arguments after the name each command takes:
// {min, max}, max -1 for no limit.
var redisArity = map[string][2]int{
	"ping": {0, 1}, "echo": {1, 1}, "auth": {1, 2}, "select": {1, 1}, "quit": {0, 0},
	"get": {1, 1}, "set": {2, -1}, "del": {1, -1}, "exists": {1, -1}, "mget": {1, -1}, "mset": {2, -1},
	"incr": {1, 1}, "decr": {1, 1}, "incrby": {2, 2}, "decrby": {2, 2},
	"expire": {2, 2}, "ttl": {1, 1}, "hset": {3, -1}, "hget": {2, 2}, "flushall": {0, 1}, "flushdb": {0, 1},
}

const wrongType = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"

// execRedis answers one request; false closes the connection.
func (c *conn) execRedis(r request) bool {
	name := strings.ToLower(r.name)
	arity, known := redisArity[name]
	if !known {
		var sb strings.Builder
		for _, a := range r.args[:min(len(r.args), 3)] {
			sb.WriteString("'" + string(a) + "' ")
		}
		c.redisError("unknown command '" + r.name + "', with args beginning with: " + sb.String())
		return true
	}
	if len(r.args) < arity[0] || (arity[1] >= 0 && len(r.args) > arity[1]) {
		c.redisError("wrong number of arguments for '" + name + "' command")
		return true
	}
	f := c.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.password != "" && !c.authed && name != "auth" && name != "quit" {
		c.bw.WriteString("-NOAUTH Authentication required.\r\n")
		return true
	}
	a := r.args
	switch name {
	case "ping":
		if len(a) == 1 {
			c.bulk(a[0], true)
		} else {
			c.simple("PONG")
		}
	case "echo":
		c.bulk(a[0], true)
	case "auth":
		switch {
		case f.password == "":
			c.redisError("AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
		case string(a[len(a)-1]) == f.password && (len(a) == 1 || string(a[0]) == "default"):
			c.authed = true
			c.simple("OK")
		default:
			c.bw.WriteString("-WRONGPASS invalid username-password pair or user is disabled.\r\n")
		}
	case "select":
		if n, ok := strictInt(a[0]); !ok {
			c.redisError("value is not an integer or out of range")
		} else if n != 0 {
			c.redisError("DB index is out of range")
		} else {
			c.simple("OK")
		}
	case "quit":
		c.simple("OK")
		return false
	case "flushall", "flushdb":
		clear(f.data)
		c.simple("OK")
	case "get":
		it := f.lookup(a[0])
		if it != nil && it.hash != nil {
			c.bw.WriteString(wrongType)
			return true
		}
		c.bulk(itemVal(it))
	case "set":
		c.redisSet(a)
	case "del", "exists":
		n := int64(0)
		for _, k := range a {
			if f.lookup(k) != nil {
				n++
				if name == "del" {
					delete(f.data, string(k))
				}
			}
		}
		c.integer(n)
	case "mget":
		c.bw.WriteString("*" + strconv.Itoa(len(a)) + "\r\n")
		for _, k := range a {
			if it := f.lookup(k); it != nil && it.hash == nil {
				c.bulk(it.val, true)
			} else {
				c.bulk(nil, false)
			}
		}
	case "mset":
		if len(a)%2 != 0 {
			c.redisError("wrong number of arguments for 'mset' command")
			return true
		}
		for i := 0; i < len(a); i += 2 {
			f.store(a[i], a[i+1], time.Time{})
		}
		c.simple("OK")
	case "incr", "decr", "incrby", "decrby":
		delta := int64(1)
		if len(a) == 2 {
			var ok bool
			if delta, ok = strictInt(a[1]); !ok {
				c.redisError("value is not an integer or out of range")
				return true
			}
		}
		if name[0] == 'd' {
			delta = -delta
		}
		it := f.lookup(a[0])
		cur := int64(0)
		if it != nil {
			var ok bool
			if it.hash != nil {
				c.bw.WriteString(wrongType)
				return true
			}
			if cur, ok = strictInt(it.val); !ok {
				c.redisError("value is not an integer or out of range")
				return true
			}
		}
		cur += delta
		exp := time.Time{}
		if it != nil {
			exp = it.expires // INCR keeps the time to live
		}
		f.store(a[0], []byte(strconv.FormatInt(cur, 10)), exp)
		c.integer(cur)
	case "expire":
		secs, ok := strictInt(a[1])
		if !ok {
			c.redisError("value is not an integer or out of range")
			return true
		}
		it := f.lookup(a[0])
		if it == nil {
			c.integer(0)
			return true
		}
		it.expires = time.Now().Add(time.Duration(secs) * time.Second)
		c.integer(1)
	case "ttl":
		it := f.lookup(a[0])
		switch {
		case it == nil:
			c.integer(-2)
		case it.expires.IsZero():
			c.integer(-1)
		default: // Redis rounds the remaining milliseconds to the nearest second
			c.integer((time.Until(it.expires).Milliseconds() + 500) / 1000)
		}
	case "hset":
		if len(a)%2 != 1 {
			c.redisError("wrong number of arguments for 'hset' command")
			return true
		}
		it := f.lookup(a[0])
		if it != nil && it.hash == nil {
			c.bw.WriteString(wrongType)
			return true
		}
		if it == nil {
			it = &item{hash: map[string][]byte{}}
			f.data[string(a[0])] = it
		}
		added := int64(0)
		for i := 1; i < len(a); i += 2 {
			if _, had := it.hash[string(a[i])]; !had {
				added++
			}
			it.hash[string(a[i])] = bytes.Clone(a[i+1])
		}
		c.integer(added)
	case "hget":
		it := f.lookup(a[0])
		if it != nil && it.hash == nil {
			c.bw.WriteString(wrongType)
			return true
		}
		var v []byte
		ok := false
		if it != nil {
			v, ok = it.hash[string(a[1])]
		}
		c.bulk(v, ok)
	}
	return true
}

// redisSet is SET key value [NX|XX] [EX seconds|PX milliseconds]; f.mu held.
func (c *conn) redisSet(a [][]byte) {
	f := c.f
	var nx, xx bool
	var ttl time.Duration
	for i := 2; i < len(a); i++ {
		switch opt := strings.ToUpper(string(a[i])); opt {
		case "NX", "XX":
			nx, xx = nx || opt == "NX", xx || opt == "XX"
		case "EX", "PX":
			if ttl != 0 || i+1 == len(a) {
				c.redisError("syntax error")
				return
			}
			i++
			n, ok := strictInt(a[i])
			if !ok {
				c.redisError("value is not an integer or out of range")
				return
			}
			if n <= 0 {
				c.redisError("invalid expire time in 'set' command")
				return
			}
			ttl = time.Duration(n) * time.Second
			if opt == "PX" {
				ttl = time.Duration(n) * time.Millisecond
			}
		default:
			c.redisError("syntax error")
			return
		}
	}
	if nx && xx {
		c.redisError("syntax error")
		return
	}
	exists := f.lookup(a[0]) != nil
	if (nx && exists) || (xx && !exists) {
		c.bulk(nil, false)
		return
	}
	exp := time.Time{}
	if ttl > 0 {
		exp = time.Now().Add(ttl)
	}
	f.store(a[0], a[1], exp)
	c.simple("OK")
}

// store sets key to a copy of val; f.mu held.
func (f *Fake) store(key, val []byte, expires time.Time) *item {
	f.cas++
	it := &item{val: bytes.Clone(val), cas: f.cas, expires: expires}
	if it.val == nil {
		it.val = []byte{}
	}
	f.data[string(key)] = it
	return it
}

func itemVal(it *item) ([]byte, bool) {
	if it == nil {
		return nil, false
	}
	return it.val, true
}
