package httphead

import (
	"net/http"
)

// MaxChunkLine bounds a chunk-size line with its CRLF (and a trailer
// line): the LF must come within this many bytes, as with net/http's
// 4 KiB reader.
const MaxChunkLine = 4096

// ChunkedDecoder decodes a chunked request body (RFC 9112 §7.1) from bytes
// fed in pieces of any size. Chunk extensions are skipped; trailer fields
// are checked like header fields and dropped.
type ChunkedDecoder struct {
	MaxBody    int64 // decoded bytes allowed; more is 413 (<= 0: no limit)
	MaxTrailer int   // trailer bytes allowed; more is 431 (<= 0: DefaultMaxHead)

	state   chunkState
	left    uint64 // bytes of the current chunk still to come
	size    int64  // decoded bytes so far
	excess  int64  // framing bytes beyond a fair share, as net/http counts them
	trailer int
}

type chunkState uint8

const (
	chunkSize chunkState = iota
	chunkData
	chunkCRLF
	chunkTrailer
	chunkDone
)

// Done reports whether the last chunk and the trailer section were read.
func (d *ChunkedDecoder) Done() bool { return d.state == chunkDone }

// Decode consumes bytes from in, appending the body bytes they hold to
// out. It returns the new out, how many bytes of in it used, and an
// *HTTPError (400, 413, 431) once the body cannot be framed; a line split
// across two calls is left in in (used stops before it). Once Done, it
// uses nothing more: what follows is the next request.
func (d *ChunkedDecoder) Decode(out, in []byte) ([]byte, int, error) {
	used := 0
	for used < len(in) && d.state != chunkDone {
		rest := in[used:]
		switch d.state {
		case chunkData:
			n := min(uint64(len(rest)), d.left)
			out = append(out, rest[:n]...)
			d.left -= n
			used += int(n)
			if d.left == 0 {
				d.state = chunkCRLF
			}
		case chunkCRLF:
			if len(rest) < 2 {
				if rest[0] != '\r' {
					return out, used, badRequest("malformed chunked encoding")
				}
				return out, used, nil
			}
			if rest[0] != '\r' || rest[1] != '\n' {
				return out, used, badRequest("malformed chunked encoding")
			}
			used += 2
			d.state = chunkSize
		case chunkSize:
			line, n, err := chunkLine(rest)
			if err != nil || n == 0 {
				return out, used, err
			}
			used += n
			if err := d.beginChunk(line); err != nil {
				return out, used, err
			}
		case chunkTrailer:
			limit := d.MaxTrailer
			if limit <= 0 {
				limit = DefaultMaxHead
			}
			if d.trailer == 0 && len(rest) < 2 {
				// Like net/http, look at two bytes before deciding the
				// trailer section is empty.
				return out, used, nil
			}
			room := limit - d.trailer
			j := indexByte(rest[:min(len(rest), room)], '\n')
			if j < 0 {
				if len(rest) >= room {
					return out, used, &HTTPError{Status: http.StatusRequestHeaderFieldsTooLarge, Reason: "trailers too large"}
				}
				return out, used, nil
			}
			line := rest[:j]
			if len(line) > 0 && line[len(line)-1] == '\r' {
				line = line[:len(line)-1]
			}
			used += j + 1
			d.trailer += j + 1
			if len(line) == 0 {
				d.state = chunkDone
				break
			}
			if err := checkFieldLine(line); err != nil {
				return out, used, err
			}
		}
	}
	return out, used, nil
}

// chunkLine returns the line at the start of b without its CRLF and the
// bytes it spans, or n == 0 while it is incomplete. Like net/http it wants
// CRLF here: a bare LF or a lone CR is refused.
func chunkLine(b []byte) (line []byte, n int, err error) {
	j := indexByte(b[:min(len(b), MaxChunkLine)], '\n')
	if j < 0 {
		if len(b) >= MaxChunkLine {
			return nil, 0, badRequest("chunk line too long")
		}
		return nil, 0, nil
	}
	if j == 0 || b[j-1] != '\r' {
		return nil, 0, badRequest("chunk line ends with a bare LF")
	}
	line = b[:j-1]
	if indexByte(line, '\r') >= 0 {
		return nil, 0, badRequest("CR in chunk line")
	}
	return line, j + 1, nil
}

func (d *ChunkedDecoder) beginChunk(line []byte) error {
	d.excess += int64(len(line)) + 2
	for len(line) > 0 && (line[len(line)-1] == ' ' || line[len(line)-1] == '\t') {
		line = line[:len(line)-1]
	}
	if i := indexByte(line, ';'); i >= 0 {
		line = line[:i] // extensions: none is understood, so all are ignored (§7.1.1)
	}
	if len(line) == 0 || len(line) > 16 {
		return badRequest("bad chunk size")
	}
	var n uint64
	for _, c := range line {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return badRequest("bad chunk size")
		}
		n = n<<4 | uint64(c)
	}
	d.excess = max(d.excess-16-2*int64(n), 0) // wraps for huge n exactly as net/http's
	if d.excess > 16<<10 {
		return badRequest("chunked encoding contains too much non-data")
	}
	if n == 0 {
		d.state = chunkTrailer
		return nil
	}
	if d.MaxBody > 0 && (n > uint64(d.MaxBody) || d.size+int64(n) > d.MaxBody) {
		return &HTTPError{Status: http.StatusRequestEntityTooLarge, Reason: "request body too large"}
	}
	d.size += int64(n)
	d.left, d.state = n, chunkData
	return nil
}
