// Package traffic is reprise's vocabulary: the records a corpus holds
// (HTTP exchanges and WebSocket connection events), the results a replay
// produces, and the Source and Sink contracts every stage speaks.
//
// The package does no I/O. Capture stages (proxy, sniffer, pcap and HAR
// importers) produce records into a Sink; the corpus reader is a Source;
// the schedule and engine consume a Source and produce Results.
//
// # Records
//
// Every record carries a Flow (the client identity whose order replay keeps)
// and Start, its offset in nanoseconds from the corpus clock origin
// (Header.ClockOrigin). A WebSocket connection is not one record but a
// stream of them, so a recorder never buffers a long-lived connection and a
// crash loses only what was not yet flushed:
//
//	WSOpen    the upgrade exchange (request and 101 response), with ConnID
//	WSMessage one message (fragments folded), by ConnID, with its direction
//	WSClose   the end of the connection (close frame, or an abnormal end)
//
// Collect regroups them into WSConn values for views that want whole
// connections (inspect, HAR export).
package traffic
