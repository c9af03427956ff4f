//go:build !js

package client

import "crypto/sha256"

func sha256Sum(data []byte) ([32]byte, error) { return sha256.Sum256(data), nil }
