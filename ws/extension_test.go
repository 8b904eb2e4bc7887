package ws

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestParseExtensions(t *testing.T) {
	p := func(name, value string) ExtensionParam {
		return ExtensionParam{Name: name, Value: value, HasValue: value != ""}
	}
	cases := []struct {
		in   []string
		want []Extension
	}{
		{nil, nil},
		{[]string{""}, nil},
		{[]string{" , ,\t"}, nil},
		{[]string{"permessage-deflate"}, []Extension{{Name: "permessage-deflate"}}},
		{[]string{"permessage-deflate; client_max_window_bits"},
			[]Extension{{Name: "permessage-deflate", Params: []ExtensionParam{p("client_max_window_bits", "")}}}},
		{[]string{"a ;b = 1 ;\tc=\"x\\yz\" , d"},
			[]Extension{{Name: "a", Params: []ExtensionParam{p("b", "1"), p("c", "xyz")}}, {Name: "d"}}},
		{[]string{"a", "b; c=1"}, []Extension{{Name: "a"}, {Name: "b", Params: []ExtensionParam{p("c", "1")}}}},
		// Malformed elements are kept, marked, and the next one is found.
		{[]string{"a;, b"}, []Extension{{Name: "a", Malformed: true}, {Name: "b"}}},
		{[]string{"a b, c"}, []Extension{{Name: "a", Malformed: true}, {Name: "c"}}},
		{[]string{"a; x=, c"}, []Extension{{Name: "a", Malformed: true}, {Name: "c"}}},
		{[]string{`a; x="a,b", c`}, []Extension{{Name: "a", Malformed: true}, {Name: "c"}}},
		{[]string{`a; x="a\"", c`}, []Extension{{Name: "a", Malformed: true}, {Name: "c"}}},
		{[]string{`a; x="open, c`}, []Extension{{Name: "a", Malformed: true}}},
		{[]string{`a; x=""`}, []Extension{{Name: "a", Malformed: true}}},
		{[]string{`=x, c`}, []Extension{{Malformed: true}, {Name: "c"}}},
		{[]string{`a; "q"=1`}, []Extension{{Name: "a", Malformed: true}}},
	}
	for _, tc := range cases {
		got := ParseExtensions(tc.in...)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseExtensions(%q)\n got  %+v\n want %+v", tc.in, got, tc.want)
		}
	}
}

func TestExtensionsFromRequest(t *testing.T) {
	h := http.Header{}
	h.Add("Sec-WebSocket-Extensions", "foo")
	h.Add("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")
	got := Extensions(&http.Request{Header: h})
	if len(got) != 2 || got[0].Name != "foo" || got[1].Name != "permessage-deflate" {
		t.Fatalf("Extensions = %+v", got)
	}
}

// negotiate runs NegotiateDeflate on one header value and returns the
// answer, or "" when every offer was declined.
func negotiate(header string, o DeflateOptions) string {
	p, ok := NegotiateDeflate(ParseExtensions(header), o)
	if !ok {
		return ""
	}
	return p.String()
}

var (
	optDefault  = DeflateOptions{ClientContextTakeover: true} // what websocket.lua asks by default
	optTakeover = DeflateOptions{ServerContextTakeover: true, ClientContextTakeover: true}
	optNone     = DeflateOptions{}
)

