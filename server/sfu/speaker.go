package sfu

import "time"

// The active speaker comes from the audio level every publisher's browser writes into its
// audio packets (RFC 6464: 0 is the loudest, 127 silence, in -dBov). The detector averages
// each publisher's loudness over an interval, smooths it over intervals, and names a new
// speaker only after it has been the loudest for speakerHold, so that a cough or a word
// said over someone does not move the mark. Speech comes in bursts with quiet between
// them: a quiet interval neither gives the mark away nor cancels a challenger's claim,
// which lapses only when the challenger has not been the loudest for speakerClaimLapse or
// somebody else is. (Chromium's fake microphone, the tests' voice, is a 20 ms beep every
// half second: a claim that a quiet interval cancelled never lasted the hold.)

const (
	// silentLevel and louder count as speech; levels above are background noise.
	silentLevel = 80
	// speakerSmoothing weighs the last interval against the previous average.
	speakerSmoothing = 0.5
	// speakerMinScore is the smoothed loudness below which nobody takes the mark.
	speakerMinScore = 5
	// speakerHold is how long a challenger must stay the loudest to take the mark.
	speakerHold = 400 * time.Millisecond
	// speakerMargin is how much louder than the holder a challenger must be.
	speakerMargin = 1.2
	// speakerClaimLapse is how long a challenger may go unheard and keep its claim.
	speakerClaimLapse = 2 * time.Second
)

type speakerState struct {
	sum, n int     // loudness accumulated this interval
	score  float64 // smoothed loudness
}

// speakerDetector is not safe for concurrent use; the room guards it.
type speakerDetector struct {
	speakers   map[string]*speakerState
	active     string
	challenger string
	since      time.Time // when challenger became the loudest
	heard      time.Time // when challenger was last the loudest
}

func newSpeakerDetector() *speakerDetector {
	return &speakerDetector{speakers: make(map[string]*speakerState)}
}

// observe records one audio packet's level from publisher id.
func (d *speakerDetector) observe(id string, level uint8) {
	s := d.speakers[id]
	if s == nil {
		s = &speakerState{}
		d.speakers[id] = s
	}
	loud := 0
	if level <= silentLevel {
		loud = silentLevel + 1 - int(level)
	}
	s.sum += loud
	s.n++
}

// remove forgets a publisher that left; if it held the mark, nobody holds it.
func (d *speakerDetector) remove(id string) {
	delete(d.speakers, id)
	if d.active == id {
		d.active = ""
	}
	if d.challenger == id {
		d.challenger = ""
	}
}

// tick closes an interval and returns the active speaker and whether it changed. A
// publisher that sent no packet in the interval counts as silent. The holder keeps the
// mark while everyone is silent.
func (d *speakerDetector) tick(now time.Time) (string, bool) {
	loudest, best := "", 0.0
	for id, s := range d.speakers {
		avg := 0.0
		if s.n > 0 {
			avg = float64(s.sum) / float64(s.n)
		}
		s.score = speakerSmoothing*avg + (1-speakerSmoothing)*s.score
		s.sum, s.n = 0, 0
		if s.score > best || (s.score == best && loudest != "" && id < loudest) {
			loudest, best = id, s.score
		}
	}
	if best < speakerMinScore {
		if d.challenger != "" && now.Sub(d.heard) > speakerClaimLapse {
			d.challenger = ""
		}
		return d.active, false
	}
	if loudest == d.active {
		d.challenger = ""
		return d.active, false
	}
	if held := d.speakers[d.active]; held != nil && best < held.score*speakerMargin {
		d.challenger = ""
		return d.active, false
	}
	if d.challenger != loudest {
		d.challenger, d.since = loudest, now
	}
	d.heard = now
	if d.active != "" && now.Sub(d.since) < speakerHold {
		return d.active, false
	}
	d.active, d.challenger = loudest, ""
	return d.active, true
}
