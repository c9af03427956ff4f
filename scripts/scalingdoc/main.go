// Command scalingdoc fills docs/scaling.md's figures from the benchmarks' recorded results
// (bench/shared/RESULTS.md, bench/relay/RESULTS.md), so the capacity model cannot drift from
// what was measured. Each figure in the page sits between <!--fig NAME--> and <!--/fig-->;
// the command rewrites what is between them. scripts/bench-collect runs it after make bench;
// -check only reports a page that differs (its test runs that on the repository).
//
//	go run ./scripts/scalingdoc [-check] [-root .]
package main

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

func main() {
	check := flag.Bool("check", false, "fail when docs/scaling.md differs from what the results give, write nothing")
	root := flag.String("root", ".", "the repository")
	flag.Parse()
	if err := run(*root, *check); err != nil {
		fmt.Fprintln(os.Stderr, "scalingdoc:", err)
		os.Exit(1)
	}
}

func run(root string, check bool) error {
	shared, err := os.ReadFile(filepath.Join(root, "bench", "shared", "RESULTS.md"))
	if err != nil {
		return fmt.Errorf("read the shared-state results: %w", err)
	}
	relay, err := os.ReadFile(filepath.Join(root, "bench", "relay", "RESULTS.md"))
	if err != nil {
		return fmt.Errorf("read the relay results: %w", err)
	}
	figs, err := figures(string(shared), string(relay))
	if err != nil {
		return err
	}
	path := filepath.Join(root, "docs", "scaling.md")
	page, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read the page: %w", err)
	}
	out, err := fill(string(page), figs)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if out == string(page) {
		return nil
	}
	if check {
		return fmt.Errorf("%s differs from the figures of bench/shared and bench/relay: run go run ./scripts/scalingdoc", path)
	}
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		return fmt.Errorf("write the page: %w", err)
	}
	return nil
}

var marker = regexp.MustCompile(`<!--fig ([a-z0-9.-]+)-->(.*?)<!--/fig-->`)

// fill replaces every marked figure; a marker naming no known figure is an error, and so is
// a known figure the page does not use (the page would have stopped quoting a measurement).
func fill(page string, figs map[string]string) (string, error) {
	var errs []error
	used := map[string]bool{}
	out := marker.ReplaceAllStringFunc(page, func(m string) string {
		name := marker.FindStringSubmatch(m)[1]
		v, ok := figs[name]
		if !ok {
			errs = append(errs, fmt.Errorf("figure %q: no such figure", name))
			return m
		}
		used[name] = true
		return "<!--fig " + name + "-->" + v + "<!--/fig-->"
	})
	for name := range figs {
		if !used[name] {
			errs = append(errs, fmt.Errorf("figure %q is not in the page", name))
		}
	}
	return out, errors.Join(errs...)
}

// stats is a recorded min / median / max.
type stats struct{ min, med, max float64 }

// triple parses "a / b / c", the medians possibly in bold.
func triple(s string) (stats, error) {
	parts := strings.Split(strings.ReplaceAll(s, "*", ""), "/")
	if len(parts) != 3 {
		return stats{}, fmt.Errorf("%q: want min / median / max", s)
	}
	var v [3]float64
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.ReplaceAll(strings.TrimSpace(p), ",", ""), 64)
		if err != nil {
			return stats{}, fmt.Errorf("%q: %w", s, err)
		}
		v[i] = f
	}
	return stats{v[0], v[1], v[2]}, nil
}

// row returns the cells of the first table row whose cells start with the given ones and
// that has n cells.
func row(md string, n int, first ...string) ([]string, error) {
	for _, line := range strings.Split(md, "\n") {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if len(cells) != n {
			continue
		}
		match := true
		for i, f := range first {
			match = match && strings.HasPrefix(cells[i], f)
		}
		if match {
			return cells, nil
		}
	}
	return nil, fmt.Errorf("no row %q of %d cells", strings.Join(first, " | "), n)
}

var perRoom = regexp.MustCompile(`redis-bytes/room \(min / median / max\): ([0-9.]+ / [0-9.]+ / [0-9.]+)`)

