package tests

import (
	bin "encoding/binary"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"
)

// writeWAV writes seconds of a 16-bit stereo 44.1 kHz PCM tone (a sawtooth)
// to path: 176,400 bytes a second.
func writeWAV(t *testing.T, path string, seconds int) {
	t.Helper()
	const rate, channels, bits = 44100, 2, 16
	data := make([]byte, rate*channels*bits/8*seconds)
	for i := 0; i+4 <= len(data); i += 4 {
		v := uint16((i / 4 * 300) % 20000)
		bin.LittleEndian.PutUint16(data[i:], v)
		bin.LittleEndian.PutUint16(data[i+2:], v)
	}
	head := make([]byte, 44)
	copy(head, "RIFF")
	bin.LittleEndian.PutUint32(head[4:], uint32(36+len(data)))
	copy(head[8:], "WAVEfmt ")
	bin.LittleEndian.PutUint32(head[16:], 16)
	bin.LittleEndian.PutUint16(head[20:], 1) // PCM
	bin.LittleEndian.PutUint16(head[22:], channels)
	bin.LittleEndian.PutUint32(head[24:], rate)
	bin.LittleEndian.PutUint32(head[28:], rate*channels*bits/8)
	bin.LittleEndian.PutUint16(head[32:], channels*bits/8)
	bin.LittleEndian.PutUint16(head[34:], bits)
	copy(head[36:], "data")
	bin.LittleEndian.PutUint32(head[40:], uint32(len(data)))
	if err := os.WriteFile(path, append(head, data...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBrowserMediaAndPrecompressed: Chromium loads a page whose script is
// served precompressed (app.js.gz, decoded by the browser) and seeks in a
// WAV served by httpd, which answers its range requests with 206.
func TestBrowserMediaAndPrecompressed(t *testing.T) {
	bctx := startBrowser(t)
	root, _ := httpSite(t)
	writeWAV(t, filepath.Join(root, "sound.wav"), 40) // 7 MB: more than a media cache reads ahead
	page, err := os.ReadFile(testdata(t, "browser/media.html"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "index.html"), page, 0o644)
	os.WriteFile(filepath.Join(root, "app.js"), []byte(`window.appSource = "plain";`), 0o644)
	gzipFile(t, filepath.Join(root, "app.js.gz"), []byte(`window.appSource = "gzip"; document.getElementById("status").textContent = "ready";`))
	srv := batteryServer(t, "epoll", httpScript(t, root, "media.lua"))

	tab := newTab(t, bctx, "media")
	if err := chromedp.Do(tab, chromedp.Navigate("http://"+srv.Addr+"/")); err != nil {
		t.Fatal(err)
	}
	source, err := chromedp.Run(tab, chromedp.Evaluate[string](`window.appSource || ""`))
	if err != nil || source != "gzip" {
		t.Fatalf("app.js: ran %q (%v), want the precompressed script", source, err)
	}
	type seek struct {
		Time, Duration float64
	}
	for _, to := range []float64{33, 5, 21} {
		got, err := chromedp.Run(tab, chromedp.Evaluate[seek](
			`seekTo(`+strconv.FormatFloat(to, 'f', -1, 64)+`)`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("seek to %v: %v", to, err)
		}
		if got.Time < to-0.5 || got.Time > to+0.5 || got.Duration < 39 || got.Duration > 41 {
			t.Fatalf("seek to %v: at %v of %v", to, got.Time, got.Duration)
		}
	}
	logs := srv.Logs()
	ranged := regexp.MustCompile(`path=/sound\.wav status=206`).FindAllString(logs, -1)
	if len(ranged) == 0 {
		t.Fatalf("no 206 for /sound.wav in the access log:\n%s", logs)
	}
	if !regexp.MustCompile(`path=/app\.js status=200`).MatchString(logs) {
		t.Fatalf("app.js not served:\n%s", logs)
	}
	t.Logf("%d range answers for the audio", len(ranged))
	srv.stop()
}
