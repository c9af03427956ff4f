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
