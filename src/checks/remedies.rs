//! Remedy sentences, each pointing at the step of the Cisco guide
//! ("Configuration of security between IM and Presence and Microsoft OCS")
//! that fixes the failure. Kept in one place so the wording stays consistent
//! across checks and the report can de-duplicate them by text.

/// OCS negotiates something other than TLSv1 / 3DES.
pub const OCS_FIPS: &str = "On OCS: Local Security Policy → Security Settings → Local Policies → Security Options → enable the FIPS security setting and restart Windows, so OCS uses TLSv1 with TLS_RSA_WITH_3DES_EDE_CBC_SHA (guide: Configure Microsoft OCS to use TLSv1, Steps 1-8)";

/// IM&P's peer-auth TLS context does not select the 3DES suite.
pub const IMP_CIPHER: &str = "On IM&P: System → Security → TLS Context Configuration → Default_Cisco_UPS_SIP_Proxy_Peer_Auth_TLS_Context → move TLS_RSA_WITH_3DES_EDE_CBC_SHA to Selected TLS Ciphers and save (guide: Add TLS peer to selected TLS peer subjects list on IM and Presence, Steps 4-5)";

/// Empty fragments seen.
pub const IMP_EMPTY_FRAGMENTS: &str = "On IM&P: TLS Context Configuration → Default_Cisco_UPS_SIP_Proxy_Peer_Auth_TLS_Context → check Disable Empty TLS Fragments and save (guide: Add TLS peer to selected TLS peer subjects list on IM and Presence, Step 6)";

/// The server's (IM&P's) CN does not match what OCS routes to.
pub const SERVER_CN: &str = "Make the IM&P certificate's Subject CN and OCS's configuration agree: on OCS, Front End Properties → Routing → the static route's Domain must equal the IM&P certificate's Subject CN (guide: Configure a TLS route for IM and Presence on Microsoft OCS, Step 6) and Host Authorization must list the same FQDN (guide: Configure IM and Presence as an authenticated host on Microsoft OCS, Step 6); or correct the expected server_cn in the profile";

/// The client's (OCS's) CN does not match IM&P's TLS peer subject.
pub const CLIENT_CN: &str = "On IM&P: System → Security → TLS Peer Subjects → the Peer Subject Name must equal the Subject CN of the certificate OCS presents (guide: Create a new TLS peer subject for Microsoft OCS on IM and Presence, Step 3), and that peer subject must be selected in Default_Cisco_UPS_SIP_Proxy_Peer_Auth_TLS_Context (guide: Add TLS peer to selected TLS peer subjects list on IM and Presence, Steps 7-9); or correct the expected client_cn in the profile";

/// The client presented no certificate.
pub const CLIENT_CERT_MISSING: &str = "On OCS: select the installed certificate for the front end (guide: Configure installed certificate, Steps 9-15); the certificate must be requested with both server and client authentication OIDs 1.3.6.1.5.5.7.3.1,1.3.6.1.5.5.7.3.2 (guide: Submit certificate request on CA server, Step 9)";

/// The server did not ask for a client certificate.
pub const SERVER_NO_CERT_REQUEST: &str = "On IM&P: the federation port must use the peer-authentication context Default_Cisco_UPS_SIP_Proxy_Peer_Auth_TLS_Context with the OCS peer subject selected (guide: Add TLS peer to selected TLS peer subjects list on IM and Presence, Steps 1-9)";

/// A certificate was rejected by the peer (CA, purpose or validity).
pub const CERT_REJECTED: &str = "Give the rejected side a certificate the peer accepts: issued by a CA whose chain is installed on the other side (guide: Download CA Certification Chain; Install CA Certification Chain, Steps 1-21), with both EKUs 1.3.6.1.5.5.7.3.1,1.3.6.1.5.5.7.3.2 (guide: Submit certificate request on CA server, Step 9), within its validity dates, and selected on OCS (guide: Configure installed certificate)";

/// Cleartext on the TLS port.
pub const NOT_TLS: &str = "The peer sends cleartext to the TLS port: on OCS, the static route to IM&P must use Transport TLS and port 5062 (guide: Configure a TLS route for IM and Presence on Microsoft OCS, Step 6)";

/// Something other than SIP and other than TLS records on the audited port.
pub const NOT_TLS_OTHER: &str = "The flow on the audited port carries no TLS records: check which application uses this port (a SIP federation link on it must be SIP over TLS, guide: Configure a TLS route for IM and Presence on Microsoft OCS, Step 6), or leave the port out of the audit (--port)";

/// A handshake failed without a recognisable cause.
pub const HANDSHAKE_GENERIC: &str = "Compare both peers' TLS settings with the guide (Configure Microsoft OCS to use TLSv1; Add TLS peer to selected TLS peer subjects list on IM and Presence, Steps 1-9) and check the aborting side's logs at the time of the evidence frames";
