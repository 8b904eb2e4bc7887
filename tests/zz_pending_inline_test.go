package tests

import (
	"os"
	"path/filepath"
	"testing"
)

// writeScript: PENDING REMOVAL before this branch lands (the newcomer tests'
// inline Lua moves to testdata/).
func writeScript(t *testing.T, name, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
