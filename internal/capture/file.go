package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"time"
)

// ReadPackets feeds every packet of pr to p, checking ctx as it goes. It
// returns nil at the end of the file, and an error wrapping ErrTruncated
// when the file ends inside a record: the packets before it were
// processed, so the caller may keep the records and warn.
func ReadPackets(ctx context.Context, p *Processor, pr PacketReader) error {
	for i := 0; ; i++ {
		if i&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		pkt, err := pr.ReadPacket()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := p.Packet(ctx, pkt); err != nil {
			return err
		}
	}
}

// CaptureFile is a capture file opened for import.
type CaptureFile struct {
	Path string
	// First is the timestamp of its first packet (zero when it has none).
	First  time.Time
	file   *os.File
	reader PacketReader
}

// OpenCaptureFiles opens capture files and orders them by their first
// packet, so rotated captures given in any order import as one stream.
// Each file is checked to be pcap or pcapng before any is read.
func OpenCaptureFiles(paths []string) ([]*CaptureFile, error) {
	var out []*CaptureFile
	closeAll := func() {
		for _, f := range out {
			f.Close()
		}
	}
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			closeAll()
			return nil, err
		}
		first, err := firstTimestamp(f)
		if err == nil {
			_, err = f.Seek(0, io.SeekStart)
		}
		var pr PacketReader
		if err == nil {
			pr, err = NewFileReader(f)
		}
		if err != nil {
			f.Close()
			closeAll()
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, &CaptureFile{Path: path, First: first, file: f, reader: pr})
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].First, out[j].First
		if a.IsZero() || b.IsZero() {
			return false
		}
		return a.Before(b)
	})
	return out, nil
}

func firstTimestamp(f *os.File) (time.Time, error) {
	pr, err := NewFileReader(f)
	if err != nil {
		return time.Time{}, err
	}
	if cl, ok := pr.(io.Closer); ok {
		defer cl.Close()
	}
	for i := 0; i < 16; i++ {
		pkt, err := pr.ReadPacket()
		if err == io.EOF || errors.Is(err, ErrTruncated) {
			return time.Time{}, nil
		}
		if err != nil {
			return time.Time{}, err
		}
		if !pkt.Timestamp.IsZero() {
			return pkt.Timestamp, nil
		}
	}
	return time.Time{}, nil
}

// Read feeds the file's packets to p (see ReadPackets).
func (c *CaptureFile) Read(ctx context.Context, p *Processor) error {
	err := ReadPackets(ctx, p, c.reader)
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %w", c.Path, err)
	}
	return err
}

// Close closes the file (and its decompressor).
func (c *CaptureFile) Close() error {
	if cl, ok := c.reader.(io.Closer); ok {
		cl.Close()
	}
	return c.file.Close()
}
