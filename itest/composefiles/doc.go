// Package composefiles holds no code: its tests load every compose file of
// compose/ with compose-go (the loader of docker compose v2) and check what
// the files promise (services, healthchecks, depends_on conditions,
// pull_policy, ports on 127.0.0.1, variable defaults and overrides). They
// need no Docker daemon and are not gated by the itest TestMain, which lives
// in package itest:
//
//	cd itest && go test -count=1 ./composefiles/
package composefiles