func TestNegotiateDeflate(t *testing.T) {
	const pmd = "permessage-deflate"
	cases := []struct {
		offer string
		opt   DeflateOptions
		want  string // "" declined
	}{
		// What browsers offer.
		{pmd + "; client_max_window_bits", optDefault, pmd + "; server_no_context_takeover"},
		{pmd + "; client_max_window_bits", optTakeover, pmd},
		{pmd + "; client_max_window_bits", optNone, pmd + "; server_no_context_takeover; client_no_context_takeover"},
		{pmd + "; client_max_window_bits", DeflateOptions{ClientContextTakeover: true, ClientMaxWindowBits: 10},
			pmd + "; server_no_context_takeover; client_max_window_bits=10"},
		// gorilla/websocket.
		{pmd + "; server_no_context_takeover; client_no_context_takeover", optTakeover,
			pmd + "; server_no_context_takeover; client_no_context_takeover"},
		// The bare offer: nothing may be answered about window bits.
		{pmd, optTakeover, pmd},
		{pmd, DeflateOptions{ServerContextTakeover: true, ClientContextTakeover: true, ClientMaxWindowBits: 9}, pmd},
		// client_max_window_bits with a value: answered with at most that.
		{pmd + "; client_max_window_bits=12", optTakeover, pmd + "; client_max_window_bits=12"},
		{pmd + "; client_max_window_bits=12", DeflateOptions{ClientContextTakeover: true, ClientMaxWindowBits: 9, ServerContextTakeover: true},
			pmd + "; client_max_window_bits=9"},
		{pmd + "; client_max_window_bits=15", optTakeover, pmd},
		{pmd + "; client_max_window_bits=12; client_no_context_takeover", optTakeover, pmd + "; client_no_context_takeover"},
		// server_max_window_bits: echoed; below 15 it forces no context takeover.
		{pmd + "; server_max_window_bits=15", optTakeover, pmd + "; server_max_window_bits=15"},
		{pmd + "; server_max_window_bits=10", optTakeover, pmd + "; server_no_context_takeover; server_max_window_bits=10"},
		{pmd + "; server_max_window_bits=8", optDefault, pmd + "; server_no_context_takeover; server_max_window_bits=8"},
		{pmd + `; server_max_window_bits="9"`, optDefault, pmd + "; server_no_context_takeover; server_max_window_bits=9"},
		{pmd + "; server_no_context_takeover", optTakeover, pmd + "; server_no_context_takeover"},
		{pmd + "; client_no_context_takeover", optTakeover, pmd + "; client_no_context_takeover"},
		// Names are matched without regard to case.
		{"PerMessage-Deflate; Server_No_Context_Takeover", optTakeover, pmd + "; server_no_context_takeover"},

		// Declined offers.
		{pmd + "; server_max_window_bits", optDefault, ""},
		{pmd + "; server_max_window_bits=7", optDefault, ""},
		{pmd + "; server_max_window_bits=16", optDefault, ""},
		{pmd + "; server_max_window_bits=08", optDefault, ""},
		{pmd + "; server_max_window_bits=+9", optDefault, ""},
		{pmd + "; server_max_window_bits=1O", optDefault, ""},
		{pmd + "; client_max_window_bits=0", optDefault, ""},
		{pmd + "; client_max_window_bits=100", optDefault, ""},
		{pmd + "; server_no_context_takeover=1", optDefault, ""},
		{pmd + "; client_no_context_takeover=true", optDefault, ""},
		{pmd + "; server_no_context_takeover; server_no_context_takeover", optDefault, ""},
		{pmd + "; client_no_context_takeover; client_no_context_takeover", optDefault, ""},
		{pmd + "; client_max_window_bits; client_max_window_bits=10", optDefault, ""},
		{pmd + "; server_max_window_bits=10; server_max_window_bits=10", optDefault, ""},
		{pmd + "; mux", optDefault, ""},
		{pmd + "; x-unknown=1", optDefault, ""},
		{pmd + ";", optDefault, ""},
		{pmd + " garbage", optDefault, ""},
		{pmd + `; server_max_window_bits="10`, optDefault, ""},
		{"x-webkit-deflate-frame", optDefault, ""},
		{"deflate-frame, permessage-deflatex", optDefault, ""},
		{"", optDefault, ""},

		// Several offers: the first acceptable one, in the client's order.
		{pmd + "; server_max_window_bits=10, " + pmd, optTakeover, pmd + "; server_no_context_takeover; server_max_window_bits=10"},
		{pmd + "; server_max_window_bits=7, " + pmd + "; client_max_window_bits", optTakeover, pmd},
		{pmd + "; bogus, " + pmd + `; x="a,b", ` + pmd + "; client_no_context_takeover", optTakeover,
			pmd + "; client_no_context_takeover"},
		{"foo; bar=1, " + pmd, optTakeover, pmd},
	}
	for _, tc := range cases {
		if got := negotiate(tc.offer, tc.opt); got != tc.want {
			t.Errorf("offer %q, options %+v:\n got  %q\n want %q", tc.offer, tc.opt, got, tc.want)
		}
	}
}

