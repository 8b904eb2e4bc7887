package tests

import (
	"os"
	"path/filepath"
	"testing"
)

// writeScript: PENDING REMOVAL once runtime_tables_test.go, its last user,
// has its inline Lua under testdata/.
func writeScript(t *testing.T, name, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
