package memcache

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/msg"
)

// wantReq is the part of a Request a test pins.
type wantReq struct {
	cmd       Cmd
	class     msg.Class
	keys      []string
	exptime   string
	noReply   bool
	retrieval bool
	dataStart int
	dataLen   int
}

func gotReq(r *Request) wantReq {
	w := wantReq{cmd: r.Cmd, class: r.Class, exptime: string(r.Exptime), noReply: r.NoReply,
		retrieval: r.Retrieval, dataStart: r.DataStart, dataLen: r.DataLen}
	for _, k := range r.Keys {
		w.keys = append(w.keys, string(k))
	}
	return w
}

// validCases are well-formed requests, several relying on memcached quirks;
// TestMemcachedAgrees checks that a real memcached accepts them too.
var validCases = map[string]struct {
	in   string
	want wantReq
}{
	"get with one key is a read": {
		in:   "get k\r\n",
		want: wantReq{cmd: CmdGet, class: msg.ClassRead, keys: []string{"k"}, retrieval: true},
	},
	"get with several keys is multi-key": {
		in:   "get a b c\r\n",
		want: wantReq{cmd: CmdGet, class: msg.ClassMultiKey, keys: []string{"a", "b", "c"}, retrieval: true},
	},
	"get with a repeated key keeps both": {
		in:   "get a a\r\n",
		want: wantReq{cmd: CmdGet, class: msg.ClassMultiKey, keys: []string{"a", "a"}, retrieval: true},
	},
	"gets is a retrieval": {
		in:   "gets k\r\n",
		want: wantReq{cmd: CmdGets, class: msg.ClassRead, keys: []string{"k"}, retrieval: true},
	},
	"a bare LF ends a line": {
		in:   "get k\n",
		want: wantReq{cmd: CmdGet, class: msg.ClassRead, keys: []string{"k"}, retrieval: true},
	},
	"runs of spaces separate tokens": {
		in:   "  get   a  b  \r\n",
		want: wantReq{cmd: CmdGet, class: msg.ClassMultiKey, keys: []string{"a", "b"}, retrieval: true},
	},
	"noreply on get is a key": {
		in:   "get k noreply\r\n",
		want: wantReq{cmd: CmdGet, class: msg.ClassMultiKey, keys: []string{"k", "noreply"}, retrieval: true},
	},
	"a key of 250 bytes is fine": {
		in:   "get " + key250 + "\r\n",
		want: wantReq{cmd: CmdGet, class: msg.ClassRead, keys: []string{key250}, retrieval: true},
	},
	"a NUL ends the line for the tokenizer": {
		in:   "get a\x00b c\r\n",
		want: wantReq{cmd: CmdGet, class: msg.ClassRead, keys: []string{"a"}, retrieval: true},
	},
	"only one CR before the LF is stripped": {
		in:   "get a\r\r\n",
		want: wantReq{cmd: CmdGet, class: msg.ClassRead, keys: []string{"a\r"}, retrieval: true},
	},
	"tabs are part of a key": {
		in:   "get k\t\r\n",
		want: wantReq{cmd: CmdGet, class: msg.ClassRead, keys: []string{"k\t"}, retrieval: true},
	},
	"gat with one key is a write": {
		in:   "gat 10 k\r\n",
		want: wantReq{cmd: CmdGat, class: msg.ClassWrite, keys: []string{"k"}, exptime: "10", retrieval: true},
	},
	"gats with several keys is multi-key": {
		in:   "gats -1 a b\r\n",
		want: wantReq{cmd: CmdGats, class: msg.ClassMultiKey, keys: []string{"a", "b"}, exptime: "-1", retrieval: true},
	},
	"gat without keys goes to the local memcached": {
		in:   "gat 10\r\n",
		want: wantReq{cmd: CmdGat, class: msg.ClassLocal, exptime: "10", retrieval: true},
	},
	"set carries its data block": {
		in:   "set k 0 0 3\r\nabc\r\n",
		want: wantReq{cmd: CmdSet, class: msg.ClassWrite, keys: []string{"k"}, dataStart: 13, dataLen: 3},
	},
	"set with a bare LF line": {
		in:   "set k 0 0 3\nabc\r\n",
		want: wantReq{cmd: CmdSet, class: msg.ClassWrite, keys: []string{"k"}, dataStart: 12, dataLen: 3},
	},
	"set with an empty value": {
		in:   "set k 0 0 0\r\n\r\n",
		want: wantReq{cmd: CmdSet, class: msg.ClassWrite, keys: []string{"k"}, dataStart: 13},
	},
	"set with noreply": {
		in:   "set k 0 0 3 noreply\r\nabc\r\n",
		want: wantReq{cmd: CmdSet, class: msg.ClassWrite, keys: []string{"k"}, noReply: true, dataStart: 21, dataLen: 3},
	},
	"a sixth set token other than noreply is ignored": {
		in:   "set k 0 0 3 4\r\nabc\r\n",
		want: wantReq{cmd: CmdSet, class: msg.ClassWrite, keys: []string{"k"}, dataStart: 15, dataLen: 3},
	},
	"add replace append prepend are storage commands": {
		in:   "prepend k 1 2 1\r\nx\r\n",
		want: wantReq{cmd: CmdPrepend, class: msg.ClassWrite, keys: []string{"k"}, dataStart: 17, dataLen: 1},
	},
	"cas takes a unique": {
		in:   "cas k 0 0 3 99\r\nabc\r\n",
		want: wantReq{cmd: CmdCas, class: msg.ClassWrite, keys: []string{"k"}, dataStart: 16, dataLen: 3},
	},
	"cas with noreply": {
		in:   "cas k 0 0 3 99 noreply\r\nabc\r\n",
		want: wantReq{cmd: CmdCas, class: msg.ClassWrite, keys: []string{"k"}, noReply: true, dataStart: 24, dataLen: 3},
	},
	"flags above 32 bits wrap like memcached's strtoul": {
		in:   "set k 4294967296 0 3\r\nabc\r\n",
		want: wantReq{cmd: CmdSet, class: msg.ClassWrite, keys: []string{"k"}, dataStart: 22, dataLen: 3},
	},
	"a negated huge flags value is accepted like memcached's strtoul": {
		in:   "set k -18446744073709551615 0 3\r\nabc\r\n",
		want: wantReq{cmd: CmdSet, class: msg.ClassWrite, keys: []string{"k"}, dataStart: 33, dataLen: 3},
	},
	"bytes above 32 bits are truncated like memcached's strtol": {
		in:   "set k 0 0 4294967299\r\nabc\r\n",
		want: wantReq{cmd: CmdSet, class: msg.ClassWrite, keys: []string{"k"}, dataStart: 22, dataLen: 3},
	},
	"numbers may have a sign and leading whitespace": {
		in:   "set k +1 \t-1 +3\r\nabc\r\n",
		want: wantReq{cmd: CmdSet, class: msg.ClassWrite, keys: []string{"k"}, dataStart: 17, dataLen: 3},
	},
	"whitespace after the digits ends a number": {
		in:   "set k 1\tjunk 0 3\r\r\nabc\r\n",
		want: wantReq{cmd: CmdSet, class: msg.ClassWrite, keys: []string{"k"}, dataStart: 19, dataLen: 3},
	},
	"a NUL ends a storage command line": {
		in:   "set k 0 0 3\x00zz\r\nabc\r\n",
		want: wantReq{cmd: CmdSet, class: msg.ClassWrite, keys: []string{"k"}, dataStart: 16, dataLen: 3},
	},
	"incr is a write": {
		in:   "incr k 1\r\n",
		want: wantReq{cmd: CmdIncr, class: msg.ClassWrite, keys: []string{"k"}},
	},
	"decr with noreply": {
		in:   "decr k 18446744073709551615 noreply\r\n",
		want: wantReq{cmd: CmdDecr, class: msg.ClassWrite, keys: []string{"k"}, noReply: true},
	},
	"a fourth incr token other than noreply is ignored": {
		in:   "incr k 1 extra\r\n",
		want: wantReq{cmd: CmdIncr, class: msg.ClassWrite, keys: []string{"k"}},
	},
	"touch is a write": {
		in:   "touch k -1 noreply\r\n",
		want: wantReq{cmd: CmdTouch, class: msg.ClassWrite, keys: []string{"k"}, noReply: true},
	},
	"delete is a write": {
		in:   "delete k\r\n",
		want: wantReq{cmd: CmdDelete, class: msg.ClassWrite, keys: []string{"k"}},
	},
	"delete accepts a zero hold time": {
		in:   "delete k 0\r\n",
		want: wantReq{cmd: CmdDelete, class: msg.ClassWrite, keys: []string{"k"}},
	},
	"delete with noreply": {
		in:   "delete k noreply\r\n",
		want: wantReq{cmd: CmdDelete, class: msg.ClassWrite, keys: []string{"k"}, noReply: true},
	},
	"delete with a zero hold time and noreply": {
		in:   "delete k 0 noreply\r\n",
		want: wantReq{cmd: CmdDelete, class: msg.ClassWrite, keys: []string{"k"}, noReply: true},
	},
	"delete of the key noreply": {
		in:   "delete noreply\r\n",
		want: wantReq{cmd: CmdDelete, class: msg.ClassWrite, keys: []string{"noreply"}},
	},
	"version goes to the local memcached": {
		in:   "version\r\n",
		want: wantReq{cmd: CmdVersion, class: msg.ClassLocal},
	},
	"version ignores arguments": {
		in:   "version x y\r\n",
		want: wantReq{cmd: CmdVersion, class: msg.ClassLocal},
	},
	"quit is answered by the proxy": {
		in:   "quit\r\n",
		want: wantReq{cmd: CmdQuit, class: msg.ClassProxy},
	},
	"quit ignores arguments": {
		in:   "quit now\r\n",
		want: wantReq{cmd: CmdQuit, class: msg.ClassProxy},
	},
}

