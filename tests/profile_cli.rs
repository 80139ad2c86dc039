//! `tlsaudit profile` and `--profile FILE` through the built binary: the
//! printed default parses back to the built-in profile, and a bad profile
//! fails fast with exit 2 and a `file:line` message naming the key.

use std::path::Path;

use tlsaudit::profile::Profile;

use crate::util::tlsaudit;

#[test]
fn printed_default_profile_parses_back_to_builtin() {
    let out = tlsaudit(&["profile"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(
        text.contains("Guide: Add TLS peer to selected TLS peer subjects list on IM and Presence,")
    );
    let parsed = Profile::from_toml(&text, Path::new("printed.toml")).expect("parses");
    assert_eq!(
        Profile {
            origin: None,
            ..parsed
        },
        Profile::builtin()
    );
}

#[test]
fn unknown_key_in_profile_is_exit_2_with_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("site.toml");
    std::fs::write(&path, "name = \"site\"\n[tls]\nversion = [\"TLSv1.0\"]\n").expect("write");
    let empty = dir.path().join("empty.pcap");
    // A classic pcap header with no packets: a valid, empty input.
    let mut hdr = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
    hdr.extend_from_slice(&[0; 8]);
    hdr.extend_from_slice(&65535u32.to_le_bytes());
    hdr.extend_from_slice(&1u32.to_le_bytes());
    std::fs::write(&empty, hdr).expect("write");
    let out = tlsaudit(&[
        "check",
        "--profile",
        path.to_str().unwrap(),
        empty.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("site.toml:3:"), "{err}");
    assert!(err.contains("version"), "{err}");
}
