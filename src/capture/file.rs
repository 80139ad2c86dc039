//! pcap / pcapng (+gzip) reader.
