// Package capture turns captured packets into reprise traffic records:
// live from a network interface (Sniffer, Linux AF_PACKET, no cgo) or from
// pcap and pcapng files (NewFileReader, OpenCaptureFiles).
//
// # Pipeline
//
//	packets -> decoder -> gopacket/reassembly -> per-connection parsers -> traffic.Sink
//
// The decoder reads the link layer itself (Ethernet with any number of
// 802.1Q/802.1ad tags, Linux cooked v1 and v2, BSD null/loopback, raw IP)
// and IPv4/IPv6 (extension headers skipped; fragments reassembled with
// Config.Defragment, else counted and skipped), then hands TCP segments to gopacket's reassembly, which
// orders them, drops retransmitted and overlapping bytes and reports holes.
// A Processor is single-goroutine and allocation-light; Stats says what it
// saw and skipped.
//
// # File formats
//
// The pcap reader accepts both byte orders with micro- or nanosecond
// timestamps; the pcapng reader accepts several sections, interfaces with
// their own link types, if_tsresol and if_tsoffset, enhanced, simple and
// obsolete packet blocks, and skips other blocks. Link types are kept as
// 32-bit values (gopacket's LinkType is 8-bit and cannot name SLL2).
// A file that is neither format fails with ErrNotCapture before anything is
// read; a file cut inside a record returns ErrTruncated after the packets
// before the cut, so an interrupted tcpdump's output still imports.
//
// # TCP reassembly and its limits
//
// Out-of-order data waits in reassembly pages (1900 bytes each), bounded
// per connection (Config.MaxPagesPerConn) and in total (MaxPagesTotal):
// past a bound the oldest hole is skipped. A hole is skipped at once when
// the other side acknowledges bytes past it (the receiver has them, so no
// retransmission will ever be captured: the capture lost them), else once
// the data behind it is older than Config.GapTimeout in capture time; and a
// connection silent for IdleTimeout is closed. (gopacket's reassembly can
// only skip holes of all connections at once, so an acknowledged hole also
// ends the wait of other connections' reordered segments at that moment.) Connections whose handshake
// was not captured start at their first segment. A skipped hole never drops
// an exchange: the message it cut is written with traffic.FlagIncomplete
// and a "capture" note saying how many bytes were missing, and the parser
// resynchronises on the next start line.
//
// # HTTP/1.x
//
// Each direction is parsed incrementally (no net/http: it cannot resume
// after a hole or describe what it skipped). Bodies are framed by RFC 9112
// section 6.3: chunked, Content-Length, or the connection's end for
// responses; HEAD, 1xx, 204, 304 and 2xx to CONNECT have none. Interim 1xx
// responses are collected into traffic.Response.Interim of the final one.
// Bodies keep their content coding (gzip stays gzip; the Content-Encoding
// header names it, and so does the exchange's "content-encoding" note,
// "request=gzip response=br") and are de-chunked; Config.MaxBodySize bytes are kept and
// Body.Size counts all of them. The request line parser is as lenient as
// tshark (a bare known method, a missing version), so odd real clients are
// recorded; a line that is not HTTP at a message start sends the parser
// into resynchronisation and its bytes are counted as junk.
//
// Requests and responses pair first in, first out per connection
// (pipelining included). After a hole in the server's direction, requests
// whose responses fell into the hole are found from TCP acknowledgements:
// a request sent after the client had received bytes of the hole, and
// before it had received the next response, marks every earlier waiting
// request as answered inside the hole (written with FlagNoResponse and
// FlagIncomplete). A response with no request to pair (the request was not
// HTTP, or not captured) is written with an empty request and
// FlagIncomplete. Requests still waiting when the connection ends get
// FlagNoResponse.
//
// Timings come from packet timestamps: Send is first to last request
// byte, Wait last request byte to first response byte, Receive first to
// last response byte, Total first request byte to last response byte.
// Start offsets are from Config.Origin, by default the first packet's
// timestamp (which the recorder stores as the corpus clock origin).
//
// # Upgrades and WebSocket
//
// A request asking to switch protocols (Upgrade with Connection: upgrade,
// or CONNECT) holds the client direction until its response: a 101 with
// Upgrade: websocket starts frame parsing on both directions (a frame
// coalesced with the 101 in one segment included); another 101, or a 2xx
// to CONNECT, writes the exchange with FlagUpgrade and ignores the rest of
// the stream; any other status resumes HTTP on the held bytes.
//
// Frames are unmasked, fragments folded into one traffic.WSMessage (Frames
// counts them; control frames between fragments are their own messages),
// and permessage-deflate messages (RSV1) inflated with
// klauspost/compress/flate, keeping the 32 KiB window across messages
// unless the handshake negotiated no_context_takeover for that sender.
// The first close frame becomes the WSClose; a connection that ends
// without one gets a WSClose with code 1006 and the reason. A hole in a
// WebSocket direction stops its parsing (frame boundaries are lost).
// Config.OnFrame sees every frame as it was on the wire, before folding.
//
// # Flows
//
// Flow keys keep a client's requests in order on replay: the client IP,
// and when the connection's first request carries credentials, "#auth:"
// or "#cookie:" and the first 8 hex digits of the SHA-256 of the
// Authorization (else Cookie) header, so users behind one NAT address
// replay independently and no secret reaches the key. All records of a
// connection share its key.
//
// # Live capture
//
// Sniffer reads a TPACKET_V3 ring of a SOCK_DGRAM packet socket: packets
// start at the IP header on any interface, the kernel runs the filter
// (CompileFilter, a documented subset of tcpdump syntax compiled with
// golang.org/x/net/bpf), and on loopback the outgoing copy of each packet
// is dropped in the filter. gopacket's afpacket needs cgo, and pcapgo's
// EthernetHandle reads one packet per system call, cannot be woken for a
// clean stop and sees every loopback packet twice, so neither is used.
// The kernel's PACKET_STATISTICS give the drop count. With
// SnifferConfig.PayloadOnly the filter also drops TCP segments that carry
// neither payload nor SYN, FIN or RST (pure ACKs): a third of keep-alive
// traffic that a recorder never reads.
//
// Parallel spreads connections over several Processors by a symmetric hash
// of the 4-tuple, one goroutine each, copying packets out of the ring; a
// full worker queue blocks the ring reader, so overload shows as kernel
// drops, which are counted, never as silent loss. AsyncSink keeps the
// capture goroutines away from disk I/O: records go through a bounded
// queue to a writer goroutine and a full queue drops (and counts) records
// instead of stalling the ring.
package capture
