package grouproom

import "testing"

func TestPlace(t *testing.T) {
	tests := []struct {
		name  string
		loads []Load
		want  string
	}{
		{"none", nil, ""},
		{"one", []Load{{Instance: "a", PacketsPerSecond: 9000}}, "a"},
		{"fewest packets", []Load{
			{Instance: "a", PacketsPerSecond: 900, Participants: 1},
			{Instance: "b", PacketsPerSecond: 300, Participants: 12},
			{Instance: "c", PacketsPerSecond: 600, Participants: 2},
		}, "b"},
		{"equal packets: fewest participants", []Load{
			{Instance: "a", PacketsPerSecond: 0, Participants: 3},
			{Instance: "b", PacketsPerSecond: 0, Participants: 0},
			{Instance: "c", PacketsPerSecond: 0, Participants: 5},
		}, "b"},
		{"a heavier instance takes more packets before it is passed over", []Load{
			{Instance: "a", PacketsPerSecond: 1000, Participants: 4},
			{Instance: "big", PacketsPerSecond: 1800, Participants: 8, Weight: 2},
		}, "big"},
		{"a heavier instance is passed over past its share", []Load{
			{Instance: "a", PacketsPerSecond: 1000, Participants: 4},
			{Instance: "big", PacketsPerSecond: 2200, Participants: 8, Weight: 2},
		}, "a"},
		{"weights split participant ties too", []Load{
			{Instance: "a", Participants: 3},
			{Instance: "big", Participants: 4, Weight: 2},
		}, "big"},
		{"no weight reported counts as 1", []Load{
			{Instance: "a", PacketsPerSecond: 500},
			{Instance: "b", PacketsPerSecond: 400, Weight: 0},
			{Instance: "c", PacketsPerSecond: 450, Weight: 1},
		}, "b"},
		{"a small weight keeps an instance for when the others are busy", []Load{
			{Instance: "small", PacketsPerSecond: 100, Weight: 0.1},
			{Instance: "b", PacketsPerSecond: 900},
		}, "b"},
		{"all equal: smallest name, whatever the order", []Load{
			{Instance: "c"}, {Instance: "a"}, {Instance: "b"},
		}, "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Place(tt.loads)
			if got != tt.want || ok != (tt.want != "") {
				t.Fatalf("Place = %q, %v; want %q", got, ok, tt.want)
			}
		})
	}
}
