package broker

import (
	"strings"
	"testing"
)

func TestCheckTopic(t *testing.T) {
	for _, tc := range []struct {
		topic   string
		pattern bool
		want    string // "" valid, else a part of the error
	}{
		{"a", false, ""},
		{"room.42.chat", false, ""},
		{"a-b_c:d/e~f!", false, ""},
		{strings.Repeat("x", 255), false, ""},
		{"room.*", true, ""},
		{"room.>", true, ""},
		{"*.*.>", true, ""},
		{">", true, ""},
		{"", true, "topic of 0 bytes"},
		{strings.Repeat("x", 256), true, "topic of 256 bytes"},
		{"a b", true, "0x20"},
		{"a\tb", true, "0x09"},
		{"a\x7f", true, "0x7f"},
		{"é", true, "0xc3"},
		{"a..b", true, "empty token"},
		{".a", true, "empty token"},
		{"a.", true, "empty token"},
		{".", true, "empty token"},
		{"a*", true, "whole tokens"},
		{"a.>b", true, "whole tokens"},
		{"a.>.b", true, "last token"},
		{"room.*", false, "publish needs a concrete topic"},
		{">", false, "publish needs a concrete topic"},
	} {
		err := CheckTopic(tc.topic, tc.pattern)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: %v", tc.topic, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q (pattern %v): %v, want an error with %q", tc.topic, tc.pattern, err, tc.want)
		}
	}
}

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, topic string
		want           bool
	}{
		{"a.b", "a.b", true},
		{"a.b", "a.c", false},
		{"a.b", "a.b.c", false},
		{"a.b.c", "a.b", false},
		{"a.*", "a.b", true},
		{"a.*", "a", false},
		{"a.*", "a.b.c", false},
		{"*.b", "a.b", true},
		{"a.>", "a.b", true},
		{"a.>", "a.b.c.d", true},
		{"a.>", "a", false},
		{">", "a", true},
		{">", "a.b", true},
		{"*", "a.b", false},
		{"a.*.c.>", "a.x.c.d", true},
		{"a.*.c.>", "a.x.c", false},
	} {
		if got := Match(tc.pattern, tc.topic); got != tc.want {
			t.Errorf("Match(%q, %q) = %v", tc.pattern, tc.topic, got)
		}
	}
}

func TestRedisGlobCoversPattern(t *testing.T) {
	for pattern, want := range map[string]string{
		"room.*":    "room.*",
		"room.>":    "room.*",
		"*.a.>":     "*.a.*",
		"a?b.[x].*": `a\?b.\[x\].*`,
		`a\b.*`:     `a\\b.*`,
	} {
		if got := redisGlob(pattern); got != want {
			t.Errorf("redisGlob(%q) = %q, want %q", pattern, got, want)
		}
	}
}

func TestEnvelope(t *testing.T) {
	m := &Message{Topic: "a.b", Data: "\x00data", Binary: true, Node: 1 << 60, Worker: 3, Seq: 1<<40 + 5}
	got, err := decode(encode(m))
	if err != nil || got.Topic != m.Topic || got.Data != m.Data || !got.Binary || got.Node != m.Node || got.Worker != 3 || got.Seq != m.Seq {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	for _, bad := range []string{"", "x", "p\x00", string(encode(m))[:envelopeHead+1], "q" + string(encode(m))[1:]} {
		if _, err := decode([]byte(bad)); err == nil {
			t.Errorf("decode(%q) took it", bad)
		}
	}
}
