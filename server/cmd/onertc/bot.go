package main

import (
	"context"
	"fmt"
	"io"
)

func botCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "onertc bot: not built yet")
	return 2
}
