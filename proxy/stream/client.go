package stream

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/dynomite-go/dynomite/proxy/resp"
)

// maxReplyBulk bounds a bulk string in a datastore reply (Redis's own
// proto-max-bulk-len default), so a corrupt length cannot make the client
// allocate without limit.
const maxReplyBulk = 512 << 20

// RedisError is an error reply from Redis ("-BUSYKEY ..."), as opposed to a
// broken connection. The stream counts it against the key and goes on.
type RedisError string

func (e RedisError) Error() string { return string(e) }

// Value is one decoded RESP reply. Null bulk strings and arrays have Null
// set; an error reply is returned as a RedisError instead of a Value.
type Value struct {
	Int   int64
	Str   []byte
	Array []Value
	Null  bool
}

// Conn is a minimal Redis client: one connection, requests written as RESP
// arrays (resp.AppendCommand) and replies decoded in order, so requests can
// be pipelined with Send and Receive. It is not safe for concurrent use.
type Conn struct {
	addr string
	nc   net.Conn
	r    *bufio.Reader
	out  []byte
	// timeout bounds every Receive; zero means none.
	timeout time.Duration
	stop    func() bool
}

// DialRedis connects to the Redis at addr. The connection is closed when ctx
// is cancelled, which unblocks any call in progress.
func DialRedis(ctx context.Context, addr string, timeout time.Duration) (*Conn, error) {
	nc, err := dial(ctx, addr, timeout)
	if err != nil {
		return nil, err
	}
	c := &Conn{addr: addr, nc: nc, r: bufio.NewReaderSize(nc, 64<<10), timeout: timeout}
	c.stop = context.AfterFunc(ctx, func() { nc.Close() })
	return c, nil
}

func dial(ctx context.Context, addr string, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("stream: connecting to %s: %w", addr, err)
	}
	return nc, nil
}

// Close closes the connection.
func (c *Conn) Close() error {
	c.stop()
	return c.nc.Close()
}

// Send queues a command; Flush writes the queued commands.
func (c *Conn) Send(args ...[]byte) { c.out = resp.AppendCommand(c.out, args) }

// Flush writes every queued command.
func (c *Conn) Flush() error {
	if len(c.out) == 0 {
		return nil
	}
	if c.timeout > 0 {
		_ = c.nc.SetWriteDeadline(time.Now().Add(c.timeout))
	}
	_, err := c.nc.Write(c.out)
	c.out = c.out[:0]
	if err != nil {
		return fmt.Errorf("stream: writing to %s: %w", c.addr, err)
	}
	return nil
}

// Receive reads the next reply. An error reply comes back as a RedisError
// with a zero Value; any other error means the connection is unusable.
func (c *Conn) Receive() (Value, error) {
	if c.timeout > 0 {
		_ = c.nc.SetReadDeadline(time.Now().Add(c.timeout))
	}
	v, err := readValue(c.r, 0)
	if err != nil && !isRedisError(err) {
		return v, fmt.Errorf("stream: reading from %s: %w", c.addr, err)
	}
	return v, err
}

// Do sends one command and reads its reply.
func (c *Conn) Do(args ...[]byte) (Value, error) {
	c.Send(args...)
	if err := c.Flush(); err != nil {
		return Value{}, err
	}
	return c.Receive()
}

// DoS is Do with string arguments.
func (c *Conn) DoS(args ...string) (Value, error) {
	b := make([][]byte, len(args))
	for i, a := range args {
		b[i] = []byte(a)
	}
	return c.Do(b...)
}

func isRedisError(err error) bool {
	var re RedisError
	return errors.As(err, &re)
}

var errProtocol = errors.New("malformed reply")

func readValue(r *bufio.Reader, depth int) (Value, error) {
	if depth > 32 {
		return Value{}, fmt.Errorf("%w: nested too deep", errProtocol)
	}
	line, err := readLine(r)
	if err != nil {
		return Value{}, err
	}
	if len(line) == 0 {
		return Value{}, fmt.Errorf("%w: empty line", errProtocol)
	}
	body := line[1:]
	switch line[0] {
	case '+':
		return Value{Str: append([]byte(nil), body...)}, nil
	case '-':
		return Value{}, RedisError(body)
	case ':':
		n, err := strconv.ParseInt(string(body), 10, 64)
		if err != nil {
			return Value{}, fmt.Errorf("%w: integer %q", errProtocol, body)
		}
		return Value{Int: n}, nil
	case '$':
		n, err := strconv.ParseInt(string(body), 10, 64)
		if err != nil || n > maxReplyBulk || n < -1 {
			return Value{}, fmt.Errorf("%w: bulk length %q", errProtocol, body)
		}
		if n == -1 {
			return Value{Null: true}, nil
		}
		buf, err := readBulk(r, n+2)
		if err != nil {
			return Value{}, err
		}
		if buf[n] != '\r' || buf[n+1] != '\n' {
			return Value{}, fmt.Errorf("%w: bulk string not ended by CRLF", errProtocol)
		}
		return Value{Str: buf[:n]}, nil
	case '*':
		n, err := strconv.ParseInt(string(body), 10, 64)
		if err != nil || n < -1 || n > 1<<24 {
			return Value{}, fmt.Errorf("%w: array length %q", errProtocol, body)
		}
		if n == -1 {
			return Value{Null: true}, nil
		}
		// Grown as elements arrive, so that a corrupt length costs nothing.
		v := Value{Array: make([]Value, 0, min(n, 1024))}
		for range n {
			e, err := readValue(r, depth+1)
			if err != nil && !isRedisError(err) {
				return Value{}, err
			}
			v.Array = append(v.Array, e)
		}
		return v, nil
	}
	return Value{}, fmt.Errorf("%w: unexpected type byte %q", errProtocol, line[0])
}

// readBulk reads n bytes. Up to 1 MiB it allocates them at once; a larger
// value grows with the data read, so that a corrupt length cannot make the
// client allocate memory the peer never sends.
func readBulk(r *bufio.Reader, n int64) ([]byte, error) {
	if n <= 1<<20 {
		buf := make([]byte, n)
		_, err := io.ReadFull(r, buf)
		return buf, err
	}
	var b bytes.Buffer
	b.Grow(1 << 20)
	if _, err := io.CopyN(&b, r, n); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return b.Bytes(), nil
}

// readLine returns a line without its CRLF. The slice is valid until the
// next read.
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return nil, fmt.Errorf("%w: line longer than %d bytes", errProtocol, r.Size())
	}
	if err != nil {
		return nil, err
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("%w: line not ended by CRLF", errProtocol)
	}
	return line[:len(line)-2], nil
}
