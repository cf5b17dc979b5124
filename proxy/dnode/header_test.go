package dnode

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/msg"
)

// setFoo1 is the payload of the first frame of upstream's
// scripts/dynomite/dynomite-test.sh.
const setFoo1 = "*3\r\n$3\r\nset\r\n$4\r\nfoo1\r\n$4\r\nbar1\r\n"

// rsaKey stands for the RSA-encrypted AES key on the first frame of a
// secured connection: 128 bytes (1024-bit key) that contain a CRLF, spaces
// and stars, which must not end the data field early.
var rsaKey = func() []byte {
	b := make([]byte, 128)
	for i := range b {
		b[i] = byte(i*37 + 11)
	}
	copy(b[10:], " *0\r\n")
	b[0], b[127] = ' ', ' '
	return b
}()

func TestTypeStringNamesUpstreamTypes(t *testing.T) {
	tests := map[string]struct {
		t    Type
		want string
	}{
		"unknown is type 0":                 {t: TypeUnknown, want: "UNKNOWN"},
		"requests are type 3":               {t: TypeReq, want: "REQ"},
		"forwarded requests are type 4":     {t: TypeReqForward, want: "REQ_FORWARD"},
		"responses are type 5":              {t: TypeRes, want: "RES"},
		"gossip syn is type 7":              {t: TypeGossipSyn, want: "GOSSIP_SYN"},
		"the last upstream type is 13":      {t: TypeGossipShutdown, want: "GOSSIP_SHUTDOWN"},
		"our pub/sub type follows them":     {t: TypePubSub, want: "PUBSUB"},
		"a number nobody defines is quoted": {t: 15, want: "Type(15)"},
		"the largest number is quoted":      {t: 255, want: "Type(255)"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.t.String())
		})
	}
	for i := range 14 {
		require.NotContains(t, Type(i).String(), "Type(", "type %d has a name", i)
	}
}

func TestAppendHeaderWritesUpstreamBytes(t *testing.T) {
	tests := map[string]struct {
		h    Header
		want string
	}{
		"the request of upstream's dynomite-test.sh": {
			h:    Header{ID: 1, Type: TypeReq, Version: 1, SameDC: true, Data: []byte("d")},
			want: "   $2014$ 1 3 0 1 1 *1 d *0\r\n",
		},
		"empty data is written as d and version 0 as 1": {
			h:    Header{ID: 1, Type: TypeReq, SameDC: true},
			want: "   $2014$ 1 3 0 1 1 *1 d *0\r\n",
		},
		"a response to another datacenter carries the request's id": {
			h:    Header{ID: 1344, Type: TypeRes, Version: 1},
			want: "   $2014$ 1344 5 0 1 0 *1 d *0\r\n",
		},
		"a forwarded request": {
			h:    Header{ID: 7, Type: TypeReqForward, SameDC: false},
			want: "   $2014$ 7 4 0 1 0 *1 d *0\r\n",
		},
		"a gossip frame carries a as its data": {
			h:    Header{ID: 2, Type: TypeGossipSyn, SameDC: true, Data: []byte(DataGossip), PayloadLen: 61},
			want: "   $2014$ 2 7 0 1 1 *1 a *61\r\n",
		},
		"an encrypted frame carries the payload length": {
			h:    Header{ID: 9, Type: TypeReq, Flags: FlagEncrypted, SameDC: true, PayloadLen: 48},
			want: "   $2014$ 9 3 1 1 1 *1 d *48\r\n",
		},
		"the first secured frame carries the encrypted key": {
			h:    Header{ID: 1, Type: TypeReq, Flags: FlagEncrypted, SameDC: true, Data: rsaKey, PayloadLen: 32},
			want: "   $2014$ 1 3 1 1 1 *128 " + string(rsaKey) + " *32\r\n",
		},
		"the largest numbers": {
			h:    Header{ID: 1<<64 - 1, Type: 255, Flags: 15, Version: 255, SameDC: true, PayloadLen: 1<<32 - 1},
			want: "   $2014$ 18446744073709551615 255 15 255 1 *1 d *4294967295\r\n",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			prefix := []byte("prefix")
			got := AppendHeader(prefix, tt.h)
			require.Equal(t, "prefix"+tt.want, string(got), "AppendHeader appends to dst")

			var h Header
			n, err := ParseHeader([]byte(tt.want), &h, nil)
			require.NoError(t, err)
			require.Equal(t, len(tt.want), n)
			want := tt.h
			if len(want.Data) == 0 {
				want.Data = []byte(DataDefault)
			}
			if want.Version == 0 {
				want.Version = Version1
			}
			require.Equal(t, want, h, "the written header parses back")
		})
	}
}