// TestNegotiateDeflateCombinations tries every combination of the four
// parameters (absent, or each legal value, in two orders) against every
// server policy, and checks the answer against RFC 7692 §7.1 rule by rule.
func TestNegotiateDeflateCombinations(t *testing.T) {
	snctVals := []string{"", "server_no_context_takeover"}
	cnctVals := []string{"", "client_no_context_takeover"}
	smwbVals := []string{""}
	cmwbVals := []string{"", "client_max_window_bits"}
	for b := 8; b <= 15; b++ {
		smwbVals = append(smwbVals, fmt.Sprintf("server_max_window_bits=%d", b))
		cmwbVals = append(cmwbVals, fmt.Sprintf("client_max_window_bits=%d", b))
	}
	var opts []DeflateOptions
	for _, s := range []bool{false, true} {
		for _, c := range []bool{false, true} {
			for _, bits := range []int{0, 8, 11, 15} {
				opts = append(opts, DeflateOptions{ServerContextTakeover: s, ClientContextTakeover: c, ClientMaxWindowBits: bits})
			}
		}
	}
	n := 0
	for _, snct := range snctVals {
		for _, cnct := range cnctVals {
			for _, smwb := range smwbVals {
				for _, cmwb := range cmwbVals {
					var params []string
					for _, p := range []string{snct, cnct, smwb, cmwb} {
						if p != "" {
							params = append(params, p)
						}
					}
					for _, reversed := range []bool{false, true} {
						ps := append([]string(nil), params...)
						if reversed {
							for i, j := 0, len(ps)-1; i < j; i, j = i+1, j-1 {
								ps[i], ps[j] = ps[j], ps[i]
							}
						}
						offer := strings.Join(append([]string{PermessageDeflate}, ps...), "; ")
						for _, o := range opts {
							checkAnswer(t, offer, o, snct != "", cnct != "", smwb, cmwb)
							n++
						}
					}
				}
			}
		}
	}
	t.Logf("%d offer/policy combinations checked", n)
}

