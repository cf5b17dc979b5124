package memcache

import (
	"strconv"
	"strings"
	"testing"
)

func benchRequest(b *testing.B, in string) {
	buf := []byte(in)
	var req Request
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if _, err := ParseRequest(buf, &req, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseRequestGet(b *testing.B) { benchRequest(b, "get k\r\n") }

func BenchmarkParseRequestSet(b *testing.B) { benchRequest(b, "set k 0 0 3\r\nabc\r\n") }

func BenchmarkParseRequestGet100Keys(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("get")
	for i := range 100 {
		sb.WriteString(" key:" + strconv.Itoa(i))
	}
	sb.WriteString("\r\n")
	benchRequest(b, sb.String())
}

func BenchmarkParseReplyValue(b *testing.B) {
	buf := []byte("VALUE key:1 0 16 42\r\n0123456789abcdef\r\nEND\r\n")
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if _, err := ParseReply(buf, true, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseReplyStored(b *testing.B) {
	buf := []byte("STORED\r\n")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseReply(buf, false, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendCoalesced(b *testing.B) {
	var keys [][]byte
	frags := make([][]byte, 3)
	for i := range 100 {
		k := "key:" + strconv.Itoa(i)
		keys = append(keys, []byte(k))
		frags[i%3] = append(frags[i%3], "VALUE "+k+" 0 3\r\nabc\r\n"...)
	}
	for i := range frags {
		frags[i] = append(frags[i], endLine...)
	}
	var dst []byte
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if dst, err = AppendCoalesced(dst[:0], keys, frags); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseRequestMetaGet(b *testing.B) { benchRequest(b, "mg key:1 v f t c k q\r\n") }

func BenchmarkParseRequestMetaSet(b *testing.B) { benchRequest(b, "ms key:1 3 T0 F5 q\r\nabc\r\n") }

func BenchmarkParseMetaReplyValue(b *testing.B) {
	buf := []byte("VA 16 f5 c42 kkey:1\r\n0123456789abcdef\r\n")
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if _, err := ParseMetaReply(buf, nil); err != nil {
			b.Fatal(err)
		}
	}
}