func TestParseHeaderParsesUpstreamFrames(t *testing.T) {
	req1 := Header{ID: 1, Type: TypeReq, Version: 1, SameDC: true, Data: []byte("d")}
	tests := map[string]struct {
		in   string
		n    int // header length; the payload starts here
		want Header
	}{
		"the first frame of upstream's dynomite-test.sh": {
			in: "   $2014$ 1 3 0 1 1 *1 d *0\r\n" + setFoo1, n: 29, want: req1,
		},
		"a header alone": {
			in: "   $2014$ 1 3 0 1 1 *1 d *0\r\n", n: 29, want: req1,
		},
		"only the first of two frames is taken": {
			in: "   $2014$ 5 3 0 1 1 *1 d *0\r\n" + setFoo1 + "   $2014$ 6 3 0 1 1 *1 d *0\r\n",
			n:  29, want: Header{ID: 5, Type: TypeReq, Version: 1, SameDC: true, Data: []byte("d")},
		},
		"a complete header before a broken payload parses: the payload is the caller's": {
			in: "   $2014$ 39 3 0 1 1 *1 d *0\r\n$3  $2014$ 40 3 0 1 1 *1 d *0\r\n",
			n:  30, want: Header{ID: 39, Type: TypeReq, Version: 1, SameDC: true, Data: []byte("d")},
		},
		"a response to another datacenter": {
			in: "   $2014$ 1344 5 0 1 0 *1 d *0\r\n+OK\r\n", n: 32,
			want: Header{ID: 1344, Type: TypeRes, Version: 1, Data: []byte("d")},
		},
		"a gossip frame with its payload length": {
			in: "   $2014$ 2 7 0 1 1 *1 a *3\r\nabc", n: 29,
			want: Header{ID: 2, Type: TypeGossipSyn, Version: 1, SameDC: true, Data: []byte("a"), PayloadLen: 3},
		},
		"the first secured frame, whose key holds CRLF, spaces and stars": {
			in: "   $2014$ 1 3 1 1 1 *128 " + string(rsaKey) + " *32\r\n", n: 159,
			want: Header{ID: 1, Type: TypeReq, Flags: FlagEncrypted, Version: 1, SameDC: true, Data: rsaKey, PayloadLen: 32},
		},
		"no leading spaces, as upstream's parser allows": {
			in: "$2014$ 1 3 0 1 1 *1 d *0\r\n", n: 26, want: req1,
		},
		"runs of spaces before the magic and between fields, as upstream's parser allows": {
			in: "      $2014$   1  3  0  1  1   *1 d   *0\r\n", n: 42, want: req1,
		},
		"leading zeros are ignored": {
			in: "   $2014$ 0001 03 00 01 01 *01 d *00\r\n", n: 38, want: req1,
		},
		"the data may be spaces": {
			in: "   $2014$ 1 3 0 1 1 *2    *0\r\n", n: 30,
			want: Header{ID: 1, Type: TypeReq, Version: 1, SameDC: true, Data: []byte("  ")},
		},
		"the largest numbers": {
			in: "   $2014$ 18446744073709551615 255 15 255 1 *1 d *4294967295\r\n", n: 62,
			want: Header{ID: 1<<64 - 1, Type: 255, Flags: 15, Version: 255, SameDC: true, Data: []byte("d"), PayloadLen: 1<<32 - 1},
		},
		"an id of zero and a type upstream does not define": {
			in: "   $2014$ 0 14 0 1 0 *1 d *0\r\n", n: 30,
			want: Header{ID: 0, Type: 14, Version: 1, Data: []byte("d")},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			buf := []byte(tt.in)
			var h Header
			n, err := ParseHeader(buf, &h, nil)
			require.NoError(t, err)
			require.Equal(t, tt.n, n)
			require.Equal(t, tt.want, h)
			if len(h.Data) > 0 {
				require.Equal(t, len(h.Data), cap(h.Data), "Data cannot be appended to over the payload")
				aliased := false
				for i := range buf {
					aliased = aliased || &buf[i] == &h.Data[0]
				}
				require.True(t, aliased, "Data is a slice of the input")
			}
		})
	}
}

