package consistency

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStrategyTargets(t *testing.T) {
	type want struct {
		targets          Targets
		oneAtATime       bool
		forwardsRemote   bool
		cancelsWhenReady bool // a pending counted copy is no longer needed once decided
	}
	for name, c := range map[string]struct {
		s    Strategy
		want want
	}{
		"a DC_ONE read asks the local rack, one replica at a time":               {Strategy{Level: DCOne}, want{LocalRack, true, false, true}},
		"a DC_ONE write goes to every local rack and forwards to remote DCs":     {Strategy{Level: DCOne, Write: true}, want{LocalDC, false, true, false}},
		"a DC_QUORUM read asks every local rack":                                 {Strategy{Level: DCQuorum}, want{LocalDC, false, false, true}},
		"a DC_QUORUM write forwards to remote DCs":                               {Strategy{Level: DCQuorum, Write: true}, want{LocalDC, false, true, false}},
		"a DC_SAFE_QUORUM read asks every local rack":                            {Strategy{Level: DCSafeQuorum}, want{LocalDC, false, false, true}},
		"a DC_SAFE_QUORUM write forwards to remote DCs":                          {Strategy{Level: DCSafeQuorum, Write: true}, want{LocalDC, false, true, false}},
		"a DC_EACH_SAFE_QUORUM read asks every rack of every DC":                 {Strategy{Level: DCEachSafeQuorum}, want{EveryDC, false, false, true}},
		"a DC_EACH_SAFE_QUORUM write counts every rack of every DC":              {Strategy{Level: DCEachSafeQuorum, Write: true}, want{EveryDC, false, false, false}},
		"a local-rack-only read at DC_QUORUM asks the local rack only":           {Strategy{Level: DCQuorum, LocalRackOnly: true}, want{LocalRack, true, false, true}},
		"a local-rack-only read at DC_EACH_SAFE_QUORUM asks the local rack only": {Strategy{Level: DCEachSafeQuorum, LocalRackOnly: true}, want{LocalRack, true, false, true}},
	} {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, c.want.targets, c.s.Targets())
			require.Equal(t, c.want.oneAtATime, c.s.OneAtATime())
			require.Equal(t, c.want.forwardsRemote, c.s.ForwardsRemote())
			require.Equal(t, c.want.cancelsWhenReady, !c.s.Needed(Replica{Counted: true}, true))
			require.True(t, c.s.Needed(Replica{Counted: true}, false), "every copy is needed before the decision")
			require.True(t, c.s.Needed(Replica{}, true), "a copy whose reply is swallowed is replication: always needed")
		})
	}
}

func TestQuorum(t *testing.T) {
	for n, q := range map[int]int{1: 1, 2: 2, 3: 2, 4: 3, 5: 3} {
		require.Equal(t, q, Quorum(n), "%d racks", n)
	}
}

// fakeElems splits replies written one byte per key ("vvx": three keys);
// a reply starting with '-' is not one element per key (an error reply).
type fakeElems struct{ set *Set }

func (f fakeElems) Split(i int) bool { return f.set.Replicas[i].Reply[0] != '-' }

func (f fakeElems) Elem(i, k int) []byte { return f.set.Replicas[i].Reply[k : k+1] }

// replicas builds copies of datacenter dc from a spec: space-separated,
// "." pending, "!" failed, anything else the reply's bytes.
func replicas(dc int, counted bool, spec string) []Replica {
	var rs []Replica
	for _, tok := range strings.Fields(spec) {
		r := Replica{DC: dc, Counted: counted}
		switch tok {
		case ".":
		case "!":
			r.Outcome = Error
		default:
			r.Outcome, r.Reply = OK, []byte(tok)
		}
		rs = append(rs, r)
	}
	return rs
}

type decideCase struct {
	s Strategy
	// local: the local datacenter's (index 0) counted copies in rack order;
	// remote: datacenter 1's copies, counted at DC_EACH_SAFE_QUORUM, else
	// swallowed
	local, remote string
	primary       int
	// order: the indexes in completion order; default index order
	order []int
	// keys: decide key by key, one byte of each reply per key
	keys   int
	want   Decision
	choice []int
}

