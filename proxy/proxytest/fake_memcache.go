package proxytest

import (
	"bytes"
	"io"
	"strconv"
	"time"
)

// The fake memcached: the ASCII protocol of memcached's doc/protocol.txt,
// the commands a proxy forwards.

const (
	maxKey   = 250     // memcached's KEY_MAX_LENGTH
	maxValue = 1 << 20 // memcached's default item size limit (-I 1m)
	// relativeExptimeMax: an exptime above 30 days is a Unix time, as
	// memcached's REALTIME_MAXDELTA.
	relativeExptimeMax = 60 * 60 * 24 * 30
)

// storageFields is how many fields follow the name of each storage command
// (without noreply): key flags exptime bytes [cas unique].
var storageFields = map[string]int{"set": 4, "add": 4, "replace": 4, "append": 4, "prepend": 4, "cas": 5}

func (c *conn) readMemcache() (request, error) {
	line, err := readLine(c.br)
	if err != nil {
		return request{}, err
	}
	fields := bytes.Split(line, []byte{' '})
	r := request{name: string(fields[0]), args: fields[1:]}
	if len(r.args) > 0 && string(r.args[len(r.args)-1]) == "noreply" {
		r.noreply, r.args = true, r.args[:len(r.args)-1]
	}
	for _, a := range r.args {
		if len(a) == 0 || len(a) > maxKey {
			return request{}, errProtocol("bad command line format")
		}
	}
	n, storage := storageFields[r.name]
	if !storage {
		return r, nil
	}
	if len(r.args) != n {
		return request{}, errProtocol("bad command line format")
	}
	size, ok := strictInt(r.args[3])
	if !ok || size < 0 || size > maxValue {
		return request{}, errProtocol("bad data chunk")
	}
	data := make([]byte, size+2)
	if _, err := io.ReadFull(c.br, data); err != nil {
		return request{}, eofIsProtocol(err)
	}
	if data[size] != '\r' || data[size+1] != '\n' {
		return request{}, errProtocol("bad data chunk")
	}
	r.data = data[:size]
	return r, nil
}

func (c *conn) memcacheProtocolError(what string) { c.bw.WriteString("CLIENT_ERROR " + what + "\r\n") }

func (c *conn) memcacheServerError(msg string) { c.bw.WriteString("SERVER_ERROR " + msg + "\r\n") }

// reply writes one line unless the request said noreply.
func (c *conn) reply(r request, line string) {
	if !r.noreply {
		c.bw.WriteString(line + "\r\n")
	}
}

// execMemcache answers one request; false closes the connection.
func (c *conn) execMemcache(r request) bool {
	f := c.f
	f.mu.Lock()
	defer f.mu.Unlock()
	a := r.args
	bad := func() bool { c.memcacheProtocolError("bad command line format"); return false }
	switch r.name {
	case "get", "gets", "gat", "gats":
		touch := r.name[:3] == "gat" // gat <exptime> <key>*: get and touch
		exp := time.Time{}
		if touch {
			var ok bool
			if len(a) == 0 {
				c.bw.WriteString("ERROR\r\n")
				return true
			}
			if exp, ok = memcacheExptime(a[0]); !ok {
				return bad()
			}
			a = a[1:]
		}
		if len(a) == 0 {
			c.bw.WriteString("ERROR\r\n")
			return true
		}
		for _, k := range a {
			it := f.lookup(k)
			if it == nil || it.hash != nil {
				continue
			}
			if touch {
				it.expires = exp
			}
			c.bw.WriteString("VALUE " + string(k) + " " + strconv.FormatUint(uint64(it.flags), 10) + " " + strconv.Itoa(len(it.val)))
			if r.name == "gets" || r.name == "gats" {
				c.bw.WriteString(" " + strconv.FormatUint(it.cas, 10))
			}
			c.bw.WriteString("\r\n")
			c.bw.Write(it.val)
			c.bw.WriteString("\r\n")
		}
		c.bw.WriteString("END\r\n")
	case "set", "add", "replace", "append", "prepend", "cas":
		flags, err1 := strconv.ParseUint(string(a[1]), 10, 32)
		exp, ok := memcacheExptime(a[2])
		if err1 != nil || !ok {
			return bad()
		}
		old := f.lookup(a[0])
		switch r.name {
		case "add":
			if old != nil {
				c.reply(r, "NOT_STORED")
				return true
			}
		case "replace", "append", "prepend":
			if old == nil {
				c.reply(r, "NOT_STORED")
				return true
			}
		case "cas":
			unique, err := strconv.ParseUint(string(a[4]), 10, 64)
			switch {
			case err != nil:
				return bad()
			case old == nil:
				c.reply(r, "NOT_FOUND")
				return true
			case old.cas != unique:
				c.reply(r, "EXISTS")
				return true
			}
		}
		val := r.data
		switch r.name {
		case "append", "prepend": // both keep the item's flags and exptime
			flags, exp = uint64(old.flags), old.expires
			if r.name == "append" {
				val = append(bytes.Clone(old.val), r.data...)
			} else {
				val = append(bytes.Clone(r.data), old.val...)
			}
		}
		f.store(a[0], val, exp).flags = uint32(flags)
		c.reply(r, "STORED")
	case "delete":
		if len(a) != 1 {
			return bad()
		}
		if f.lookup(a[0]) == nil {
			c.reply(r, "NOT_FOUND")
			return true
		}
		delete(f.data, string(a[0]))
		c.reply(r, "DELETED")
	case "incr", "decr":
		if len(a) != 2 {
			return bad()
		}
		delta, err := strconv.ParseUint(string(a[1]), 10, 64)
		if err != nil {
			c.reply(r, "CLIENT_ERROR invalid numeric delta argument")
			return true
		}
		it := f.lookup(a[0])
		if it == nil {
			c.reply(r, "NOT_FOUND")
			return true
		}
		cur, err := strconv.ParseUint(string(it.val), 10, 64)
		if err != nil {
			c.reply(r, "CLIENT_ERROR cannot increment or decrement non-numeric value")
			return true
		}
		if r.name == "incr" {
			cur += delta // wraps at 2^64, as memcached
		} else if delta > cur {
			cur = 0 // decr stops at zero
		} else {
			cur -= delta
		}
		f.cas++
		it.val, it.cas = []byte(strconv.FormatUint(cur, 10)), f.cas
		c.reply(r, string(it.val))
	case "touch":
		if len(a) != 2 {
			return bad()
		}
		exp, ok := memcacheExptime(a[1])
		if !ok {
			return bad()
		}
		it := f.lookup(a[0])
		if it == nil {
			c.reply(r, "NOT_FOUND")
			return true
		}
		it.expires = exp
		c.reply(r, "TOUCHED")
	case "flush_all":
		if len(a) > 1 {
			return bad()
		}
		clear(f.data)
		c.reply(r, "OK")
	case "version":
		c.bw.WriteString("VERSION 1.6.0-proxytest\r\n")
	case "quit":
		return false
	default:
		c.bw.WriteString("ERROR\r\n")
	}
	return true
}

// memcacheExptime maps an exptime field to an expiry: 0 never, a negative
// one already past, up to 30 days relative, beyond that a Unix time.
func memcacheExptime(b []byte) (time.Time, bool) {
	n, ok := strictInt(b)
	switch {
	case !ok:
		return time.Time{}, false
	case n == 0:
		return time.Time{}, true
	case n < 0:
		return time.Now().Add(-time.Second), true
	case n > relativeExptimeMax:
		return time.Unix(n, 0), true
	}
	return time.Now().Add(time.Duration(n) * time.Second), true
}