func TestParseHeaderRejectsMalformedHeaders(t *testing.T) {
	small := &Limits{MaxDataLen: 16, MaxHeaderLen: 64}
	tests := map[string]struct {
		in     string
		lim    *Limits
		reason string // substring of the error
		offset int
	}{
		"leading garbage is an error, where upstream skips to the magic": {
			in: "GET / HTTP/1.1\r\n   $2014$ 1 3 0 1 1 *1 d *0\r\n", reason: `expected the magic "$2014$" after leading spaces`, offset: 0,
		},
		"a RESP request sent to the peer port": {
			in: "*1\r\n$4\r\nPING\r\n", reason: "expected the magic", offset: 0,
		},
		"the pre-2015 form of docs/dyn_protocol.txt": {
			in: "2014 1344 1 11 1\r\n*4 minh\r\n*2\r\n$3\r\nget\r\n$3\r\nfoo\r\n", reason: "expected the magic", offset: 0,
		},
		"a wrong magic number": {
			in: "   $2015$ 1 3 0 1 1 *1 d *0\r\n", reason: "expected the magic", offset: 7,
		},
		"a magic cut short, then another frame (dynomite-test.sh frame 4)": {
			in: "   $201  $2014$ 4 3 0 1 1 *1 d *0\r\n", reason: "expected the magic", offset: 7,
		},
		"no space after the magic": {
			in: "   $2014$1 3 0 1 1 *1 d *0\r\n", reason: "expected ' ' after the magic, got '1'", offset: 9,
		},
		"a second magic where the msg_id belongs (frame 7)": {
			in: "   $2014$   $2014$ 7 3 0 1 1 *1 d *0\r\n", reason: "expected a digit in msg_id, got '$'", offset: 12,
		},
		"a second magic where the type belongs (frame 10)": {
			in: "   $2014$ 9  $2014$ 10 3 0 1 1 *1 d *0\r\n", reason: "expected a digit in type, got '$'", offset: 13,
		},
		"a second magic where the flags belong (frame 13)": {
			in: "   $2014$ 12 3  $2014$ 13 3 0 1 1 *1 d *0\r\n", reason: "expected a digit in flags", offset: 16,
		},
		"a second magic where the version belongs (frame 16)": {
			in: "   $2014$ 15 3 0  $2014$ 16 3 0 1 1 *1 d *0\r\n", reason: "expected a digit in version", offset: 18,
		},
		"a second magic where same_dc belongs (frame 19)": {
			in: "   $2014$ 18 3 0 1 $2014$ 19 3 0 1 1 *1 d *0\r\n", reason: "expected a digit in same_dc", offset: 19,
		},
		"a second magic where data_len belongs (frame 22)": {
			in: "   $2014$ 21 3 0 1 1 * $2014$ 22 3 0 1 1 *1 d *0\r\n", reason: "expected a digit in data_len, got ' '", offset: 22,
		},
		"a second magic after one byte of data (frame 25)": {
			in: "   $2014$ 24 3 0 1 1 *1    $2014$ 25 3 0 1 1 *1 d *0\r\n", reason: "expected '*' before payload_len, got '$'", offset: 27,
		},
		"a second magic where the payload star belongs (frame 28)": {
			in: "   $2014$ 27 3 0 1 1 *1 d   $2014$ 28 3 0 1 1 *1 d *0\r\n", reason: "expected '*' before payload_len, got '$'", offset: 28,
		},
		"a second magic where payload_len belongs (frame 31)": {
			in: "   $2014$ 30 3 0 1 1 *1 d *   $2014$ 31 3 0 1 1 *1 d *0\r\n", reason: "expected a digit in payload_len, got ' '", offset: 27,
		},
		"a second magic where CRLF belongs (frame 34)": {
			in: "   $2014$ 33 3 0 1 1 *1 d *0  $2014$ 34 3 0 1 1 *1 d *0\r\n", reason: "expected CR after payload_len, got ' '", offset: 28,
		},
		"a CR without its LF (frame 37)": {
			in: "   $2014$ 36 3 0 1 1 *1 d *0\r  $2014$ 37 3 0 1 1 *1 d *0\r\n", reason: `expected LF after CR, got ' '`, offset: 29,
		},
		"a bare LF": {
			in: "   $2014$ 1 3 0 1 1 *1 d *0\n", reason: `expected CR after payload_len, got '\n'`, offset: 27,
		},
		"a letter in msg_id": {
			in: "   $2014$ 1x 3 0 1 1 *1 d *0\r\n", reason: "expected ' ' after msg_id, got 'x'", offset: 11,
		},
		"a negative msg_id": {
			in: "   $2014$ -1 3 0 1 1 *1 d *0\r\n", reason: "expected a digit in msg_id, got '-'", offset: 10,
		},
		"a tab between fields": {
			in: "   $2014$ 1\t3 0 1 1 *1 d *0\r\n", reason: `expected ' ' after msg_id, got '\t'`, offset: 11,
		},
		"a msg_id over uint64": {
			in: "   $2014$ 18446744073709551616 3 0 1 1 *1 d *0\r\n", reason: "msg_id over 18446744073709551615", offset: 29,
		},
		"a type over uint8": {
			in: "   $2014$ 1 256 0 1 1 *1 d *0\r\n", reason: "type over 255", offset: 14,
		},
		"flags over the four bits upstream keeps": {
			in: "   $2014$ 1 3 16 1 1 *1 d *0\r\n", reason: "flags over 15", offset: 15,
		},
		"a version over uint8": {
			in: "   $2014$ 1 3 0 1000 1 *1 d *0\r\n", reason: "version over 255", offset: 19,
		},
		"version 0": {
			in: "   $2014$ 1 3 0 0 1 *1 d *0\r\n", reason: "version 0", offset: 16,
		},
		"same_dc other than 0 or 1": {
			in: "   $2014$ 1 3 0 1 2 *1 d *0\r\n", reason: "same_dc over 1", offset: 18,
		},
		"the old form with CRLF after the version": {
			in: "   $2014$ 1 3 0 1\r\n*1 d *0\r\n", reason: `expected ' ' after version, got '\r'`, offset: 17,
		},
		"a missing star before data_len": {
			in: "   $2014$ 1 3 0 1 1 1 d *0\r\n", reason: "expected '*' before data_len, got '1'", offset: 20,
		},
		"a missing star before payload_len": {
			in: "   $2014$ 1 3 0 1 1 *1 d 0\r\n", reason: "expected '*' before payload_len, got '0'", offset: 25,
		},
		"data longer than data_len": {
			in: "   $2014$ 1 3 0 1 1 *1 dd *0\r\n", reason: "expected ' ' after the data, got 'd'", offset: 24,
		},
		"data_len 0": {
			in: "   $2014$ 1 3 0 1 1 *0  *0\r\n", reason: "data_len 0", offset: 21,
		},
		"data_len over the default 1 MiB": {
			in: "   $2014$ 1 3 0 1 1 *1048577 d *0\r\n", reason: "data_len over MaxDataLen 1048576", offset: 27,
		},
		"data_len over a configured limit": {
			in: "   $2014$ 1 3 0 1 1 *17 ", lim: small, reason: "data_len over MaxDataLen 16", offset: 22,
		},
		"a payload_len over uint32": {
			in: "   $2014$ 1 3 0 1 1 *1 d *4294967296\r\n", reason: "payload_len over 4294967295", offset: 35,
		},
		"spaces without end": {
			in: strings.Repeat(" ", 5000), reason: "header longer than its limit (MaxHeaderLen plus data_len) of 4096 bytes", offset: 4095,
		},
		"spaces between fields beyond the limit": {
			in: "   $2014$ 1" + strings.Repeat(" ", 100), lim: small, reason: "of 64 bytes", offset: 63,
		},
		"spaces after the data count the data in the limit": {
			in: "   $2014$ 1 3 0 1 1 *8 12345678" + strings.Repeat(" ", 100), lim: small, reason: "of 72 bytes", offset: 71,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var h Header
			n, err := ParseHeader([]byte(tt.in), &h, tt.lim)
			require.Zero(t, n)
			require.Equal(t, Header{}, h, "h is untouched")
			var fe *FrameError
			require.ErrorAs(t, err, &fe)
			require.Contains(t, fe.Reason, tt.reason)
			require.Equal(t, tt.offset, fe.Offset, "offset of the offending byte in %q", fe.Seen)
			require.True(t, strings.HasPrefix(err.Error(), "dnode: bad frame header: "), err.Error())
		})
	}
}