func (c decideCase) set() *Set {
	set := &Set{DCs: 1, Primary: c.primary}
	set.Replicas = replicas(0, true, c.local)
	if c.remote != "" {
		set.DCs = 2
		set.Replicas = append(set.Replicas, replicas(1, c.s.Targets() == EveryDC, c.remote)...)
	}
	order := c.order
	if order == nil {
		for i := range set.Replicas {
			order = append(order, i)
		}
	}
	seq := 0
	for _, i := range order {
		if set.Replicas[i].Outcome != Pending {
			seq++
			set.Replicas[i].Seq = seq
		}
	}
	if c.keys > 0 {
		set.Choice = make([]int, c.keys)
	}
	return set
}

var (
	one       = Strategy{Level: DCOne}
	oneWrite  = Strategy{Level: DCOne, Write: true}
	quorum    = Strategy{Level: DCQuorum}
	qWrite    = Strategy{Level: DCQuorum, Write: true}
	safe      = Strategy{Level: DCSafeQuorum}
	safeWrite = Strategy{Level: DCSafeQuorum, Write: true}
	each      = Strategy{Level: DCEachSafeQuorum}
	eachWrite = Strategy{Level: DCEachSafeQuorum, Write: true}
	rackOnly  = Strategy{Level: DCSafeQuorum, LocalRackOnly: true}

	wait = Decision{Undecided, -1}
	keys = Decision{UseKeys, -1}
)

func reply(i int) Decision    { return Decision{UseReply, i} }
func errorOf(i int) Decision  { return Decision{UseError, i} }
func noQuorum(i int) Decision { return Decision{NoQuorum, i} }

