package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unsafe"

	"github.com/spf13/pflag"
)

// byteSize is every flag given in bytes: a number, or one with a unit
// suffix (B, KiB, MiB, GiB, TiB; K, M, G, T and KB, MB, ... mean the same,
// powers of 1024), so --max-message 16MiB and --max-message 16777216 agree.
type byteSize[T ~int | ~int64] struct{ p *T }

// sizeVar defines a byte-size flag stored in p, starting at def.
func sizeVar[T ~int | ~int64](fs *pflag.FlagSet, p *T, name string, def T, usage string) {
	*p = def
	fs.Var(byteSize[T]{p}, name, usage+"; bytes, or with KiB/MiB/GiB")
}

func (b byteSize[T]) String() string {
	if b.p == nil {
		return "0"
	}
	n := int64(*b.p)
	for _, u := range []struct {
		name  string
		shift uint
	}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}} {
		if n != 0 && n%(1<<u.shift) == 0 {
			return strconv.FormatInt(n>>u.shift, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}

func (b byteSize[T]) Set(s string) error {
	num := strings.TrimRightFunc(s, unicode.IsLetter)
	unit := strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(s[len(num):]), "B"), "I")
	shift, ok := map[string]uint{"": 0, "K": 10, "KI": 10, "M": 20, "MI": 20, "G": 30, "GI": 30, "T": 40, "TI": 40}[unit]
	n, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	limit := math.Ldexp(1, int(unsafe.Sizeof(*b.p))*8-1) // 2^63, or 2^31 for a 32-bit int
	if !ok || err != nil || n < 0 || n*float64(uint64(1)<<shift) >= limit {
		return fmt.Errorf("want a size in bytes such as 67108864, 64MiB or 2GiB")
	}
	*b.p = T(n * float64(uint64(1)<<shift))
	return nil
}

func (b byteSize[T]) Type() string { return "size" }
