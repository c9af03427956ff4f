// Package e2e holds the end-to-end tests of onertc: they start a real server in the test
// process (or as a subprocess of the test binary) on ephemeral ports and drive whole calls
// between headless pion bots, directly and through the built-in TURN relay.
package e2e