func TestParseHeaderAsksForMoreAtEverySplitPoint(t *testing.T) {
	frames := map[string]string{
		"a request":                                 "   $2014$ 1 3 0 1 1 *1 d *0\r\n" + setFoo1,
		"a gossip frame":                            "   $2014$ 2 7 0 1 1 *1 a *3\r\nabc",
		"the first secured frame":                   "   $2014$ 1 3 1 1 1 *128 " + string(rsaKey) + " *32\r\n",
		"a frame with runs of spaces":               "      $2014$   12  3  0  1  1   *1 d   *0\r\n+OK\r\n",
		"a frame with the largest numbers":          "   $2014$ 18446744073709551615 255 15 255 1 *1 d *4294967295\r\n",
		"a frame after a broken one is not reached": "   $2014$ 36 3 0 1 1 *1 d *0\r  $2014$ 37 3 0 1 1 *1 d *0\r\n",
		"a frame too long for its limit":            strings.Repeat(" ", 5000),
	}
	for name, frame := range frames {
		t.Run(name, func(t *testing.T) {
			buf := []byte(frame)
			var want Header
			wantN, wantErr := ParseHeader(buf, &want, nil)
			require.False(t, errors.Is(wantErr, ErrIncomplete))
			end := wantN
			var fe *FrameError
			if wantErr != nil {
				require.ErrorAs(t, wantErr, &fe)
				end = fe.Offset + 1
			}
			for k := range len(buf) + 1 {
				// An exact-size copy, so that reading past the end would panic.
				part := bytes.Clone(buf[:k])
				var h Header
				n, err := ParseHeader(part, &h, nil)
				if k < end {
					require.ErrorIs(t, err, ErrIncomplete, "prefix of %d bytes", k)
					require.Zero(t, n)
					continue
				}
				require.Equal(t, wantN, n, "prefix of %d bytes", k)
				if wantErr != nil {
					require.Equal(t, wantErr, err, "prefix of %d bytes", k)
					continue
				}
				require.NoError(t, err, "prefix of %d bytes", k)
				require.Equal(t, want, h, "prefix of %d bytes", k)
			}
		})
	}
}

