package httphead

import (
	"bufio"
	"bytes"
	"net/http"
	"testing"
)

func TestHTTPErrorResponse(t *testing.T) {
	e := &HTTPError{Status: 400, Reason: "two\r\nlines", Header: http.Header{
		"X-Note":         {"a\r\nInjected: yes"},
		"Content-Length": {"999"},
		"Bad Name":       {"dropped"},
	}}
	raw := string(e.Response())
	want := "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n" +
		"Content-Length: 11\r\nX-Note: a  Injected: yes\r\n\r\ntwo  lines\n"
	if raw != want {
		t.Fatalf("got  %q\nwant %q", raw, want)
	}
	if got := (&HTTPError{Status: 431}).Error(); got != "http 431: Request Header Fields Too Large" {
		t.Fatal(got)
	}
	raw599 := (&HTTPError{Status: 599}).Response()
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw599)), nil)
	if err != nil || resp.StatusCode != 599 || !resp.Close {
		t.Fatalf("response %q: %v", raw599, err)
	}
}
