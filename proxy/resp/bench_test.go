package resp

import (
	"bytes"
	"strings"
	"testing"
)

func benchParseRequest(b *testing.B, req []byte) {
	b.Helper()
	lim := DefaultLimits()
	args := make([][]byte, 0, 8)
	b.SetBytes(int64(len(req)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if _, args, err = ParseRequest(req, args, &lim); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseRequestGET(b *testing.B) {
	benchParseRequest(b, []byte("*2\r\n$3\r\nGET\r\n$8\r\nuser:123\r\n"))
}

func BenchmarkParseRequestSET3ByteValue(b *testing.B) {
	benchParseRequest(b, []byte("*3\r\n$3\r\nSET\r\n$8\r\nuser:123\r\n$3\r\nabc\r\n"))
}

func BenchmarkParseRequestInlinePING(b *testing.B) {
	benchParseRequest(b, []byte("PING\r\n"))
}

func BenchmarkParseRequest1MBValue(b *testing.B) {
	var req []byte
	req = AppendCommand(req, [][]byte{[]byte("SET"), []byte("big"), bytes.Repeat([]byte("v"), 1<<20)})
	benchParseRequest(b, req)
}

// BenchmarkParseRequest1MBValueIncomplete is what a session pays per read
// while a 1 MB value arrives: the header is parsed again and the size hint
// comes back.
func BenchmarkParseRequest1MBValueIncomplete(b *testing.B) {
	req := AppendCommand(nil, [][]byte{[]byte("SET"), []byte("big"), bytes.Repeat([]byte("v"), 1<<20)})
	half := req[:len(req)/2]
	lim := DefaultLimits()
	args := make([][]byte, 0, 8)
	b.ReportAllocs()
	for b.Loop() {
		if n, _, err := ParseRequest(half, args, &lim); err != ErrIncomplete || n != len(req) {
			b.Fatal(n, err)
		}
	}
}

func benchParseReply(b *testing.B, reply []byte) {
	b.Helper()
	lim := DefaultLimits()
	b.SetBytes(int64(len(reply)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseReply(reply, &lim); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseReplyStatus(b *testing.B) { benchParseReply(b, []byte("+OK\r\n")) }

func BenchmarkParseReplyBulk(b *testing.B) { benchParseReply(b, []byte("$3\r\nabc\r\n")) }

func BenchmarkParseReplyMGET10(b *testing.B) {
	reply := AppendArrayHeader(nil, 10)
	for i := range 10 {
		if i%3 == 0 {
			reply = AppendNullBulk(reply)
		} else {
			reply = AppendBulkString(reply, "value-"+strings.Repeat("x", i))
		}
	}
	benchParseReply(b, reply)
}

func BenchmarkParseReplyHELLO3(b *testing.B) { benchParseReply(b, []byte(hello3)) }

func BenchmarkParseReply1MBBulk(b *testing.B) {
	benchParseReply(b, AppendBulk(nil, bytes.Repeat([]byte("v"), 1<<20)))
}

func BenchmarkLookup(b *testing.B) {
	for _, name := range []string{"GET", "zremrangebyscore", "unknowncmd"} {
		b.Run(name, func(b *testing.B) {
			n := []byte(name)
			b.ReportAllocs()
			for b.Loop() {
				Lookup(n)
			}
		})
	}
}

func BenchmarkAllowedAndKey(b *testing.B) {
	a := [][]byte{[]byte("SET"), []byte("user:123"), []byte("abc")}
	_, c := Lookup(a[0])
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Allowed(a); err != nil {
			b.Fatal(err)
		}
		_ = c.Key(a)
	}
}

func BenchmarkAppendCommandMSETFragment(b *testing.B) {
	a := [][]byte{[]byte("mset"), []byte("k1"), []byte("v1"), []byte("k2"), []byte("v2")}
	dst := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendCommand(dst[:0], a)
	}
}
