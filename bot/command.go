//go:build !js

package bot

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/onertc/onertc/client"
	"github.com/onertc/onertc/internal/secretfile"
	"github.com/onertc/onertc/protocol"
)

// config is the parsed command line.
type config struct {
	opts         Options
	count        int
	groupSize    int  // bots per room
	group        bool // join with group=1 (implied by groupSize > 2)
	gopts        GroupOptions
	view         string
	verbose      bool
	passwordFile string
}

// parseFlags parses the command line; help goes to help. Command prints the other errors.
func parseFlags(args []string, help io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("bot", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {} // the flag package calls it on every error too; help is printed below
	fs.StringVar(&c.opts.Server, "server", "http://127.0.0.1:8080", "onertc server base URL")
	fs.StringVar(&c.opts.Room, "room", "", "room name (with --count N above --group-size K: rooms NAME-0 … NAME-(N/K-1))")
	fs.BoolVar(&c.opts.RelayOnly, "relay-only", false, "use only TURN relay candidates")
	fs.StringVar(&c.opts.Media, "media", MediaAV, "what to send: av (VP8+Opus+data) or data")
	fs.DurationVar(&c.opts.Duration, "duration", 30*time.Second, "stay this long after connecting (with --group-size above 2: to the SFU), then hang up (0: until interrupted)")
	fs.DurationVar(&c.opts.Timeout, "timeout", 30*time.Second, "fail when not connected (with --group-size above 2: to the SFU) within this time")
	fs.DurationVar(&c.opts.StatsEvery, "stats", 2*time.Second, "period of stats lines (negative: none)")
	fs.DurationVar(&c.opts.SilenceTimeout, "silence-timeout", client.DefaultSilenceTimeout, "start over on a fresh peer when the media path is silent this long (a TURN server died)")
	fs.DurationVar(&c.opts.ICEFailAfter, "ice-fail-after", DefaultICEFailAfter, "start over when the path is silent this long and pion reports it failed (calls without media, which --silence-timeout does not watch)")
	fs.IntVar(&c.count, "count", 1, "number of bots, --group-size per room")
	fs.IntVar(&c.groupSize, "group-size", 2, "bots per room (above 2: a group room on the server's SFU; the server's --room-size must allow it)")
	fs.BoolVar(&c.group, "group", false, "join as a group-capable client (group=1): move to the SFU when the room becomes a group room")
	fs.BoolVar(&c.gopts.Simulcast, "simulcast", false, "in group rooms, publish the video as three simulcast layers (q 160x120, h 320x240, f 640x480)")
	fs.StringVar(&c.gopts.Name, "name", "", "display name in group rooms (empty: the server makes one up)")
	fs.StringVar(&c.view, "view", "640x360", "tile size reported for every other participant in group rooms (WxH; 0x0: bandwidth alone decides)")
	fs.BoolVar(&c.opts.IncludeLoopback, "loopback", false, "also offer loopback host candidates (calls on one machine)")
	fs.BoolVar(&c.verbose, "verbose", false, "debug logs on stderr")
	fs.StringVar(&c.passwordFile, "password-file", "", "file holding the server's password on one line (a server in password mode)")
	fs.StringVar(&c.opts.Invite, "invite", "", "invite link to a room of a server in password mode (sets --server and --room)")
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(help, "usage: onertc bot --server URL --room NAME [flags]\n\n"+
			"Joins a room and takes part in a call with looping test video, audio and a data channel;\n"+
			"prints one JSON object per line. Exit status: 0 when every call worked, 1 when one\n"+
			"failed, 2 for bad usage.\n\nflags:")
		fs.SetOutput(help)
		fs.PrintDefaults()
		return c, err
	} else if err != nil {
		return c, err
	}
	if err := c.applyAccess(fs); err != nil {
		return c, err
	}
	switch {
	case fs.NArg() > 0:
		return c, fmt.Errorf("%w: unexpected argument %q", ErrBadOptions, fs.Arg(0))
	case !protocol.ValidID(c.opts.Room) || len(c.opts.Room) > protocol.MaxIDLen-8:
		return c, fmt.Errorf("%w: --room %q: want 1-%d of [a-zA-Z0-9_-]", ErrBadOptions, c.opts.Room, protocol.MaxIDLen-8)
	case c.count < 1:
		return c, fmt.Errorf("%w: --count %d", ErrBadOptions, c.count)
	case c.opts.Media != MediaAV && c.opts.Media != MediaData:
		return c, fmt.Errorf("%w: --media %q: want av or data", ErrBadOptions, c.opts.Media)
	case c.groupSize < 2 || c.groupSize > protocol.MaxGroupSize:
		return c, fmt.Errorf("%w: --group-size %d: want 2-%d", ErrBadOptions, c.groupSize, protocol.MaxGroupSize)
	case c.gopts.Name != "" && !protocol.ValidName(c.gopts.Name):
		return c, fmt.Errorf("%w: --name %q", ErrBadOptions, c.gopts.Name)
	}
	if c.groupSize > 2 {
		c.group = true
		c.gopts.OnSFU = true
	}
	if _, err := fmt.Sscanf(c.view, "%dx%d", &c.gopts.ViewWidth, &c.gopts.ViewHeight); err != nil ||
		c.gopts.ViewWidth < 0 || c.gopts.ViewHeight < 0 || c.view != fmt.Sprintf("%dx%d", c.gopts.ViewWidth, c.gopts.ViewHeight) {
		return c, fmt.Errorf("%w: --view %q: want WIDTHxHEIGHT", ErrBadOptions, c.view)
	}
	if c.group && c.opts.Media == MediaData {
		return c, fmt.Errorf("%w: --group needs --media av (the SFU forwards no data channel)", ErrBadOptions)
	}
	return c, nil
}