var key250 = strings.Repeat("k", MaxKeyLen)

func TestParseRequestValid(t *testing.T) {
	var req Request // reused on purpose: every call must reset it
	for name, tc := range validCases {
		t.Run(name, func(t *testing.T) {
			buf := []byte(tc.in + "get next\r\n") // a pipelined request follows
			n, err := ParseRequest(buf, &req, nil)
			require.NoError(t, err)
			require.Equal(t, len(tc.in), n)
			require.Equal(t, tc.want, gotReq(&req))
		})
	}
}

func TestParseRequestIncomplete(t *testing.T) {
	tests := map[string]struct {
		in string
		n  int
	}{
		"an empty buffer":                         {in: "", n: 0},
		"a line without its LF":                   {in: "get k\r", n: 0},
		"a storage line without its LF":           {in: "set k 0 0 3", n: 0},
		"a storage command without its data":      {in: "set k 0 0 3\r\n", n: 18},
		"a storage command without its final LF":  {in: "set k 0 0 3\r\nabc\r", n: 18},
		"a large value reports the size it needs": {in: "set k 0 0 1048516\r\n", n: 19 + 1048516 + 2},
		"a line of 2048 bytes may still end":      {in: "set k 0 0 3" + strings.Repeat(" ", 2037), n: 0},
		"a long get line may still end":           {in: "get " + strings.Repeat("k ", 2000), n: 0},
		"a long gets line may still end":          {in: strings.Repeat(" ", 100) + "gets " + strings.Repeat("k ", 2000), n: 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var req Request
			n, err := ParseRequest([]byte(tc.in), &req, nil)
			require.ErrorIs(t, err, ErrIncomplete)
			require.Equal(t, tc.n, n)
		})
	}
}

