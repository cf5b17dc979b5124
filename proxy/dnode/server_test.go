package dnode

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/drain"
	"github.com/dynomite-go/dynomite/proxy/msg"
)

// lineHandler is a Handler for a toy datastore protocol: a payload is one
// line. "bad" does not parse, "self" is answered by the node, "" is
// skipped; any other line is served with the reply "+<kind>:<line>".
// partial is told when a payload is found incomplete.
type lineHandler struct {
	partial chan struct{}
}

func (h *lineHandler) ReadRequest(fr *msg.FrameReader, r *msg.Request) (Payload, int, error) {
	b := fr.Bytes()
	i := bytes.Index(b, []byte("\r\n"))
	if i < 0 {
		if h.partial != nil {
			select {
			case h.partial <- struct{}{}:
			default:
			}
		}
		return PayloadMore, 0, nil
	}
	r.SetRaw(b[:i])
	fr.Discard(i + 2)
	switch string(r.Raw) {
	case "":
		return PayloadSkip, 0, nil
	case "bad":
		r.SetReply([]byte("-bad\r\n"))
		return PayloadMalformed, 0, nil
	case "self":
		r.SetReply([]byte("+self\r\n"))
		return PayloadAnswered, 0, nil
	}
	return PayloadRequest, 0, nil
}

func (h *lineHandler) Serve(r *msg.Request, typ msg.PeerType, _ uint) {
	kind := "serve"
	if typ == msg.PeerForward {
		kind = "forward"
	}
	if string(r.Raw) == "fail" {
		r.Fail(errors.New("failed"))
		return
	}
	r.SetReply(append(append(append(r.ReplyBuf(), "+"+kind+":"...), r.Raw...), "\r\n"...))
	r.Done()
}

func (h *lineHandler) ErrorReply(err error) []byte { return []byte("-" + err.Error() + "\r\n") }

func frame(id uint64, typ Type, payload string) []byte {
	return append(AppendHeader(nil, Header{ID: id, Type: typ, SameDC: true}), payload...)
}

// startServer runs a Server on a loopback port, its connections in g,
// and stops it at the end of the test.
func startServer(t *testing.T, h Handler, g *drain.Group) *Server {
	t.Helper()
	s := NewServer(ServerConfig{MaxRequestBytes: 1 << 20, Conns: g}, h)
	require.NoError(t, s.Listen("127.0.0.1:0"))
	done := make(chan struct{})
	go func() { s.Serve(); close(done) }()
	t.Cleanup(func() {
		_ = s.Close()
		<-done
		g.CloseAll()
		g.Wait()
	})
	return s
}

// readReplies reads n reply frames and renders each as "id payload" (a
// reply frame's header is one line: its data is "d").
func readReplies(t *testing.T, br *bufio.Reader, n int) []string {
	t.Helper()
	var got []string
	for range n {
		line, err := br.ReadBytes('\n')
		require.NoError(t, err)
		var h Header
		_, err = ParseHeader(line, &h, nil)
		require.NoError(t, err)
		require.Equal(t, TypeRes, h.Type)
		payload, err := br.ReadString('\n')
		require.NoError(t, err)
		got = append(got, strconv.FormatUint(h.ID, 10)+" "+strings.TrimSpace(payload))
	}
	return got
}

func TestServerAnswersInOrderAndDropsGossip(t *testing.T) {
	s := startServer(t, &lineHandler{}, new(drain.Group))
	c, err := net.Dial("tcp", s.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	var in []byte
	in = append(in, frame(7, TypeReq, "get a\r\n")...)
	in = append(in, frame(8, TypeGossipSyn, "")...)
	in = append(in, frame(9, TypeReqForward, "set b\r\n")...)
	in = append(in, frame(10, TypeReq, "\r\n")...) // skipped: no reply
	in = append(in, frame(11, TypeReq, "self\r\n")...)
	in = append(in, frame(12, TypeReq, "fail\r\n")...)
	_, err = c.Write(in)
	require.NoError(t, err)
	require.Equal(t, []string{"7 +serve:get a", "9 +forward:set b", "11 +self", "12 -failed"},
		readReplies(t, bufio.NewReader(c), 4))
}

func TestServerClosesBrokenStreams(t *testing.T) {
	cases := map[string]struct {
		in      []byte
		replies []string
	}{
		"a frame that does not parse": {in: []byte("GET a\r\n")},
		"an unexpected frame type":    {in: frame(1, TypeRes, "+OK\r\n")},
		"an upstream-encrypted frame": {in: AppendHeader(nil, Header{ID: 1, Type: TypeReq, Flags: FlagEncrypted, PayloadLen: 4})},
		"a payload that does not parse, after its error reply": {
			in: append(frame(1, TypeReq, "bad\r\n"), frame(2, TypeReq, "get a\r\n")...), replies: []string{"1 -bad"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := startServer(t, &lineHandler{}, new(drain.Group))
			c, err := net.Dial("tcp", s.Addr().String())
			require.NoError(t, err)
			defer c.Close()
			_, err = c.Write(tc.in)
			require.NoError(t, err)
			br := bufio.NewReader(c)
			require.Equal(t, tc.replies, nilIfEmpty(readReplies(t, br, len(tc.replies))))
			_, err = br.ReadByte()
			require.ErrorIs(t, err, io.EOF, "the connection is closed")
		})
	}
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func TestServerDrainFinishesTheFrameUnderWay(t *testing.T) {
	h := &lineHandler{partial: make(chan struct{}, 1)}
	var g drain.Group
	s := startServer(t, h, &g)
	c, err := net.Dial("tcp", s.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write(append(frame(1, TypeReq, "get a\r\n"), frame(2, TypeReq, "get b")...))
	require.NoError(t, err)
	<-h.partial // the server holds half of frame 2
	require.NoError(t, s.Close())
	require.Equal(t, 1, g.Drain(time.Now().Add(time.Minute)))
	_, err = c.Write([]byte("\r\n"))
	require.NoError(t, err)
	br := bufio.NewReader(c)
	require.Equal(t, []string{"1 +serve:get a", "2 +serve:get b"}, readReplies(t, br, 2))
	_, err = br.ReadByte()
	require.ErrorIs(t, err, io.EOF, "then the server closes its side")
	g.Wait()
}
