package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestLatHistPercentiles(t *testing.T) {
	us := func(n int) time.Duration { return time.Duration(n) * time.Microsecond }
	shuffled := func(ds []time.Duration) []time.Duration {
		r := rand.New(rand.NewPCG(1, 2))
		r.Shuffle(len(ds), func(i, j int) { ds[i], ds[j] = ds[j], ds[i] })
		return ds
	}
	var uniform, tail, small []time.Duration
	for i := 1; i <= 1000; i++ {
		uniform = append(uniform, us(i)) // 1 µs .. 1 ms
	}
	for i := range 990 {
		tail = append(tail, us(20+i%10)) // most at 20-29 µs ...
	}
	for range 10 {
		tail = append(tail, 5*time.Millisecond) // ... and 1 % stuck behind a 5 ms stall
	}
	for i := range latSub {
		small = append(small, time.Duration(i)) // under latSub ns: one bucket each, exact
	}
	tests := []struct {
		name     string
		samples  []time.Duration
		q        float64
		want     time.Duration
		relError float64 // the bucket's half width
	}{
		{"uniform p50", uniform, 0.50, us(500), 1.0 / 64},
		{"uniform p99", uniform, 0.99, us(990), 1.0 / 64},
		{"uniform max", uniform, 1, us(1000), 1.0 / 64},
		{"tail p50 is the bulk", tail, 0.50, us(25), 1.0 / 64},
		{"tail p99 is still the bulk", tail, 0.99, us(29), 1.0 / 64},
		{"tail p99.5 is the stall", tail, 0.995, 5 * time.Millisecond, 1.0 / 64},
		{"small exact p50", small, 0.5, 15, 0},
		{"one sample", []time.Duration{us(42)}, 0.99, us(42), 1.0 / 64},
		{"negative counts as zero", []time.Duration{-time.Second}, 0.5, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h latHist
			for _, d := range shuffled(slices.Clone(tt.samples)) {
				h.record(d)
			}
			got, ok := h.percentile(tt.q)
			if !ok {
				t.Fatalf("percentile(%v) of %d samples: no samples", tt.q, len(tt.samples))
			}
			if diff := math.Abs(float64(got - tt.want)); diff > tt.relError*float64(tt.want) {
				t.Errorf("percentile(%v) = %v, want %v within %.1f %%", tt.q, got, tt.want, 100*tt.relError)
			}
		})
	}
}

func TestLatHistEmpty(t *testing.T) {
	var h latHist
	if d, ok := h.percentile(0.5); ok {
		t.Fatalf("percentile of no samples = %v, ok; want not ok", d)
	}
}

// Every value falls in a bucket whose bounds hold it, and buckets follow each other.
func TestLatBuckets(t *testing.T) {
	values := []uint64{0, 1, latSub - 1, latSub, latSub + 1, 2*latSub - 1, 2 * latSub, 1000, 25_000, 1e9, math.MaxUint64}
	for _, v := range values {
		i := latBucket(v)
		if i < 0 || i >= latBuckets {
			t.Fatalf("latBucket(%d) = %d, outside 0..%d", v, i, latBuckets-1)
		}
		lo, w := latBounds(i)
		if v < lo || v-lo >= w {
			t.Errorf("latBucket(%d) = %d with bounds [%d, %d+%d): value outside", v, i, lo, lo, w)
		}
	}
	for i := 1; i < latBuckets; i++ {
		lo, _ := latBounds(i)
		plo, pw := latBounds(i - 1)
		if plo+pw != lo {
			t.Fatalf("bucket %d starts at %d, bucket %d ends at %d", i, lo, i-1, plo+pw)
		}
	}
}

func TestStampRoundTrip(t *testing.T) {
	p := make([]byte, 200)
	before := monoNow()
	stamp(p, 7)
	if p[0] != 7 {
		t.Fatalf("step byte %d, want 7", p[0])
	}
	at, ok := stampOf(p)
	if !ok || at < before || at > monoNow() {
		t.Fatalf("stampOf = %d, %v; want between %d and now", at, ok, before)
	}
	if _, ok := stampOf(p[:stampLen-1]); ok {
		t.Fatal("stampOf a payload shorter than the stamp: ok")
	}
}
