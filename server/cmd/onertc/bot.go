package main

import (
	"context"
	"io"

	"github.com/onertc/onertc/bot"
)

// botCommand is `onertc bot`: a headless pion peer that takes part in a call.
func botCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return bot.Command(ctx, args, stdout, stderr)
}
