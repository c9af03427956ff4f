package main

import (
	"strings"
	"testing"
)

// The committed page quotes exactly what the committed results give: a benchmark re-run
// without refilling the page, or a figure edited by hand, fails here.
func TestScalingDocMatchesTheRecordedResults(t *testing.T) {
	if err := run("../..", true); err != nil {
		t.Fatal(err)
	}
}

func TestFill(t *testing.T) {
	figs := map[string]string{"a": "1.5", "b": "2 000"}
	tests := []struct {
		name, page, want, err string
	}{
		{"fills every marker", "x <!--fig a-->old<!--/fig--> y <!--fig b--><!--/fig--> <!--fig a-->9<!--/fig-->",
			"x <!--fig a-->1.5<!--/fig--> y <!--fig b-->2 000<!--/fig--> <!--fig a-->1.5<!--/fig-->", ""},
		{"unknown figure", "<!--fig a-->1<!--/fig--><!--fig b-->2<!--/fig--><!--fig c-->3<!--/fig-->", "", `figure "c": no such figure`},
		{"figure the page dropped", "<!--fig a-->1<!--/fig-->", "", `figure "b" is not in the page`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := fill(tt.page, figs)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("fill = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestFiguresFromResults(t *testing.T) {
	shared := `| mode | p50 | p99 | rt | cpu |
|---|---|---|---|---|
| redis | 250.0 / 280.0 / 300.0 | 1 / 2 / 3 | 3.009 / 3.010 / 3.011 | 40.0 / 50.0 / 60.0 |
| memory | 30 / 40 / 50 | 1 / 2 / 3 | 0 / 0 / 0 | 0 / 0 / 0 |

| mode | joins/s |
|---|---|
| redis | 1890 / 2000 / 2110 |
| memory | 8760 / 10000 / 12210 |

Redis memory …, redis-bytes/room (min / median / max): 1000 / 1100 / 1200
`
	relay := `| scenario | measure | onertc | redis | collider | r1 | r2 |
| 100 rooms × 20 msg/s each way | p50 latency | 1 / 2 / 3 | 1 / 2 / 3 | 1 / 2 / 3 | 1 | 1 |
| 100 rooms × 20 msg/s each way | server CPU per message (µs) | 39.5 / **40.0** / 47.8 | 245.3 / **250.0** / 289.0 | 1 / 2 / 3 | 1 | 1 |
| 1,000 rooms × 2 msg/s each way | server CPU per message (µs) | 43.3 / **50.0** / 51.4 | 246.1 / **260.0** / 326.2 | 1 / 2 / 3 | 1 | 1 |
`
	figs, err := figures(shared, relay)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"rt": "3.0", "redis-cpu": "40–60", "redis-cpu-med": "50", "p50-redis": "0.25–0.30", "p50-memory": "0.04",
		"p50-extra": "0.24", "joins-redis": "1 900–2 100", "joins-memory": "8 800–12 200", "joins-redis-ms": "0.5",
		"load-together": "250–260", "load-memory": "40–50", "load-own": "190–220", "core-msgs": "4 900",
		"core-starts": "160", "shard-msgs": "20 000", "shard-half": "10 000", "shard-starts": "330",
		"shard-hour": "1.2 million", "room-bytes": "1.10 KB", "room-bytes-span": "1 000–1 200",
		"shard-rooms": "3.6 million", "million-rooms": "1.1 GB", "hour-fits": "one shard at half load suffices",
		"ten-min-shards": "5",
	}
	for k, v := range want {
		if figs[k] != v {
			t.Errorf("%s = %q, want %q", k, figs[k], v)
		}
	}
	if len(figs) != len(want) {
		t.Errorf("%d figures, want %d", len(figs), len(want))
	}
	if _, err := figures(strings.ReplaceAll(shared, "redis-bytes/room", "x"), relay); err == nil {
		t.Error("results without the memory line: no error")
	}
	if _, err := figures(shared, ""); err == nil {
		t.Error("no relay results: no error")
	}
}
