package poll

// The backend-neutral tests run on io_uring too where this kernel lets the
// process use it.
func init() {
	if ProbeUring() == nil {
		backends = append(backends, "io_uring")
	}
}
