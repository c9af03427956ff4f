package turn

import "errors"

// Sentinel errors. Callers test them with errors.Is; messages are wrapped with context.
var (
	// ErrInvalidConfig is wrapped by every Config.Validate failure.
	ErrInvalidConfig = errors.New("invalid TURN config")
	// ErrBadCIDR is returned by ParseCIDRs for an entry that is not a CIDR or an address.
	ErrBadCIDR = errors.New("invalid CIDR")
	// ErrMalformedUsername means a TURN REST username is not "<unix expiry>[:<user>]".
	ErrMalformedUsername = errors.New("malformed TURN username")
	// ErrBadTimestamp means the expiry part of a TURN REST username is not a unix time.
	ErrBadTimestamp = errors.New("non-numeric or out-of-range expiry in TURN username")
	// ErrNoRelayPort means no free port was found in the relay port range.
	ErrNoRelayPort = errors.New("no free relay port")
	// ErrTCPRelay means a client asked for an RFC 6062 TCP relay, which is not supported.
	ErrTCPRelay = errors.New("TCP relay allocations are not supported")
	// ErrBadRequest is wrapped by REST parameter errors (HTTP 400).
	ErrBadRequest = errors.New("bad request")
	// ErrForbidden is wrapped by REST API-key errors (HTTP 403).
	ErrForbidden = errors.New("forbidden")
	// ErrMethod is returned for a REST request with the wrong HTTP method (HTTP 405).
	ErrMethod = errors.New("method not allowed")
)