// malformedCases are the malformed requests and memcached 1.6.18's answers,
// found by experiment; TestMemcachedAgrees checks them against a real one.
// n is the length of the command line unless close is set (then 0).
// unsupported marks commands memcached knows that we answer ERROR by choice.
var malformedCases = map[string]struct {
	in          string
	lim         *Limits
	reply       string
	skip        int
	close       bool
	unsupported bool
}{
	"an unknown command is ERROR":                   {in: "bogus k\r\n", reply: ReplyError},
	"commands are case sensitive":                   {in: "GET k\r\n", reply: ReplyError},
	"an empty CRLF line is ERROR":                   {in: "\r\n", reply: ReplyError},
	"an empty LF line is ERROR":                     {in: "\n", reply: ReplyError},
	"a line of spaces is ERROR":                     {in: "   \r\n", reply: ReplyError},
	"a tab does not separate the command":           {in: "get\tk\r\n", reply: ReplyError},
	"a second CR is part of the command":            {in: "version\r\r\n", reply: ReplyError},
	"a NUL before the command is an empty line":     {in: "\x00get k\r\n", reply: ReplyError},
	"stats is not supported":                        {in: "stats\r\n", reply: ReplyError, unsupported: true},
	"flush_all is not supported":                    {in: "flush_all\r\n", reply: ReplyError, unsupported: true},
	"verbosity is not supported":                    {in: "verbosity 1\r\n", reply: ReplyError, unsupported: true},
	"mg without a key is ERROR":                     {in: "mg\r\n", reply: ReplyError},
	"me without a key is a bad command line":        {in: "me\r\n", reply: ReplyBadFormat},
	"a meta key over 250 bytes":                     {in: "mg " + strings.Repeat("k", 251) + " v\r\n", reply: ReplyBadFormat},
	"ms without a datalen":                          {in: "ms foo\r\n", reply: ReplyBadFormat},
	"ms with a negative datalen swallows nothing":   {in: "ms foo -1\r\n", reply: ReplyBadFormat},
	"ms with a long key swallows nothing":           {in: "ms " + strings.Repeat("k", 251) + " 2\r\nhi\r\n", reply: ReplyBadFormat},
	"ms with a bad data chunk":                      {in: "ms foo 2\r\nhiX\r\n", reply: ReplyBadDataChunk, skip: 4},
	"a second q is a duplicate flag":                {in: "mg n q q\r\n", reply: ReplyDuplicateFlag},
	"ms with a second q swallows its data":          {in: "ms n 1 q q\r\n1\r\n", reply: ReplyDuplicateFlag, skip: 3},
	"meta commands are lower case":                  {in: "MG n\r\n", reply: ReplyError},
	"get without a key is ERROR":                    {in: "get\r\n", reply: ReplyError},
	"get with only spaces is ERROR":                 {in: "get  \r\n", reply: ReplyError},
	"gets without a key is ERROR":                   {in: "gets\r\n", reply: ReplyError},
	"gat without an exptime is ERROR":               {in: "gat\r\n", reply: ReplyError},
	"set with too few tokens is ERROR":              {in: "set k 0 0\r\n", reply: ReplyError},
	"set with too many tokens is ERROR":             {in: "set k 0 0 3 noreply extra\r\nabc\r\n", reply: ReplyError},
	"ERROR ignores noreply":                         {in: "set k 0 noreply\r\n", reply: ReplyError},
	"cas without a unique is ERROR":                 {in: "cas k 0 0 3\r\nabc\r\n", reply: ReplyError},
	"cas with too many tokens is ERROR":             {in: "cas k 0 0 3 1 noreply x\r\nabc\r\n", reply: ReplyError},
	"incr without a delta is ERROR":                 {in: "incr k\r\n", reply: ReplyError},
	"decr with too many tokens is ERROR":            {in: "decr k 1 noreply x\r\n", reply: ReplyError},
	"touch without an exptime is ERROR":             {in: "touch k\r\n", reply: ReplyError},
	"delete without a key is ERROR":                 {in: "delete\r\n", reply: ReplyError},
	"delete with too many tokens is ERROR":          {in: "delete k 0 noreply x\r\n", reply: ReplyError},
	"a key of 251 bytes in get":                     {in: "get " + key251 + "\r\n", reply: ReplyBadFormat},
	"a key of 251 bytes after a good key in get":    {in: "get k " + key251 + " k\r\n", reply: ReplyBadFormat},
	"a key of 251 bytes in gets":                    {in: "gets " + key251 + "\r\n", reply: ReplyBadFormat},
	"a key of 251 bytes in gat":                     {in: "gat 1 k " + key251 + "\r\n", reply: ReplyBadFormat},
	"a key of 251 bytes in set":                     {in: "set " + key251 + " 0 0 3\r\nabc\r\n", reply: ReplyBadFormat},
	"a key of 251 bytes in set with noreply":        {in: "set " + key251 + " 0 0 3 noreply\r\nabc\r\n"},
	"a key of 251 bytes in cas":                     {in: "cas " + key251 + " 0 0 3 1\r\nabc\r\n", reply: ReplyBadFormat},
	"a key of 251 bytes in incr":                    {in: "incr " + key251 + " 1\r\n", reply: ReplyBadFormat},
	"a key of 251 bytes in incr with noreply":       {in: "incr " + key251 + " 1 noreply\r\n"},
	"a key of 251 bytes in touch":                   {in: "touch " + key251 + " 1\r\n", reply: ReplyBadFormat},
	"a key of 251 bytes in delete":                  {in: "delete " + key251 + "\r\n", reply: ReplyBadFormat},
	"a key of 251 bytes in delete with noreply":     {in: "delete " + key251 + " noreply\r\n"},
	"the key is checked before the numbers":         {in: "incr " + key251 + " x\r\n", reply: ReplyBadFormat},
	"non-numeric flags":                             {in: "set k x 0 3\r\nabc\r\n", reply: ReplyBadFormat},
	"negative flags":                                {in: "set k -1 0 3\r\nabc\r\n", reply: ReplyBadFormat},
	"flags above 64 bits":                           {in: "set k 18446744073709551616 0 3\r\nabc\r\n", reply: ReplyBadFormat},
	"non-numeric exptime":                           {in: "set k 0 x 3\r\nabc\r\n", reply: ReplyBadFormat},
	"exptime above 63 bits":                         {in: "set k 0 9223372036854775808 3\r\nabc\r\n", reply: ReplyBadFormat},
	"non-numeric bytes":                             {in: "set k 0 0 x\r\nabc\r\n", reply: ReplyBadFormat},
	"trailing garbage in bytes":                     {in: "set k 0 0 3x\r\nabc\r\n", reply: ReplyBadFormat},
	"a lone sign as bytes":                          {in: "set k 0 0 -\r\nabc\r\n", reply: ReplyBadFormat},
	"negative bytes":                                {in: "set k 0 0 -1\r\nabc\r\n", reply: ReplyBadFormat},
	"bytes that wrap negative in 32 bits":           {in: "set k 0 0 2147483648\r\nabc\r\n", reply: ReplyBadFormat},
	"bytes of INT_MAX-1":                            {in: "set k 0 0 2147483646\r\nabc\r\n", reply: ReplyBadFormat},
	"non-numeric bytes with noreply is silent":      {in: "set k 0 0 x noreply\r\nabc\r\n"},
	"negative bytes with noreply is silent":         {in: "add k 0 0 -1 noreply\r\nabc\r\n"},
	"non-numeric cas unique":                        {in: "cas k 0 0 3 x\r\nabc\r\n", reply: ReplyBadFormat},
	"negative cas unique":                           {in: "cas k 0 0 3 -1\r\nabc\r\n", reply: ReplyBadFormat},
	"cas unique above 64 bits":                      {in: "cas k 0 0 3 18446744073709551616\r\nabc\r\n", reply: ReplyBadFormat},
	"non-numeric cas unique with noreply is silent": {in: "cas k 0 0 3 x noreply\r\nabc\r\n"},
	"non-numeric delta":                             {in: "incr k x\r\n", reply: ReplyBadDelta},
	"negative delta":                                {in: "incr k -1\r\n", reply: ReplyBadDelta},
	"delta above 64 bits":                           {in: "decr k 18446744073709551616\r\n", reply: ReplyBadDelta},
	"non-numeric delta with noreply is silent":      {in: "incr k x noreply\r\n"},
	"non-numeric touch exptime":                     {in: "touch k x\r\n", reply: ReplyBadExptime},
	"non-numeric touch exptime with noreply":        {in: "touch k x noreply\r\n"},
	"non-numeric gat exptime":                       {in: "gat x k\r\n", reply: ReplyBadExptime},
	"gat exptime above 63 bits":                     {in: "gat 99999999999999999999 k\r\n", reply: ReplyBadExptime},
	"gat checks the exptime before the keys":        {in: "gat x " + key251 + "\r\n", reply: ReplyBadExptime},
	"delete with a non-zero hold time":              {in: "delete k 5\r\n", reply: ReplyDeleteUsage},
	"delete with a word instead of noreply":         {in: "delete k x\r\n", reply: ReplyDeleteUsage},
	"delete with zero and a word":                   {in: "delete k 0 x\r\n", reply: ReplyDeleteUsage},
	"delete hold time must be exactly 0":            {in: "delete k 00\r\n", reply: ReplyDeleteUsage},
	"delete checks usage before the key":            {in: "delete " + key251 + " 5\r\n", reply: ReplyDeleteUsage},
	"delete usage error with noreply is silent":     {in: "delete k 5 noreply\r\n"},
	"a data block ending in LF only":                {in: "set k 0 0 3\r\nabc\nv", reply: ReplyBadDataChunk, skip: 5},
	"a data block longer than bytes":                {in: "set k 0 0 3\r\nabcd\r\n", reply: ReplyBadDataChunk, skip: 5},
	"an empty data block that is not CRLF":          {in: "set k 0 0 0\r\nx\r\n", reply: ReplyBadDataChunk, skip: 2},
	"a bad data chunk in append":                    {in: "append k 0 0 1\r\nxy\r\n", reply: ReplyBadDataChunk, skip: 3},
	"a bad data chunk in cas":                       {in: "cas k 0 0 1 1\r\nxyz\r\n", reply: ReplyBadDataChunk, skip: 3},
	"a bad data chunk with noreply is silent":       {in: "prepend k 0 0 1 noreply\r\nxy\r\n", skip: 3},
	"a value one byte too large for 1 MB":           {in: "set k 0 0 1048517\r\n" + strings.Repeat("x", 1048517) + "\r\n", reply: ReplyTooLarge, skip: 1048519},
	"flags take 4 bytes of the item":                {in: "set k 1 0 1048513\r\n" + strings.Repeat("x", 1048513) + "\r\n", reply: ReplyTooLarge, skip: 1048515},
	"a long key takes room from the value":          {in: "set " + strings.Repeat("k", 250) + " 0 0 1048268\r\n" + strings.Repeat("x", 1048268) + "\r\n", reply: ReplyTooLarge, skip: 1048270},
	"a value of 1 MB in append":                     {in: "append k 0 0 1048576\r\n" + strings.Repeat("x", 1048576) + "\r\n", reply: ReplyTooLarge, skip: 1048578},
	"a value too large with noreply is silent":      {in: "set k 0 0 1048576 noreply\r\n" + strings.Repeat("x", 1048576) + "\r\n", skip: 1048578},
	"a too large value is answered before its data": {in: "set k 0 0 2147483645\r\n", reply: ReplyTooLarge, skip: 2147483647},
	"a smaller item size limit":                     {in: "set k 0 0 42\r\n", lim: &Limits{MaxItemSize: 100}, reply: ReplyTooLarge, skip: 44},
	"a line over 2048 bytes without LF closes":      {in: "set k 0 0 3" + strings.Repeat(" ", 2038), close: true},
	"a line over 2048 bytes closes even when whole": {in: "set k 0 0 3" + strings.Repeat(" ", 2038) + "\r\nabc\r\n", close: true},
	"an unknown long line closes":                   {in: strings.Repeat("x", 3000), close: true},
	"a long gat line closes":                        {in: "gat 1 " + strings.Repeat("k ", 1100), close: true},
	"a long get line after 101 spaces closes":       {in: strings.Repeat(" ", 101) + "get " + strings.Repeat("k ", 1100), close: true},
	"a get line over the proxy's own limit closes":  {in: "get " + strings.Repeat("k ", 1100), lim: &Limits{MaxGetLine: 2100}, close: true},
	"a limit on the line length applies to get too": {in: "get " + strings.Repeat("k ", 60) + "\r\n", lim: &Limits{MaxLine: 50, MaxGetLine: 100}, close: true},
	"a too large value with noreply is swallowed":   {in: "set k 0 0 2000000 noreply\r\n", skip: 2000002},
}

