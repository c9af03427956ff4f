package grouproom

import (
	"cmp"
	"slices"
)

// Load is what an instance's SFU reports beside its heartbeat, for placement and routing.
type Load struct {
	// Instance names the instance among those sharing the Redis.
	Instance string `json:"-"`
	// URL is the base URL the other instances reach this one's HTTP routes at, to pass a
	// group socket on to its SFU.
	URL string `json:"url"`
	// PacketsPerSecond is the RTP the SFU forwarded to subscribers over the last beat.
	PacketsPerSecond uint64 `json:"pps"`
	// Participants is the group participants on the SFU now.
	Participants int `json:"participants"`
	// Weight is the operator's preference for this instance (--sfu-weight): an instance of
	// weight 2 takes new groups until it forwards twice the packets of one of weight 1.
	// Zero (an instance that reports none) counts as 1.
	Weight float64 `json:"weight,omitempty"`
}

func (l Load) weight() float64 {
	if l.Weight > 0 {
		return l.Weight
	}
	return 1
}

// Place picks the instance a new group room's SFU goes to: the one forwarding the fewest
// packets per second (what an SFU's cost follows) for its weight, ties going to the fewest
// participants for its weight (a room just started forwards nothing yet), then to the
// smallest name so every instance decides alike. ok is false when loads is empty.
func Place(loads []Load) (instance string, ok bool) {
	if len(loads) == 0 {
		return "", false
	}
	best := slices.MinFunc(loads, func(a, b Load) int {
		return cmp.Or(cmp.Compare(float64(a.PacketsPerSecond)/a.weight(), float64(b.PacketsPerSecond)/b.weight()),
			cmp.Compare(float64(a.Participants)/a.weight(), float64(b.Participants)/b.weight()),
			cmp.Compare(a.Instance, b.Instance))
	})
	return best.Instance, true
}
