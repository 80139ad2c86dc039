//! Display names of TLS alert code points (RFC 5246 §7.2, RFC 8446 §6), for
//! reasons and reports. Unknown values stay values: `alert_<n>`.

use std::borrow::Cow;

/// Alert description by IANA name, e.g. 40 → `handshake_failure`.
pub fn alert_description(code: u8) -> Cow<'static, str> {
    let name = match code {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        21 => "decryption_failed",
        22 => "record_overflow",
        30 => "decompression_failure",
        40 => "handshake_failure",
        41 => "no_certificate",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        60 => "export_restriction",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        111 => "certificate_unobtainable",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        114 => "bad_certificate_hash_value",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        other => return Cow::Owned(format!("alert_{other}")),
    };
    Cow::Borrowed(name)
}

/// Alert level name: 1 → `warning`, 2 → `fatal`, else `level_<n>`.
pub fn alert_level(level: u8) -> Cow<'static, str> {
    match level {
        1 => Cow::Borrowed("warning"),
        2 => Cow::Borrowed("fatal"),
        other => Cow::Owned(format!("level_{other}")),
    }
}

/// Alert codes that mean "I do not accept your certificate".
pub const CERTIFICATE_REJECTED: [u8; 7] = [42, 43, 44, 45, 46, 48, 116];

/// Alert codes that mean "we have no version / suite in common".
pub const NO_COMMON_PARAMETERS: [u8; 3] = [40, 70, 71];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_unknown_alerts_have_names() {
        assert_eq!(alert_description(40), "handshake_failure");
        assert_eq!(alert_description(48), "unknown_ca");
        assert_eq!(alert_description(200), "alert_200");
        assert_eq!(alert_level(2), "fatal");
        assert_eq!(alert_level(9), "level_9");
    }
}
