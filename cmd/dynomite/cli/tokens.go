package cli

import (
	"fmt"
	"strconv"
)

// Balanced returns one token per node for n nodes of a rack, spread evenly
// over the ring 0..2^32-1: node i gets floor(i * 2^32 / n). A node owns the
// keys whose token is above its predecessor's and up to its own (upstream's
// vnode_dispatch), so each owns 2^32/n of the ring, give or take one.
func Balanced(n int) []uint32 {
	out := make([]uint32, n)
	for i := range out {
		out[i] = uint32(uint64(i) << 32 / uint64(n))
	}
	return out
}

// tokensNode is one line of `dynomite tokens -o json`.
type tokensNode struct {
	Rack   string `json:"rack"`
	Node   int    `json:"node"`
	Tokens string `json:"tokens"`
}

// runTokens prints balanced tokens for N nodes per rack; every rack holds a
// full copy of the data on a ring of its own, so each rack takes the same
// tokens.
func runTokens(e *env, args []string) int {
	racks := e.fs.Int("racks", 1, "racks (each a full copy, with the same tokens)")
	pos, ok := e.parse(args, 1, "N [--racks R]")
	if !ok {
		return 2
	}
	n, err := strconv.Atoi(pos[0])
	if err != nil || n < 1 || n > 1<<16 {
		fmt.Fprintf(e.stderr, "dynomite tokens: N must be a number of nodes per rack between 1 and 65536, got %q\n", pos[0])
		return 2
	}
	if *racks < 1 || *racks > 1024 {
		fmt.Fprintf(e.stderr, "dynomite tokens: --racks must be between 1 and 1024, got %d\n", *racks)
		return 2
	}
	var out []tokensNode
	for r := 1; r <= *racks; r++ {
		for i, t := range Balanced(n) {
			out = append(out, tokensNode{Rack: "rack" + strconv.Itoa(r), Node: i + 1, Tokens: strconv.FormatUint(uint64(t), 10)})
		}
	}
	if e.output == "json" {
		return e.printJSON(out)
	}
	fmt.Fprintf(e.stdout, "# %d node(s) per rack over 0..4294967295; every rack takes the same tokens\n", n)
	for _, x := range out {
		if x.Node == 1 {
			fmt.Fprintf(e.stdout, "# %s\n", x.Rack)
		}
		fmt.Fprintf(e.stdout, "%s-node%d:\n  tokens: '%s'\n", x.Rack, x.Node, x.Tokens)
	}
	return 0
}
