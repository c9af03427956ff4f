// Command relay measures onertc's Collider relay against the original AppRTC Collider, side
// by side in one run, with real WebSocket clients on loopback, and, with -redis-server,
// onertc with its state in Redis (as several instances run) beside them:
//
//   - server CPU per delivered message and latency at paced loads (each socket of every room
//     sending a fixed number of 200-byte messages a second to the other);
//   - saturation throughput (every socket keeps a window of messages in flight);
//   - RSS growth per idle registered socket.
//
// Each scenario runs on a fresh server process, pinned to its own CPU (-server-cpu) while the
// load generator runs on another (scripts/bench-relay pins it), and is repeated -runs times,
// onertc and the Collider interleaved; server CPU comes from /proc/PID/stat. Every message
// carries a sequence number: a run with a lost, duplicated or reordered message fails.
//
//	go run ./bench/relay -onertc bin/onertc [-redis-server redis-server] [-collider /path/to/collider]
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"
)

type scenario struct {
	name string
	run  func(t target, p *process, prof *profiler) (outcome, error)
	// metrics lists what the report shows of the outcome.
	metrics []metric
}

type metric struct {
	name string
	get  func(outcome) float64
	unit string
	// higherBetter flips nothing in the ratio; it only says which way is better.
	higherBetter bool
}

var (
	cpuMetric = metric{"server CPU per message", func(o outcome) float64 { return float64(o.cpuPerMsg) / 1e3 }, "µs", false}
	p50Metric = metric{"latency p50", func(o outcome) float64 { return float64(o.p50) / 1e3 }, "µs", false}
	p99Metric = metric{"latency p99", func(o outcome) float64 { return float64(o.p99) / 1e3 }, "µs", false}
	tpMetric  = metric{"throughput", func(o outcome) float64 { return o.msgsPerSec }, "msg/s", true}
	rssMetric = metric{"RSS growth per socket", func(o outcome) float64 { return o.rssPerSocket }, "KiB", false}
)

