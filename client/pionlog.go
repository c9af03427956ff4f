//go:build !js

package client

import (
	"log/slog"

	"github.com/pion/logging"

	"github.com/onertc/onertc/internal/pionlog"
)

// PionLoggerFactory routes pion's logs to log (by default pion prints to stdout, which
// would corrupt a bot's JSON output). pion's info level is chatty and goes to debug.
func PionLoggerFactory(log *slog.Logger) logging.LoggerFactory {
	return pionlog.Factory(log, pionlog.AsIs)
}
