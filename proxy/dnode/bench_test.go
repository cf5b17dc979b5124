package dnode

import "testing"

func BenchmarkAppendHeader(b *testing.B) {
	h := Header{ID: 1234567, Type: TypeReq, SameDC: true}
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendHeader(buf[:0], h)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkParseHeader(b *testing.B) {
	frames := map[string][]byte{
		"request": []byte("   $2014$ 1234567 3 0 1 1 *1 d *0\r\n" + setFoo1),
		"secured": AppendHeader(nil, Header{ID: 1, Type: TypeReq, Flags: FlagEncrypted, SameDC: true, Data: rsaKey, PayloadLen: 48}),
	}
	for name, frame := range frames {
		b.Run(name, func(b *testing.B) {
			lim := DefaultLimits()
			var h Header
			var n int
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if n, err = ParseHeader(frame, &h, &lim); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(n))
		})
	}
}
