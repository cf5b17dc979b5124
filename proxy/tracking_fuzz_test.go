package proxy

import (
	"bufio"
	"bytes"
	"testing"
)

// FuzzTrackingReadValue feeds the datastore tracking connection's reader
// arbitrary bytes: it returns a value or an error, never panics, and a
// value it returns was made of bytes it consumed.
func FuzzTrackingReadValue(f *testing.F) {
	for _, seed := range []string{
		">2\r\n$10\r\ninvalidate\r\n*1\r\n$3\r\nkey\r\n",
		">2\r\n$10\r\ninvalidate\r\n_\r\n",
		"%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:11\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n",
		"+OK\r\n", "-ERR x\r\n", "$-1\r\n", "*-1\r\n", "|1\r\n+a\r\n+b\r\n+c\r\n", "~2\r\n#t\r\n,1.5\r\n",
		"$5\r\nab\r\n", "*99999999\r\n", ">1\r\n>1\r\n>1\r\n>1\r\n>1\r\n>1\r\n>1\r\n>1\r\n>1\r\n>1\r\n+x\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		br := bufio.NewReader(bytes.NewReader(in))
		v, err := readValue(br, 0)
		if err != nil {
			return
		}
		if v.kind == 0 {
			t.Fatalf("a value without a type from %q", in)
		}
		if size := sizeOf(v); size > len(in) {
			t.Fatalf("value of %d bytes from %d bytes of input", size, len(in))
		}
	})
}

func sizeOf(v value) int {
	n := len(v.str)
	for _, e := range v.elems {
		n += sizeOf(e)
	}
	return n
}

// A client that does not read its pushes cannot hold more than
// maxPendingPushBytes: beyond it they collapse into one null invalidation,
// due after the latest request any of them waited for.
func TestPushQueueCollapsesIntoOneFlush(t *testing.T) {
	q := &pushQueue{ready: make(chan struct{}, 1)}
	frame := invalidatePush(string(bytes.Repeat([]byte("k"), 1000)))
	for i := 0; q.bytes <= maxPendingPushBytes-len(frame); i++ {
		q.accepted.Add(1)
		q.add(frame)
	}
	q.accepted.Add(1)
	q.add(frame)
	if len(q.items) != 1 || string(q.items[0].frame) != string(flushPush) || q.items[0].after != q.accepted.Load() {
		t.Fatalf("want one flush due after request %d, got %d items (first due after %d)", q.accepted.Load(), len(q.items), q.items[0].after)
	}
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	q.written = q.accepted.Load() - 1
	if err := q.writeDue(w); err != nil || w.Buffered() != 0 {
		t.Fatalf("the flush waits for its request: wrote %d bytes, %v", w.Buffered(), err)
	}
	q.written++
	if err := q.writeDue(w); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	if out.String() != string(flushPush) || q.bytes != 0 || q.n.Load() != 0 {
		t.Fatalf("wrote %q, %d bytes and %d pushes left", out.String(), q.bytes, q.n.Load())
	}
}
