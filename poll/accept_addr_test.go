package poll

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestAcceptPeerAddress: the address acceptConn decodes itself is the
// dialer's, for IPv4 and IPv6, on every backend.
func TestAcceptPeerAddress(t *testing.T) {
	for _, b := range backends {
		for _, host := range []string{"127.0.0.1", "::1"} {
			t.Run(b+"/"+host, func(t *testing.T) {
				tl := startLoop(t, Config{Poller: b})
				peers := make(chan unix.Sockaddr, 1)
				var port int
				tl.do(func() {
					fd, h, p, err := SocketBind(host, 0, SocketBindOptions{})
					if err != nil {
						t.Skipf("no %s: %v", host, err)
					}
					port = p
					if _, err := tl.Listen(fd, h, p, func(fd int, sa unix.Sockaddr) {
						unix.Close(fd)
						peers <- sa
					}); err != nil {
						t.Fatal(err)
					}
				})
				c, err := net.DialTimeout("tcp", net.JoinHostPort(host, strconv.Itoa(port)), 5*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				want := c.LocalAddr().(*net.TCPAddr).AddrPort()
				var sa unix.Sockaddr
				select {
				case sa = <-peers:
				case <-time.After(5 * time.Second):
					t.Fatal("no accept")
				}
				var got netip.AddrPort
				switch a := sa.(type) {
				case *unix.SockaddrInet4:
					got = netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
				case *unix.SockaddrInet6:
					got = netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port))
				default:
					t.Fatalf("peer %T %v", sa, sa)
				}
				if got != want {
					t.Fatalf("peer %v, want %v", got, want)
				}
			})
		}
	}
}

// TestCloseArmsNoWriteInterest: a close whose last bytes the round's
// flush writes at once never asks epoll for room (two epoll_ctl calls
// saved per connection); the bytes and the FIN still arrive.
func TestCloseArmsNoWriteInterest(t *testing.T) {
	tl := startLoop(t, Config{Poller: "epoll"})
	addr, conns := tl.listen(newRecorder)
	c := dial(t, addr)
	r := <-conns
	var armed bool
	tl.do(func() {
		r.c.WriteString("last words")
		r.c.Close(errors.New("done"))
		armed = r.c.interest&Writable != 0
	})
	if armed {
		t.Fatal("Close armed write interest for output the round's flush writes")
	}
	got, err := io.ReadAll(c)
	if err != nil || !bytes.Equal(got, []byte("last words")) {
		t.Fatalf("read %q (%v), want the last words then EOF", got, err)
	}
}

// TestCloseNoLinger: the descriptor closes once the output is written,
// while the peer still holds its end open (Close would wait for its FIN);
// the peer reads everything, then EOF.
func TestCloseNoLinger(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			// Close would hold the descriptor for the whole linger time.
			tl := startLoop(t, Config{Poller: b, LingerTimeout: time.Minute})
			addr, conns := tl.listen(newRecorder)
			c := dial(t, addr)
			r := <-conns
			tl.do(func() {
				r.c.WriteString("close frame")
				r.c.CloseNoLinger(errors.New("done"))
			})
			got, err := io.ReadAll(c)
			if err != nil || string(got) != "close frame" {
				t.Fatalf("read %q (%v), want the frame then EOF", got, err)
			}
			fd := 0
			for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				if tl.do(func() { fd = r.c.FD() }); fd == -1 {
					break
				}
			}
			if fd != -1 {
				t.Fatalf("descriptor %d still open while the peer keeps its end", fd)
			}
		})
	}
}