var key251 = strings.Repeat("k", 251)

func TestParseRequestMalformed(t *testing.T) {
	for name, tc := range malformedCases {
		t.Run(name, func(t *testing.T) {
			var req Request
			n, err := ParseRequest([]byte(tc.in), &req, tc.lim)
			var ce *ClientError
			require.ErrorAs(t, err, &ce)
			require.Equal(t, tc.reply, ce.Reply)
			require.Equal(t, tc.skip, ce.Skip)
			require.Equal(t, tc.close, ce.Close)
			require.NotEmpty(t, ce.Reason)
			require.NotEmpty(t, ce.Error())
			if tc.close {
				require.Zero(t, n)
			} else {
				require.Equal(t, strings.IndexByte(tc.in, '\n')+1, n)
			}
		})
	}
}

func TestParseRequestResetsTheRequest(t *testing.T) {
	var req Request
	_, err := ParseRequest([]byte("set k 0 0 1 noreply\r\nx\r\n"), &req, nil)
	require.NoError(t, err)
	keys := req.Keys

	n, err := ParseRequest([]byte("get a b\r\n"), &req, nil)
	require.NoError(t, err)
	require.Equal(t, 9, n)
	require.Equal(t, wantReq{cmd: CmdGet, class: msg.ClassMultiKey, keys: []string{"a", "b"}, retrieval: true}, gotReq(&req))
	require.Equal(t, &keys[:1][0], &req.Keys[:1][0], "the keys slice is reused")
}