func main() {
	onertcBin := flag.String("onertc", "bin/onertc", "onertc binary to measure")
	colliderBin := flag.String("collider", "", "original Collider binary to measure beside it (empty: onertc alone)")
	redisServer := flag.String("redis-server", "", "redis-server to measure onertc in Redis mode with too, a fresh one per run on the load generator's CPU (empty: memory mode only)")
	runs := flag.Int("runs", 3, "runs of every scenario")
	duration := flag.Duration("duration", 10*time.Second, "length of each paced and saturation run")
	idle := flag.Int("idle", 10000, "idle registered sockets for the memory scenario (0: skip)")
	serverCPU := flag.Int("server-cpu", 0, "CPU the servers are pinned to with taskset (-1: not pinned)")
	only := flag.String("only", "", "comma-separated scenario numbers to run (1-4; empty: all)")
	profileDir := flag.String("profile", "", "write CPU profiles here: the load generator's and onertc's (first run of each scenario)")
	flag.Parse()

	targets := []target{onertcTarget(*onertcBin)}
	if *redisServer != "" {
		targets = append(targets, onertcRedisTarget(*onertcBin, *redisServer))
	}
	if *colliderBin != "" {
		targets = append(targets, colliderTarget(*colliderBin))
	}
	d := *duration
	scenarios := []scenario{
		{"100 rooms × 20 msg/s each way", func(t target, p *process, prof *profiler) (outcome, error) {
			return paced(t, p, 100, 20, d, prof)
		}, []metric{cpuMetric, p50Metric, p99Metric}},
		{"1,000 rooms × 2 msg/s each way", func(t target, p *process, prof *profiler) (outcome, error) {
			return paced(t, p, 1000, 2, d, prof)
		}, []metric{cpuMetric, p50Metric, p99Metric}},
		{"saturation, 100 rooms, 32 in flight each way", func(t target, p *process, prof *profiler) (outcome, error) {
			return saturation(t, p, 100, 32, d, prof)
		}, []metric{tpMetric, cpuMetric}},
	}
	if *idle > 0 {
		n := *idle
		scenarios = append(scenarios, scenario{fmt.Sprintf("%d idle registered sockets", n), func(t target, p *process, _ *profiler) (outcome, error) {
			return idleSockets(t, p, n)
		}, []metric{rssMetric}})
	}
	if *only != "" {
		var keep []scenario
		for _, f := range strings.Split(*only, ",") {
			i, err := strconv.Atoi(f)
			if err != nil || i < 1 || i > len(scenarios) {
				log.Fatalf("-only: no scenario %q", f)
			}
			keep = append(keep, scenarios[i-1])
		}
		scenarios = keep
	}
	if *profileDir != "" {
		f, err := os.Create(*profileDir + "/loadgen.pprof")
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if err := run(targets, scenarios, *runs, *serverCPU, *profileDir); err != nil {
		pprof.StopCPUProfile()
		log.Fatal(err)
	}
}

// results[scenario][target] holds one outcome per run.
func run(targets []target, scenarios []scenario, runs, cpu int, profileDir string) error {
	results := make([][][]outcome, len(scenarios))
	for i := range results {
		results[i] = make([][]outcome, len(targets))
	}
	var relayLat []string
	for r := range runs {
		for si, sc := range scenarios {
			for ti, t := range targets { // interleaved: the machine's load drifts
				prof := &profiler{dir: profileDir, label: fmt.Sprintf("%s-%d", t.name, si+1)}
				var extra []string
				if profileDir != "" && r == 0 && t.name != "Collider" {
					port, err := freePort()
					if err != nil {
						return err
					}
					prof.addr = "127.0.0.1:" + strconv.Itoa(port)
					extra = []string{"-pprof", prof.addr}
				}
				p, err := t.start(cpu, extra...)
				if err != nil {
					return err
				}
				o, err := sc.run(t, p, prof)
				p.stop()
				if err != nil {
					return fmt.Errorf("%s, %s, run %d: %w", t.name, sc.name, r+1, err)
				}
				fmt.Fprintf(os.Stderr, "run %d %-45s %-8s %s\n", r+1, sc.name, t.name, describe(sc, o))
				if o.relayP50 != "" && si == 0 {
					relayLat = append(relayLat, fmt.Sprintf("%s run %d: p50 %s, p99 %s", t.name, r+1, o.relayP50, o.relayP99))
				}
				results[si][ti] = append(results[si][ti], o)
			}
		}
	}
	report(targets, scenarios, results, relayLat)
	return nil
}

func describe(sc scenario, o outcome) string {
	var parts []string
	for _, m := range sc.metrics {
		parts = append(parts, fmt.Sprintf("%s %.1f %s", m.name, m.get(o), m.unit))
	}
	return strings.Join(parts, ", ") + fmt.Sprintf(" (%d delivered)", o.delivered)
}

// report prints the markdown table: min / median / max per target, and, when the Collider
// ran too, the ratio of each onertc target's median to the Collider's.
func report(targets []target, scenarios []scenario, results [][][]outcome, relayLat []string) {
	anchor := -1
	for ti, t := range targets {
		if t.name == "Collider" {
			anchor = ti
		}
	}
	header := "| scenario | measure |"
	rule := "|---|---|"
	for _, t := range targets {
		header += " " + t.name + " min / median / max |"
		rule += "---:|"
	}
	for ti, t := range targets {
		if anchor >= 0 && ti != anchor {
			header += " " + t.name + " / Collider (medians) |"
			rule += "---:|"
		}
	}
	fmt.Println(header)
	fmt.Println(rule)
	for si, sc := range scenarios {
		for _, m := range sc.metrics {
			line := fmt.Sprintf("| %s | %s (%s) |", sc.name, m.name, m.unit)
			var medians []float64
			for ti := range targets {
				var vs []float64
				for _, o := range results[si][ti] {
					vs = append(vs, m.get(o))
				}
				slices.Sort(vs)
				med := vs[len(vs)/2]
				medians = append(medians, med)
				line += fmt.Sprintf(" %s / **%s** / %s |", num(vs[0]), num(med), num(vs[len(vs)-1]))
			}
			for ti := range targets {
				if anchor < 0 || ti == anchor {
					continue
				}
				ratio := medians[ti] / medians[anchor]
				better := ratio < 1
				if m.higherBetter {
					better = ratio > 1
				}
				word := "worse"
				if better {
					word = "better"
				}
				line += fmt.Sprintf(" %.2f (%s) |", ratio, word)
			}
			fmt.Println(line)
		}
	}
	if len(relayLat) > 0 {
		fmt.Printf("\nonertc's own delivery-latency histogram (onertc_relay_delivery_seconds, from the message read off its queue to its write on the recipient's socket) at 100 rooms × 20 msg/s, bucket bounds: %s.\n", strings.Join(relayLat, "; "))
	}
}

func num(v float64) string {
	if v >= 1000 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}