// Command runs `onertc bot ARGS`; it returns the process exit code: 0 when every bot's call
// worked, 1 when one failed, 2 for bad usage.
func Command(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "onertc bot:", err)
		fmt.Fprintln(stderr, "onertc bot --help lists the flags")
		return 2
	}
	level := slog.LevelWarn
	if cfg.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	rec := NewRecorder(stdout)
	var errs []error
	if cfg.group {
		errs = RunGroups(ctx, cfg.opts, cfg.gopts, cfg.count, cfg.groupSize, rec, log)
	} else {
		errs = RunMany(ctx, cfg.opts, cfg.count, rec, log)
	}
	failed := 0
	for i, err := range errs {
		if err != nil {
			failed++
			log.Error("bot failed", "bot", i, "err", err)
		}
	}
	if failed > 0 {
		fmt.Fprintf(stderr, "onertc bot: %d of %d calls failed\n", failed, len(errs))
		return 1
	}
	return 0
}

// RunMany runs count bots from base; with count > 1 bot i joins room "<Room>-<i/2>". It
// returns each bot's error.
func RunMany(ctx context.Context, base Options, count int, rec *Recorder, log *slog.Logger) []error {
	return runMany(ctx, base, count, 2, rec, log, func(o Options) (runner, error) { return New(o) })
}

// RunGroups runs count group-capable bots, size to a room: with count > size, bot i
// joins room "<Room>-<i/size>". It returns each bot's error.
func RunGroups(ctx context.Context, base Options, g GroupOptions, count, size int, rec *Recorder, log *slog.Logger) []error {
	return runMany(ctx, base, count, size, rec, log, func(o Options) (runner, error) { return NewGroup(o, g) })
}

// runner is a Bot or a GroupBot.
type runner interface {
	Run(ctx context.Context) (Summary, error)
}

func runMany(ctx context.Context, base Options, count, size int, rec *Recorder, log *slog.Logger,
	newBot func(Options) (runner, error)) []error {
	errs := make([]error, count)
	var wg sync.WaitGroup
	for i := range count {
		o := base
		o.Index, o.Output, o.Logger = i, rec, log
		if count > size || (size == 2 && count > 1) {
			o.Room = fmt.Sprintf("%s-%d", base.Room, i/size)
		}
		b, err := newBot(o)
		if err != nil {
			errs[i] = err
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = b.Run(ctx)
		}()
		// Stagger the two bots of a room so the first is the initiator, and spread load; the
		// bots of a group room further, so the first two have their call before the third
		// turns it into a group.
		if count > 1 {
			stagger := 20 * time.Millisecond
			if size > 2 {
				stagger = 250 * time.Millisecond
			}
			select {
			case <-time.After(stagger):
			case <-ctx.Done():
			}
		}
	}
	wg.Wait()
	return errs
}

// applyAccess reads --password-file and takes --server and --room from --invite.
func (c *config) applyAccess(fs *flag.FlagSet) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if c.passwordFile != "" && c.opts.Invite != "" {
		return fmt.Errorf("%w: --password-file and --invite: give one", ErrBadOptions)
	}
	if c.passwordFile != "" {
		p, err := secretfile.Read("--password-file", "password", c.passwordFile)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrBadOptions, err)
		}
		c.opts.Password = p
	}
	if c.opts.Invite == "" {
		return nil
	}
	u, err := url.Parse(c.opts.Invite)
	if err != nil {
		return fmt.Errorf("%w: --invite %q: %w", ErrBadOptions, c.opts.Invite, err)
	}
	room, ok := strings.CutPrefix(u.Path, "/r/")
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || !ok || u.Query().Get("invite") == "" {
		return fmt.Errorf("%w: --invite %q: want https://HOST/r/ROOM?invite=...", ErrBadOptions, c.opts.Invite)
	}
	if set["count"] && c.count != 1 {
		return fmt.Errorf("%w: --invite admits one room: --count must be 1", ErrBadOptions)
	}
	if set["server"] || set["room"] {
		return fmt.Errorf("%w: --invite sets the server and the room: leave out --server and --room", ErrBadOptions)
	}
	c.opts.Server, c.opts.Room = u.Scheme+"://"+u.Host, room
	return nil
}
