//go:build race

package terraform_test

// raceEnabled: the test binary was built with -race.
const raceEnabled = true
