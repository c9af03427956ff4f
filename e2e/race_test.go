//go:build race && !js

package e2e

// raceEnabled: the race detector slows pion 5–10×, and 100 bots in one process under it
// measure the detector, not the server; make test runs the load test in a build without it.
const raceEnabled = true
