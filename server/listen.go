package server

import (
	"fmt"
	"net"
)

// Listen opens the sockets cfg names.
func Listen(cfg Config) (Listeners, error) {
	var ls Listeners
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return ls, fmt.Errorf("listen http %s: %w", cfg.HTTPAddr, err)
	}
	ls.HTTP = ln
	return ls, nil
}
