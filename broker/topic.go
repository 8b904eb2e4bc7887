package broker

import (
	"fmt"
	"strings"
)

// MaxTopic is the longest topic name, in bytes.
const MaxTopic = 255

// topicRule is the rule every bad topic's error names.
const topicRule = "a topic is 1-255 printable ASCII characters without spaces, in '.'-separated non-empty tokens (NATS subject rules)"

// CheckTopic reports why topic is not a valid name: for a subscription
// when pattern is true ('*' matches one token, '>' one or more trailing
// tokens), else for a publish, which takes no wildcard.
func CheckTopic(topic string, pattern bool) error {
	if len(topic) == 0 || len(topic) > MaxTopic {
		return fmt.Errorf("topic of %d bytes: %s", len(topic), topicRule)
	}
	for i := 0; i < len(topic); i++ {
		if b := topic[i]; b <= ' ' || b > '~' {
			return fmt.Errorf("topic %q: byte %d is 0x%02x: %s", topic, i+1, b, topicRule)
		}
	}
	toks := strings.Split(topic, ".")
	for i, tok := range toks {
		switch {
		case tok == "":
			return fmt.Errorf("topic %q has an empty token: %s", topic, topicRule)
		case strings.ContainsAny(tok, "*>") && len(tok) > 1:
			return fmt.Errorf("topic %q: the wildcards '*' and '>' must be whole tokens", topic)
		case (tok == "*" || tok == ">") && !pattern:
			return fmt.Errorf("topic %q has a wildcard: publish needs a concrete topic ('*' and '>' are for subscribe)", topic)
		case tok == ">" && i != len(toks)-1:
			return fmt.Errorf("topic %q: '>' must be the last token", topic)
		}
	}
	return nil
}

// IsPattern reports whether a valid topic has a wildcard token.
func IsPattern(topic string) bool {
	for tok := range strings.SplitSeq(topic, ".") {
		if tok == "*" || tok == ">" {
			return true
		}
	}
	return false
}

// Match reports whether a concrete topic matches pattern, by NATS rules:
// '*' is exactly one token, a final '>' one or more tokens. Every broker
// filters with it, so a pattern means the same everywhere.
func Match(pattern, topic string) bool {
	for {
		ptok, prest, pmore := strings.Cut(pattern, ".")
		ttok, trest, tmore := strings.Cut(topic, ".")
		if ptok == ">" {
			return true // topic has at least this token: it is never empty
		}
		if ptok != "*" && ptok != ttok {
			return false
		}
		if !pmore || !tmore {
			return pmore == tmore
		}
		pattern, topic = prest, trest
	}
}
