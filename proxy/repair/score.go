package repair

import (
	"strconv"

	"github.com/dynomite-go/dynomite/proxy/hlc"
)

// fracSteps is the resolution of the counter in a score: see the package
// documentation (exact until the milliseconds pass 2^42).
const fracSteps = 2048

// Score is ts as a metadata score: its milliseconds plus its logical
// counter in 1/2048 steps, saturating at 2047/2048.
func Score(ts hlc.Timestamp) float64 {
	l := min(int(ts.Logical()), fracSteps-1)
	return float64(ts.Millis()) + float64(l)/fracSteps
}

// AppendScore appends a score as the decimal text Redis and Lua read back
// to the same float64 (the shortest such text).
func AppendScore(dst []byte, score float64) []byte {
	return strconv.AppendFloat(dst, score, 'f', -1, 64)
}