func TestParseRequestIsIncrementalOnEveryPrefix(t *testing.T) {
	inputs := []string{
		"get a b c\r\n",
		"set k 0 0 10\r\n0123456789\r\n",
		"cas k 0 0 3 77 noreply\r\nabc\r\n",
		"set k 0 0 3\r\nabcd\r\n",
		"set k 0 0 1048517\r\n",
		"set k 0 0 3" + strings.Repeat(" ", 2040) + "\r\nabc\r\n",
		"bogus\r\n",
	}
	for _, in := range inputs {
		checkPrefixes(t, []byte(in), nil)
	}
}

// checkPrefixes checks that every prefix of buf parses as ErrIncomplete or
// exactly as buf does.
func checkPrefixes(t testing.TB, buf []byte, lim *Limits) {
	var whole, part Request
	n, err := ParseRequest(buf, &whole, lim)
	for i := 0; i < len(buf); i++ {
		pn, perr := ParseRequest(buf[:i], &part, lim)
		if errors.Is(perr, ErrIncomplete) {
			if errors.Is(err, ErrIncomplete) {
				continue
			}
			if pn != 0 {
				require.Greater(t, pn, i, "the size hint of prefix %d of %q is more than the prefix", i, buf)
				require.LessOrEqual(t, pn, len(buf), "the size hint of prefix %d of %q is larger than the request", i, buf)
			}
			continue
		}
		require.Equal(t, n, pn, "prefix %d of %q", i, buf)
		require.Equal(t, err, perr, "prefix %d of %q", i, buf)
		if err == nil {
			require.Equal(t, gotReq(&whole), gotReq(&part), "prefix %d of %q", i, buf)
		}
	}
}

func TestCmdNames(t *testing.T) {
	require.Equal(t, "get", CmdGet.String())
	require.Equal(t, "quit", CmdQuit.String())
	require.Equal(t, "unknown", Cmd(200).String())
	require.True(t, CmdCas.Storage())
	require.False(t, CmdIncr.Storage())
	require.True(t, CmdGats.Retrieval())
	require.False(t, CmdSet.Retrieval())
}
