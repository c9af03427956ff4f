//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package turn

import "syscall"

const reusePortSupported = false

func reusePortControl(_, _ string, _ syscall.RawConn) error { return nil }
