package config

import (
	"strconv"
	"strings"
)

// Problem is one thing wrong with a configuration.
type Problem struct {
	// Line is the 1-based line in the file, or 0 when the problem concerns
	// the whole file (a missing key) or a Config built in code.
	Line int
	// Key is the key concerned; "" for problems of the file's structure.
	Key string
	// Value is the offending value as written; "" when there is none.
	Value string
	// Msg says what is wrong, e.g. `is not a number`.
	Msg string
}

// String formats the problem without a file name, e.g.
// `line 7: timeout: "abc" is not a number`.
func (p Problem) String() string { return p.format("") }

// format renders `file:line: key: "value" msg`, leaving out the parts that
// are empty.
func (p Problem) format(file string) string {
	var b strings.Builder
	switch {
	case file != "" && p.Line > 0:
		b.WriteString(file + ":" + strconv.Itoa(p.Line) + ": ")
	case file != "":
		b.WriteString(file + ": ")
	case p.Line > 0:
		b.WriteString("line " + strconv.Itoa(p.Line) + ": ")
	}
	if p.Key != "" {
		b.WriteString(p.Key + ": ")
	}
	if p.Value != "" {
		b.WriteString(strconv.Quote(p.Value) + " ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Errors is every problem found in one configuration. Parse, Load and
// Validate return it, so that `dynomite -t` can print all of them at once.
type Errors struct {
	// File is the file name given to Parse or Load; "" for Validate.
	File string
	// Problems is never empty, ordered by line with whole-file problems last.
	Problems []Problem
}

// Error lists the problems one per line, e.g.
// `node.yml:7: timeout: "abc" is not a number`.
func (e *Errors) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.format(e.File)
	}
	return strings.Join(lines, "\n")
}