var decideCases = map[string]decideCase{
	// one replica at a time: DC_ONE reads, local-rack-only reads, and the
	// proxy's local-first fan-outs (scripts to every node, forwarded writes)
	"a DC_ONE read waits for the local rack":                         {s: one, local: ".", want: wait},
	"a DC_ONE read gets the local rack's reply":                      {s: one, local: "a", want: reply(0)},
	"a DC_ONE read gets the error of the last replica tried":         {s: one, local: "!", want: errorOf(0)},
	"a local-rack-only read at a safe level takes the local reply":   {s: rackOnly, local: "a", want: reply(0)},
	"a local-rack-only read at a safe level fails with its error":    {s: rackOnly, local: "!", want: errorOf(0)},
	"a swallowed copy's reply never decides a one-at-a-time request": {s: one, local: ".", remote: "! b", want: wait},
	"a one-at-a-time request ignores swallowed copies still pending": {s: one, local: "a", remote: ". .", want: reply(0)},

	// DC_ONE writes: the local rack's owner acknowledges
	"a DC_ONE write takes the local rack's reply without waiting for the others": {s: oneWrite, local: ". a .", primary: 1, want: reply(1)},
	"a DC_ONE write waits for the local rack while another rack stored it":       {s: oneWrite, local: "a . .", primary: 1, want: wait},
	"a DC_ONE write whose local rack failed takes another rack's reply":          {s: oneWrite, local: "! a .", want: reply(1)},
	"a DC_ONE write whose local rack failed waits for another rack":              {s: oneWrite, local: "! . .", want: wait},
	"a DC_ONE write whose local rack failed takes the first rack to succeed":     {s: oneWrite, local: "! a b", order: []int{2, 0, 1}, want: reply(2)},
	"a DC_ONE write fails with the local rack's error when every rack failed":    {s: oneWrite, local: "! ! !", primary: 1, want: errorOf(1)},
	"a DC_ONE write with the local rack's reply ignores the remote datacenter":   {s: oneWrite, local: "a . .", remote: "!", want: reply(0)},
	"a DC_ONE write does not wait for the remote datacenter":                     {s: oneWrite, local: "! ! a", remote: ".", want: reply(2)},
	"a DC_ONE write fails over even when the other racks replied first":          {s: oneWrite, local: "! b c", order: []int{1, 2, 0}, want: reply(1)},

	// DC_QUORUM and DC_SAFE_QUORUM
	"a quorum read waits for a second rack":                                           {s: quorum, local: "a . .", want: wait},
	"a quorum read is decided by two agreeing racks of three":                         {s: quorum, local: "a . a", want: reply(0)},
	"a quorum read waits for the third rack when two disagree":                        {s: quorum, local: "a b .", want: wait},
	"a quorum read takes the majority once the third rack agrees":                     {s: quorum, local: "a b b", want: reply(1)},
	"a DC_QUORUM read without agreement takes the first reply":                        {s: quorum, local: "a b c", want: reply(0)},
	"a DC_SAFE_QUORUM read without agreement fails":                                   {s: safe, local: "a b c", want: noQuorum(-1)},
	"a DC_SAFE_QUORUM read is decided by two agreeing racks of three":                 {s: safe, local: ". a a", want: reply(1)},
	"a quorum read survives one failed rack of three":                                 {s: quorum, local: "! a a", want: reply(1)},
	"a DC_QUORUM read with one rack failed and two disagreeing takes the first reply": {s: quorum, local: "! a b", want: reply(1)},
	"a DC_SAFE_QUORUM read with one rack failed and two disagreeing fails":            {s: safe, local: "! a b", want: noQuorum(-1)},
	"a quorum read waits for every rack before failing on errors":                     {s: quorum, local: "! ! .", want: wait},
	"a quorum read with two failed racks of three fails with the first error":         {s: quorum, local: "a ! !", want: noQuorum(1)},
	"a safe quorum read with two failed racks of three fails with the first error":    {s: safe, local: "! a !", want: noQuorum(0)},
	"a quorum read of two racks needs both":                                           {s: quorum, local: "a !", want: noQuorum(1)},
	"a quorum read of two agreeing racks is decided":                                  {s: safe, local: "a a", want: reply(0)},
	"a quorum read of one rack is its reply":                                          {s: safe, local: "a", want: reply(0)},
	"a quorum read of one failed rack is its error":                                   {s: quorum, local: "!", want: noQuorum(0)},
	"a quorum write ignores the remote datacenter's error":                            {s: qWrite, local: "a a .", remote: "!", want: reply(0)},
	"a quorum write does not wait for the remote datacenter":                          {s: safeWrite, local: "a b b", remote: ".", want: reply(1)},
	"a DC_SAFE_QUORUM write whose racks disagree fails":                               {s: safeWrite, local: "a b c", remote: "a", want: noQuorum(-1)},
	"a quorum write with too few racks fails with the first error":                    {s: qWrite, local: "! ! a", remote: "a", want: noQuorum(0)},

	// DC_EACH_SAFE_QUORUM
	"DC_EACH_SAFE_QUORUM waits for every datacenter":                          {s: each, local: "a a a", remote: "a . a", want: wait},
	"DC_EACH_SAFE_QUORUM waits for every rack even with agreement everywhere": {s: each, local: "a a .", remote: "a a a", want: wait},
	"DC_EACH_SAFE_QUORUM takes the local reply when every datacenter agrees":  {s: each, local: "b a a", remote: "a a !", want: reply(1)},
	"DC_EACH_SAFE_QUORUM gives the local reply even if a remote one differs":  {s: eachWrite, local: "b b b", remote: "a a a", want: reply(0)},
	"DC_EACH_SAFE_QUORUM fails with a remote datacenter's first error":        {s: each, local: "a a a", remote: "a ! !", want: noQuorum(4)},
	"DC_EACH_SAFE_QUORUM fails when a remote datacenter disagrees":            {s: each, local: "a a a", remote: "a b c", want: noQuorum(-1)},
	"DC_EACH_SAFE_QUORUM fails when the local datacenter disagrees":           {s: each, local: "a b c", remote: "a a a", want: noQuorum(-1)},
	"DC_EACH_SAFE_QUORUM fails with the local datacenter's first error":       {s: eachWrite, local: "! a !", remote: "a a a", want: noQuorum(0)},

	// multi-key reads decided key by key ("vvx": three keys' elements)
	"a multi-key read whose racks agree is decided whole":                            {s: quorum, local: "vvv vvv .", keys: 3, want: reply(0)},
	"a multi-key read is done early once every key has a quorum":                     {s: quorum, local: "vvvx vvxv vxvv xvvv .", keys: 4, want: keys, choice: []int{0, 0, 0, 1}},
	"a multi-key read waits while a key lacks a quorum":                              {s: safe, local: "vvx vvy .", keys: 3, want: wait},
	"a multi-key read gives each key the value most racks hold":                      {s: safe, local: "vvx vyy xyy", keys: 3, want: keys, choice: []int{0, 1, 1}},
	"a DC_QUORUM multi-key read takes a key without quorum from the first good rack": {s: quorum, local: "! vab vcd", keys: 3, want: keys, choice: []int{1, 1, 1}},
	"a DC_QUORUM multi-key read mixes voted keys and first-rack keys":                {s: quorum, local: "vab vcd vcb", keys: 3, want: keys, choice: []int{0, 1, 0}},
	"a DC_SAFE_QUORUM multi-key read fails when a key has no quorum":                 {s: safe, local: "vab vcd vce", keys: 3, want: noQuorum(-1)},
	"a multi-key read with too few good replies fails with the first error":          {s: quorum, local: "vv ! !", keys: 2, want: noQuorum(1)},
	"a multi-key read compares whole replies when one is not one element per key":    {s: quorum, local: "vab -ERR vcd", keys: 3, want: reply(0)},
	"a safe multi-key read fails when one reply is not one element per key":          {s: safe, local: "vab -ERR vcd", keys: 3, want: noQuorum(-1)},
	"a multi-key read over more racks than fit on the stack is voted the same":       {s: safe, local: "vaa vab vac vad vae vaf vag vah vai vaj vak val vam van vao vap vaq", keys: 2, want: keys, choice: []int{0, 0}},
	"DC_EACH_SAFE_QUORUM decides each key in every datacenter, the local last":       {s: each, local: "vab vcb vad", remote: "xab xyz xab", keys: 3, want: keys, choice: []int{0, 0, 0}},
	"DC_EACH_SAFE_QUORUM fails a multi-key read when a remote key has no quorum":     {s: each, local: "vab vab vab", remote: "xab yzb wab", keys: 3, want: noQuorum(-1)},
}

