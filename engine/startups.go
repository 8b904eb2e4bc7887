package engine

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Startups is sshd's MaxStartups begin:rate:full, for every kind of
// connection still proving itself (SSH before login, TLS before the
// handshake ends): past Begin of them, Rate% of new ones are dropped,
// rising linearly to all of them at Full.
type Startups struct{ Begin, Rate, Full int }

// drop decides for one new connection while n are in flight.
func (st Startups) drop(n int) bool {
	if n >= st.Full {
		return true
	}
	if n < st.Begin {
		return false
	}
	span := max(st.Full-st.Begin, 1)
	p := st.Rate + (100-st.Rate)*(n-st.Begin)/span
	return rand.IntN(100) < p
}

// ParseStartups reads begin:rate:full, or one number (full, dropping
// nothing before it); flag names the flag in the error.
func ParseStartups(flag, v string) (Startups, error) {
	bad := fmt.Errorf("--%s %q: want begin:rate:full with 0 < begin <= full and rate 0-100, or one positive number", flag, v)
	var n []int
	for _, p := range strings.Split(v, ":") {
		x, err := strconv.Atoi(p)
		if err != nil {
			return Startups{}, bad
		}
		n = append(n, x)
	}
	switch len(n) {
	case 1:
		n = []int{n[0], 100, n[0]}
	case 3:
	default:
		return Startups{}, bad
	}
	if n[0] <= 0 || n[0] > n[2] || n[1] < 0 || n[1] > 100 {
		return Startups{}, bad
	}
	return Startups{Begin: n[0], Rate: n[1], Full: n[2]}, nil
}
