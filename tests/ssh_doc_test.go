package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestOnePortDoc runs docs/ONE_PORT.md: its server is the example file,
// and every command of "The clients" works as written against it.
func TestOnePortDoc(t *testing.T) {
	doc, err := os.ReadFile("../docs/ONE_PORT.md")
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile(filepath.Join(examplesDir, "oneport", "server.lua"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```(lua|sh|js)\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
	if len(blocks) < 4 {
		t.Fatalf("%d code blocks in ONE_PORT.md", len(blocks))
	}
	code := string(example) // less its header comment
	for strings.HasPrefix(code, "--") {
		code = code[strings.IndexByte(code, '\n')+1:]
	}
	if blocks[0][2] != code {
		t.Errorf("the doc's server differs from scripts/examples/oneport/server.lua (less its header comment)")
	}

	// A copy of the example, so uploads land in a temp folder.
	site := newSSHSite(t)
	dir := t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "oneport"), os.DirFS(filepath.Join(examplesDir, "oneport"))); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_STATE_HOME", filepath.Join(site.dir, "state"))
	srv := batteryServer(t, "epoll", filepath.Join(dir, "oneport", "server.lua"))
	_, port := splitAddr(srv.Addr)

	work := t.TempDir()
	rawWriteFile(t, work, "notes.txt", "my notes\n")
	askpass := rawWriteFile(t, work, "askpass", "#!/bin/sh\necho s3cret\n")
	os.Chmod(askpass, 0o700)
	sshOpts := "-F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=" + site.knownHosts +
		" -o GlobalKnownHostsFile=/dev/null -o PreferredAuthentications=password -o LogLevel=ERROR"
	var clients string
	for _, b := range blocks {
		if b[1] == "sh" && strings.Contains(b[2], "ssh -p 8080") {
			clients = b[2]
		}
	}
	outputs := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(clients), "\n") {
		cmdline := strings.TrimSpace(line[:strings.Index(line, "  #")])
		run := strings.ReplaceAll(cmdline, "8080", port)
		for _, tool := range []string{"ssh ", "sftp ", "scp "} {
			if strings.HasPrefix(run, tool) {
				run = tool + sshOpts + " " + run[len(tool):]
			}
		}
		cmd := exec.Command("bash", "-c", run)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "SSH_ASKPASS="+askpass, "SSH_ASKPASS_REQUIRE=force", "DISPLAY=:0", "SSH_AUTH_SOCK=")
		timer := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
		out, err := cmd.Output()
		timer.Stop()
		if err != nil {
			t.Errorf("%s: %v %q", cmdline, err, out)
		}
		outputs[strings.Fields(cmdline)[0]+" "+strings.Fields(cmdline)[1]] = string(out)
	}
	files := filepath.Join(dir, "oneport", "files")
	if got := outputs["curl http://127.0.0.1:8080/hello.txt"]; got != "hello from the one port\n" {
		t.Errorf("HTTP: %q", got)
	}
	if got := outputs["curl ftp://alice:s3cret@127.0.0.1:8080/"]; !strings.Contains(got, "hello.txt") {
		t.Errorf("FTP listing: %q", got)
	}
	if got := outputs["ssh -p"]; got != "hello alice, you ran: uptime\n" {
		t.Errorf("SSH exec: %q", got)
	}
	if got := outputs["curl -I"]; got != "TLS refused\n" {
		t.Errorf("TLS: %q", got)
	}
	for _, p := range []string{filepath.Join(files, "notes.txt"), filepath.Join(work, "copy.txt"), filepath.Join(files, "copy.txt")} {
		if data, err := os.ReadFile(p); err != nil || string(data) != "my notes\n" {
			t.Errorf("%s: %q %v", p, data, err)
		}
	}

	// What the browser snippet does.
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+srv.Addr+"/echo", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ws.WriteMessage(websocket.TextMessage, []byte("hi"))
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, got, err := ws.ReadMessage(); err != nil || string(got) != "hi" {
		t.Errorf("WebSocket echo: %q %v", got, err)
	}
}