func TestParseHeaderUsesDefaultsForUnsetLimits(t *testing.T) {
	big := "   $2014$ 1 3 0 1 1 *1048576 " + strings.Repeat("k", 1<<20) + " *0\r\n"
	for name, lim := range map[string]*Limits{
		"nil limits":         nil,
		"zero limits":        {},
		"negative limits":    {MaxDataLen: -1, MaxHeaderLen: -1},
		"the default limits": new(DefaultLimits()),
	} {
		t.Run(name, func(t *testing.T) {
			var h Header
			n, err := ParseHeader([]byte(big), &h, lim)
			require.NoError(t, err)
			require.Equal(t, len(big), n)
			require.Len(t, h.Data, 1<<20)

			_, err = ParseHeader([]byte(strings.Repeat(" ", 4097)), &h, lim)
			var fe *FrameError
			require.ErrorAs(t, err, &fe)
			require.Contains(t, fe.Reason, "of 4096 bytes")
		})
	}
}

func TestFrameErrorQuotesWhatWasSeen(t *testing.T) {
	tests := map[string]struct {
		in   string
		want string
	}{
		"control bytes are escaped": {
			in:   "\x00\x01garbage",
			want: `dnode: bad frame header: expected the magic "$2014$" after leading spaces at offset 0, after "\x00"`,
		},
		"the bytes up to the offending one are quoted": {
			in:   "   $2014$ 1 3 0 1 1 *1 d *0\rX",
			want: `dnode: bad frame header: expected LF after CR, got 'X' at offset 28, after "   $2014$ 1 3 0 1 1 *1 d *0\rX"`,
		},
		"non-ASCII bytes are escaped": {
			in:   "   $2014$ 1 3 0 1 1 *2 \xff\xfe x",
			want: `dnode: bad frame header: expected '*' before payload_len, got 'x' at offset 26, after "   $2014$ 1 3 0 1 1 *2 \xff\xfe x"`,
		},
		"a long header is cut in the middle": {
			in: "   $2014$ 1 3 0 1 1 *100 " + strings.Repeat("k", 100) + "x",
			want: `dnode: bad frame header: expected ' ' after the data, got 'x' at offset 125, after ` +
				`"   $2014$ 1 3 0 1 1 *100"..."` + strings.Repeat("k", 39) + `x"`,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var h Header
			_, err := ParseHeader([]byte(tt.in), &h, nil)
			require.EqualError(t, err, tt.want)
		})
	}
}