func checkAnswer(t *testing.T, offer string, o DeflateOptions, snct, cnct bool, smwb, cmwb string) {
	t.Helper()
	p, ok := NegotiateDeflate(ParseExtensions(offer), o)
	if !ok {
		t.Fatalf("offer %q declined", offer)
	}
	answer := ParseExtensions(p.String())
	if len(answer) != 1 || answer[0].Malformed || answer[0].Name != PermessageDeflate {
		t.Fatalf("offer %q: answer %q does not parse", offer, p.String())
	}
	got := map[string]ExtensionParam{}
	for _, prm := range answer[0].Params {
		if _, dup := got[prm.Name]; dup {
			t.Fatalf("offer %q: answer %q repeats %s", offer, p.String(), prm.Name)
		}
		got[prm.Name] = prm
	}
	fail := func(why string) {
		t.Helper()
		t.Fatalf("offer %q, options %+v: answer %q: %s", offer, o, p.String(), why)
	}
	offeredBits := func(s string) int {
		var b int
		fmt.Sscanf(s[strings.IndexByte(s, '=')+1:], "%d", &b)
		return b
	}
	// server_no_context_takeover: required when offered; present iff the
	// server keeps no context.
	_, gotSNCT := got["server_no_context_takeover"]
	smallServerWindow := smwb != "" && offeredBits(smwb) < 15
	if wantSNCT := snct || !o.ServerContextTakeover || smallServerWindow; gotSNCT != wantSNCT {
		fail(fmt.Sprintf("server_no_context_takeover present=%v, want %v", gotSNCT, wantSNCT))
	}
	if p.ServerNoContextTakeover != gotSNCT {
		fail("ServerNoContextTakeover disagrees with the answer")
	}
	// server_max_window_bits: answered iff offered, with a value no larger.
	if prm, ok := got["server_max_window_bits"]; ok != (smwb != "") {
		fail("server_max_window_bits answered iff offered")
	} else if ok {
		if !prm.HasValue || windowBits(prm.Value) == 0 || windowBits(prm.Value) > offeredBits(smwb) {
			fail("server_max_window_bits value")
		}
		if p.ServerMaxWindowBits != windowBits(prm.Value) {
			fail("ServerMaxWindowBits disagrees with the answer")
		}
	} else if p.ServerMaxWindowBits != 15 {
		fail("ServerMaxWindowBits without the parameter")
	}
	// client_no_context_takeover: present iff offered or the server wants it.
	_, gotCNCT := got["client_no_context_takeover"]
	if wantCNCT := cnct || !o.ClientContextTakeover; gotCNCT != wantCNCT {
		fail(fmt.Sprintf("client_no_context_takeover present=%v, want %v", gotCNCT, wantCNCT))
	}
	if p.ClientNoContextTakeover != gotCNCT {
		fail("ClientNoContextTakeover disagrees with the answer")
	}
	// client_max_window_bits: never unless offered; never above the offer.
	prm, gotCMWB := got["client_max_window_bits"]
	if gotCMWB && cmwb == "" {
		fail("client_max_window_bits answered but not offered")
	}
	if gotCMWB {
		v := windowBits(prm.Value)
		if !prm.HasValue || v == 0 || (strings.Contains(cmwb, "=") && v > offeredBits(cmwb)) {
			fail("client_max_window_bits value")
		}
		if p.ClientMaxWindowBits != v {
			fail("ClientMaxWindowBits disagrees with the answer")
		}
		if gotCNCT {
			fail("client_max_window_bits is pointless with client_no_context_takeover")
		}
	} else if p.ClientMaxWindowBits != 15 {
		fail("ClientMaxWindowBits without the parameter")
	}
	// What the server wanted is reached whenever the offer allows it.
	if cmwb != "" && !gotCNCT {
		want := 15
		if o.ClientMaxWindowBits >= 8 {
			want = o.ClientMaxWindowBits
		}
		if strings.Contains(cmwb, "=") {
			want = min(want, offeredBits(cmwb))
		}
		if p.ClientMaxWindowBits != want {
			fail(fmt.Sprintf("client window %d, want %d", p.ClientMaxWindowBits, want))
		}
	}
	for name := range got {
		switch name {
		case "server_no_context_takeover", "client_no_context_takeover":
			if got[name].HasValue {
				fail(name + " has a value")
			}
		case "server_max_window_bits", "client_max_window_bits":
		default:
			fail("unknown parameter " + name)
		}
	}
}

// FuzzNegotiateDeflate: any header parses without panicking, and an
// accepted offer's answer is one well-formed permessage-deflate element
// that the negotiation itself would accept again.
func FuzzNegotiateDeflate(f *testing.F) {
	for _, s := range []string{
		"permessage-deflate; client_max_window_bits",
		"permessage-deflate; server_no_context_takeover; client_no_context_takeover",
		`permessage-deflate; server_max_window_bits="10", permessage-deflate`,
		`a; b="c\"d", permessage-deflate;;`,
	} {
		f.Add(s, true, false, 12)
	}
	f.Fuzz(func(t *testing.T, header string, sct, cct bool, bits int) {
		o := DeflateOptions{ServerContextTakeover: sct, ClientContextTakeover: cct, ClientMaxWindowBits: bits}
		p, ok := NegotiateDeflate(ParseExtensions(header), o)
		if !ok {
			return
		}
		answer := ParseExtensions(p.String())
		if len(answer) != 1 || answer[0].Malformed || answer[0].Name != PermessageDeflate {
			t.Fatalf("answer %q", p.String())
		}
		if p.ServerMaxWindowBits < 8 || p.ServerMaxWindowBits > 15 || p.ClientMaxWindowBits < 8 || p.ClientMaxWindowBits > 15 {
			t.Fatalf("window bits out of range: %+v", p)
		}
		if _, ok := NegotiateDeflate(answer, o); !ok {
			t.Fatalf("the answer %q is not itself an acceptable offer", p.String())
		}
	})
}