// figures computes every figure the page quotes.
func figures(shared, relay string) (map[string]string, error) {
	var errs []error
	cell := func(md string, n, col int, first ...string) stats {
		r, err := row(md, n, first...)
		if err != nil {
			errs = append(errs, err)
			return stats{}
		}
		s, err := triple(r[col])
		if err != nil {
			errs = append(errs, fmt.Errorf("row %q: %w", strings.Join(first, " | "), err))
		}
		return s
	}
	redisP50 := cell(shared, 5, 1, "redis")
	memoryP50 := cell(shared, 5, 1, "memory")
	roundTrips := cell(shared, 5, 3, "redis")
	redisCPU := cell(shared, 5, 4, "redis")
	redisJoins := cell(shared, 2, 1, "redis")
	memoryJoins := cell(shared, 2, 1, "memory")
	const cpuRow = "server CPU per message (µs)"
	relayMem100 := cell(relay, 7, 2, "100 rooms × 20", cpuRow)
	relayMem1000 := cell(relay, 7, 2, "1,000 rooms × 2", cpuRow)
	relayRedis100 := cell(relay, 7, 3, "100 rooms × 20", cpuRow)
	relayRedis1000 := cell(relay, 7, 3, "1,000 rooms × 2", cpuRow)
	var room stats
	if m := perRoom.FindStringSubmatch(shared); m == nil {
		errs = append(errs, errors.New("bench/shared/RESULTS.md has no redis-bytes/room line: run scripts/bench-shared"))
	} else if s, err := triple(m[1]); err != nil {
		errs = append(errs, err)
	} else {
		room = s
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	// One shard: Redis runs scripts on one core; half of it for headroom; an AppRTC call
	// start is about 30 messages.
	const perCall = 30
	shardMsgs := 1e6 / redisCPU.med
	halfMsgs := shardMsgs / 2
	starts := halfMsgs / perCall
	// An instance's own CPU per message under load: onertc and Redis together, less Redis.
	togetherLo, togetherHi := math.Min(relayRedis100.med, relayRedis1000.med), math.Max(relayRedis100.med, relayRedis1000.med)
	ownLo, ownHi := togetherLo-redisCPU.max, togetherHi-redisCPU.min
	coreMsgs := 1e6 / ((ownLo + ownHi) / 2)
	// 1 M rooms turning over every 10 minutes.
	tenMinMsgs := 1e6 / 600 * perCall
	return map[string]string{
		"rt":              fmt.Sprintf("%.1f", roundTrips.med),
		"redis-cpu":       span(redisCPU.min, redisCPU.max, 1),
		"redis-cpu-med":   fmt.Sprintf("%.0f", redisCPU.med),
		"p50-redis":       fmt.Sprintf("%.2f–%.2f", redisP50.min/1000, redisP50.max/1000),
		"p50-memory":      fmt.Sprintf("%.2f", memoryP50.med/1000),
		"p50-extra":       fmt.Sprintf("%.2f", (redisP50.med-memoryP50.med)/1000),
		"joins-redis":     span(redisJoins.min, redisJoins.max, 100),
		"joins-memory":    span(memoryJoins.min, memoryJoins.max, 100),
		"joins-redis-ms":  fmt.Sprintf("%.1f", 1000/redisJoins.med),
		"load-together":   span(togetherLo, togetherHi, 1),
		"load-memory":     span(math.Min(relayMem100.med, relayMem1000.med), math.Max(relayMem100.med, relayMem1000.med), 1),
		"load-own":        span(ownLo, ownHi, 1),
		"core-msgs":       group(coreMsgs, 100),
		"core-starts":     group(coreMsgs/perCall, 10),
		"shard-msgs":      group(shardMsgs, 1000),
		"shard-half":      group(halfMsgs, 100),
		"shard-starts":    group(starts, 10),
		"shard-hour":      fmt.Sprintf("%.1f million", starts*3600/1e6),
		"room-bytes":      fmt.Sprintf("%.2f KB", room.med/1000),
		"room-bytes-span": span(room.min, room.max, 1),
		"shard-rooms":     fmt.Sprintf("%.1f million", 4e9/room.med/1e6),
		"million-rooms":   fmt.Sprintf("%.1f GB", 1e6*room.med/1e9),
		"hour-fits":       yesNo(1e6/3600*perCall <= halfMsgs, "one shard at half load suffices", "one shard at half load does not suffice"),
		"ten-min-shards":  fmt.Sprintf("%.0f", math.Ceil(tenMinMsgs/halfMsgs)),
	}, nil
}

// group rounds v to a multiple of unit and writes it with spaces between thousands.
func group(v, unit float64) string {
	s := strconv.FormatInt(int64(math.Round(v/unit)*unit), 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + " " + s[i:]
	}
	return s
}

// span is "lo–hi" rounded to unit, or one number when both round alike.
func span(lo, hi, unit float64) string {
	a, b := group(lo, unit), group(hi, unit)
	if a == b {
		return a
	}
	return a + "–" + b
}

func yesNo(ok bool, yes, no string) string {
	if ok {
		return yes
	}
	return no
}