func TestHeaderCodecAllocatesNothing(t *testing.T) {
	h := Header{ID: 123456789, Type: TypeReq, SameDC: true}
	buf := make([]byte, 0, 128)
	require.Zero(t, testing.AllocsPerRun(100, func() { buf = AppendHeader(buf[:0], h) }))

	frame := []byte("   $2014$ 123456789 3 0 1 1 *1 d *0\r\n" + setFoo1)
	lim := DefaultLimits()
	var got Header
	require.Zero(t, testing.AllocsPerRun(100, func() {
		if _, err := ParseHeader(frame, &got, &lim); err != nil {
			panic(err)
		}
	}))
	require.Zero(t, testing.AllocsPerRun(100, func() {
		if _, err := ParseHeader(frame[:20], &got, nil); err != ErrIncomplete {
			panic(err)
		}
	}), "asking for more input allocates nothing either")
}

func TestRequestTypeRoundTrips(t *testing.T) {
	for _, p := range []msg.PeerType{msg.PeerServe, msg.PeerForward} {
		got, ok := peerType(RequestType(p))
		require.True(t, ok)
		require.Equal(t, p, got)
	}
	require.Equal(t, TypeReq, RequestType(msg.PeerServe))
	require.Equal(t, TypeReqForward, RequestType(msg.PeerForward))
	for _, typ := range []Type{TypeUnknown, TypeRes, TypeGossipSyn, TypeGossipShutdown} {
		_, ok := peerType(typ)
		require.False(t, ok, typ.String())
	}
}