func TestDecide(t *testing.T) {
	for name, c := range decideCases {
		t.Run(name, func(t *testing.T) {
			set := c.set()
			var el Elements
			if c.keys > 0 {
				el = fakeElems{set}
			}
			got := c.s.Decide(set, el)
			require.Equal(t, c.want, got)
			if c.choice != nil {
				require.Equal(t, c.choice, set.Choice)
			}
		})
	}
}

func TestDecideAllocatesNothing(t *testing.T) {
	for _, name := range []string{
		"a multi-key read gives each key the value most racks hold",
		"a DC_ONE write whose local rack failed takes the first rack to succeed",
		"DC_EACH_SAFE_QUORUM takes the local reply when every datacenter agrees",
	} {
		c := decideCases[name]
		set := c.set()
		el := Elements(fakeElems{set})
		allocs := testing.AllocsPerRun(100, func() { c.s.Decide(set, el) })
		require.Zero(t, allocs, name)
	}
}

// digitVersions orders replies by their first byte: a higher digit is a
// newer write (proxy/repair compares timestamps).
type digitVersions struct{ set *Set }

func (v digitVersions) Newer(i, j int) bool {
	return v.set.Replicas[i].Reply[0] > v.set.Replicas[j].Reply[0]
}

func TestDecideWithVersionsAnswersTheNewest(t *testing.T) {
	for name, c := range map[string]decideCase{
		"DC_SAFE_QUORUM replies that disagree give the newest":           {s: safe, local: "1a 3b 2c", want: reply(1)},
		"DC_QUORUM replies that disagree give the newest, not the first": {s: quorum, local: "1a 3b 2c", want: reply(1)},
		"a quorum that agrees still answers before the rest":             {s: safe, local: "1a 1a .", want: reply(0)},
		"a quorum that agrees wins over a newer minority":                {s: safe, local: "1a 1a 3b", want: reply(0)},
		"too few replies still fail with the first error":                {s: safe, local: "3b ! !", want: noQuorum(1)},
		"disagreeing replies wait for the last counted one":              {s: safe, local: "1a 3b .", want: wait},
		"DC_EACH_SAFE_QUORUM gives the local datacenter's newest":        {s: each, local: "1a 2b 1c", remote: "5x 5y 5z", want: reply(1)},
	} {
		t.Run(name, func(t *testing.T) {
			set := c.set()
			set.Versions = digitVersions{set}
			require.Equal(t, c.want, c.s.Decide(set, nil))
		})
	}
}
