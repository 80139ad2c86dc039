//! NSS key log files (the `SSLKEYLOGFILE` format written by browsers, curl,
//! OpenSSL's `-keylogfile`, and many SIP test clients).
//!
//! Owns [`KeyLog`]: client random → secrets, merged from any number of
//! files. Each line is `LABEL <client_random hex> <secret hex>`; `#` starts a
//! comment. Known labels: `CLIENT_RANDOM` (TLS ≤1.2 master secret) and the
//! four TLS 1.3 traffic secrets. Other labels (`CLIENT_EARLY_TRAFFIC_SECRET`,
//! `EXPORTER_SECRET`, `RSA`, …) are skipped. A malformed line with a known
//! label is an error naming file and line: a key log that silently loses
//! entries would turn "wrong key" into "no key".
//!
//! Invariant: when two lines give the same secret for the same client random
//! the later one wins (a re-run test client appends to the same file).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::kdf::{MASTER_SECRET_LEN, RANDOM_LEN};

/// Longest line accepted. A valid line is under 200 bytes (31-byte label,
/// 64 + 96 hex digits); 1 KiB leaves room for trailing junk without letting
/// a binary file be read as one endless line.
pub const MAX_LINE_LEN: usize = 1024;

/// Longest TLS 1.3 traffic secret: the SHA-384 output.
const MAX_TLS13_SECRET_LEN: usize = 48;

/// The TLS 1.3 traffic secrets of one connection (each 32 or 48 bytes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tls13Secrets {
    pub client_handshake: Option<Vec<u8>>,
    pub server_handshake: Option<Vec<u8>>,
    pub client_application: Option<Vec<u8>>,
    pub server_application: Option<Vec<u8>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Entry {
    master: Option<[u8; MASTER_SECRET_LEN]>,
    tls13: Option<Tls13Secrets>,
}

/// What is wrong with one key log line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyLogProblem {
    #[error("{label} needs a client random and a secret")]
    MissingField { label: &'static str },
    #[error("more than three fields")]
    ExtraField,
    #[error("{field} is not hex")]
    BadHex { field: &'static str },
    #[error("{field} has {got} bytes, expected {expected}")]
    BadLength {
        field: &'static str,
        expected: &'static str,
        got: usize,
    },
    #[error("line is not UTF-8")]
    NotUtf8,
    #[error("line longer than {MAX_LINE_LEN} bytes")]
    LineTooLong,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyLogError {
    #[error("cannot read key log {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {problem}")]
    Malformed {
        path: PathBuf,
        line: usize,
        problem: KeyLogProblem,
    },
}

#[derive(Clone, Copy)]
enum Label {
    ClientRandom,
    ClientHandshake,
    ServerHandshake,
    ClientTraffic0,
    ServerTraffic0,
}

impl Label {
    fn parse(s: &str) -> Option<(Label, &'static str)> {
        Some(match s {
            "CLIENT_RANDOM" => (Label::ClientRandom, "CLIENT_RANDOM"),
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET" => {
                (Label::ClientHandshake, "CLIENT_HANDSHAKE_TRAFFIC_SECRET")
            }
            "SERVER_HANDSHAKE_TRAFFIC_SECRET" => {
                (Label::ServerHandshake, "SERVER_HANDSHAKE_TRAFFIC_SECRET")
            }
            "CLIENT_TRAFFIC_SECRET_0" => (Label::ClientTraffic0, "CLIENT_TRAFFIC_SECRET_0"),
            "SERVER_TRAFFIC_SECRET_0" => (Label::ServerTraffic0, "SERVER_TRAFFIC_SECRET_0"),
            _ => return None,
        })
    }
}

/// Secrets by client random, from one or more key log files.
#[derive(Debug, Clone, Default)]
pub struct KeyLog {
    entries: HashMap<[u8; RANDOM_LEN], Entry>,
}

impl KeyLog {
    pub fn new() -> KeyLog {
        KeyLog::default()
    }

    /// A key log from one file.
    pub fn load(path: &Path) -> Result<KeyLog, KeyLogError> {
        let mut log = KeyLog::new();
        log.add_file(path)?;
        Ok(log)
    }

    /// Merges one file; returns the number of secrets read from it.
    pub fn add_file(&mut self, path: &Path) -> Result<usize, KeyLogError> {
        let file = File::open(path).map_err(|source| KeyLogError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        self.add_reader(path, BufReader::new(file))
    }

    /// Merges key log text read from `reader`; `path` names it in errors.
    pub fn add_reader<R: BufRead>(
        &mut self,
        path: &Path,
        mut reader: R,
    ) -> Result<usize, KeyLogError> {
        let mut line = Vec::with_capacity(256);
        let mut count = 0;
        for line_no in 1.. {
            line.clear();
            let n = (&mut reader)
                .take(MAX_LINE_LEN as u64 + 1)
                .read_until(b'\n', &mut line)
                .map_err(|source| KeyLogError::Io {
                    path: path.to_path_buf(),
                    source,
                })?;
            if n == 0 {
                break;
            }
            let malformed = |problem| KeyLogError::Malformed {
                path: path.to_path_buf(),
                line: line_no,
                problem,
            };
            if line.len() > MAX_LINE_LEN {
                return Err(malformed(KeyLogProblem::LineTooLong));
            }
            let text = std::str::from_utf8(&line).map_err(|_| malformed(KeyLogProblem::NotUtf8))?;
            if self.add_line(text).map_err(malformed)? {
                count += 1;
            }
        }
        Ok(count)
    }

    /// Merges one line; `Ok(true)` when it held a known secret.
    fn add_line(&mut self, line: &str) -> Result<bool, KeyLogProblem> {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return Ok(false);
        }
        let mut fields = line.split_ascii_whitespace();
        let Some((label, name)) = fields.next().and_then(Label::parse) else {
            return Ok(false);
        };
        let (Some(cr_hex), Some(secret_hex)) = (fields.next(), fields.next()) else {
            return Err(KeyLogProblem::MissingField { label: name });
        };
        if fields.next().is_some() {
            return Err(KeyLogProblem::ExtraField);
        }
        let mut cr = [0u8; RANDOM_LEN];
        decode_exact(cr_hex, "client random", "32", &mut cr)?;
        let entry = self.entries.entry(cr).or_default();
        if let Label::ClientRandom = label {
            let mut ms = [0u8; MASTER_SECRET_LEN];
            decode_exact(secret_hex, "master secret", "48", &mut ms)?;
            entry.master = Some(ms);
            return Ok(true);
        }
        let secret =
            hex::decode(secret_hex).map_err(|_| KeyLogProblem::BadHex { field: "secret" })?;
        if !matches!(secret.len(), 32 | MAX_TLS13_SECRET_LEN) {
            return Err(KeyLogProblem::BadLength {
                field: "secret",
                expected: "32 or 48",
                got: secret.len(),
            });
        }
        let t = entry.tls13.get_or_insert_with(Tls13Secrets::default);
        let slot = match label {
            Label::ClientHandshake => &mut t.client_handshake,
            Label::ServerHandshake => &mut t.server_handshake,
            Label::ClientTraffic0 => &mut t.client_application,
            Label::ServerTraffic0 | Label::ClientRandom => &mut t.server_application,
        };
        *slot = Some(secret);
        Ok(true)
    }

    /// The TLS ≤1.2 master secret of the connection with `client_random`.
    pub fn master_secret(
        &self,
        client_random: &[u8; RANDOM_LEN],
    ) -> Option<&[u8; MASTER_SECRET_LEN]> {
        self.entries.get(client_random)?.master.as_ref()
    }

    /// The TLS 1.3 secrets of the connection with `client_random`.
    pub fn tls13_secrets(&self, client_random: &[u8; RANDOM_LEN]) -> Option<&Tls13Secrets> {
        self.entries.get(client_random)?.tls13.as_ref()
    }

    /// Number of connections (client randoms) with at least one secret.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn decode_exact(
    hex_text: &str,
    field: &'static str,
    expected: &'static str,
    out: &mut [u8],
) -> Result<(), KeyLogProblem> {
    if hex_text.len() != 2 * out.len() {
        return Err(KeyLogProblem::BadLength {
            field,
            expected,
            got: hex_text.len() / 2,
        });
    }
    hex::decode_to_slice(hex_text, out).map_err(|_| KeyLogProblem::BadHex { field })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CR1: &str = "0101010101010101010101010101010101010101010101010101010101010101";
    const CR2: &str = "0202020202020202020202020202020202020202020202020202020202020202";

    fn ms_hex(b: u8) -> String {
        format!("{b:02x}").repeat(48)
    }

    fn parse(text: &str) -> Result<KeyLog, KeyLogError> {
        let mut log = KeyLog::new();
        log.add_reader(Path::new("keys.log"), text.as_bytes())?;
        Ok(log)
    }

    #[test]
    fn client_random_lines_give_master_secrets_and_comments_are_skipped() {
        let text = format!(
            "# made by a test client\n\nCLIENT_RANDOM {CR1} {}\r\nCLIENT_RANDOM {CR2} {}\n",
            ms_hex(0xaa),
            ms_hex(0xbb)
        );
        let log = parse(&text).expect("valid");
        assert_eq!(log.len(), 2);
        assert_eq!(log.master_secret(&[1; 32]), Some(&[0xaa; 48]));
        assert_eq!(log.master_secret(&[2; 32]), Some(&[0xbb; 48]));
        assert_eq!(log.master_secret(&[3; 32]), None);
    }

    #[test]
    fn tls13_secrets_are_collected_per_client_random_and_unknown_labels_ignored() {
        let s32 = "11".repeat(32);
        let s48 = "22".repeat(48);
        let text = format!(
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET {CR1} {s32}\nSERVER_HANDSHAKE_TRAFFIC_SECRET {CR1} {s48}\n\
             EXPORTER_SECRET {CR1} {s32}\nCLIENT_EARLY_TRAFFIC_SECRET {CR1} zz\nCLIENT_TRAFFIC_SECRET_0 {CR1} {s32}\n\
             SERVER_TRAFFIC_SECRET_0 {CR1} {s32}\nRSA 0011223344556677 {}\n",
            ms_hex(1)
        );
        let log = parse(&text).expect("valid");
        let t = log.tls13_secrets(&[1; 32]).expect("tls13 entry");
        assert_eq!(t.client_handshake.as_deref(), Some(&[0x11; 32][..]));
        assert_eq!(t.server_handshake.as_deref(), Some(&[0x22; 48][..]));
        assert!(t.client_application.is_some() && t.server_application.is_some());
        assert_eq!(log.master_secret(&[1; 32]), None);
    }

    #[test]
    fn several_files_merge_and_later_lines_win() {
        let mut log = KeyLog::new();
        let a = format!("CLIENT_RANDOM {CR1} {}\n", ms_hex(1));
        let b = format!(
            "CLIENT_RANDOM {CR1} {}\nCLIENT_RANDOM {CR2} {}\n",
            ms_hex(2),
            ms_hex(3)
        );
        assert_eq!(
            log.add_reader(Path::new("a.log"), a.as_bytes()).expect("a"),
            1
        );
        assert_eq!(
            log.add_reader(Path::new("b.log"), b.as_bytes()).expect("b"),
            2
        );
        assert_eq!(log.len(), 2);
        assert_eq!(log.master_secret(&[1; 32]), Some(&[2; 48]));
    }

    fn problem_at(text: &str) -> (usize, KeyLogProblem) {
        match parse(text) {
            Err(KeyLogError::Malformed {
                line,
                problem,
                path,
            }) => {
                assert_eq!(path, Path::new("keys.log"));
                (line, problem)
            }
            other => panic!("expected a malformed-line error, got {other:?}"),
        }
    }

    #[test]
    fn malformed_lines_are_reported_with_their_line_number() {
        let good = format!("CLIENT_RANDOM {CR1} {}\n", ms_hex(1));
        let (line, p) = problem_at(&format!("{good}CLIENT_RANDOM {CR1}\n"));
        assert_eq!(
            (line, p),
            (
                2,
                KeyLogProblem::MissingField {
                    label: "CLIENT_RANDOM"
                }
            )
        );
        let (line, p) = problem_at(&format!(
            "# c\n{good}{good}CLIENT_RANDOM {CR1} {}\n",
            "ab".repeat(47)
        ));
        assert_eq!(line, 4);
        assert_eq!(
            p,
            KeyLogProblem::BadLength {
                field: "master secret",
                expected: "48",
                got: 47
            }
        );
        let (_, p) = problem_at(&format!(
            "CLIENT_RANDOM {} {}\n",
            "zz".repeat(32),
            ms_hex(1)
        ));
        assert_eq!(
            p,
            KeyLogProblem::BadHex {
                field: "client random"
            }
        );
        let (_, p) = problem_at(&format!("CLIENT_RANDOM {CR1} {} extra\n", ms_hex(1)));
        assert_eq!(p, KeyLogProblem::ExtraField);
        let (_, p) = problem_at(&format!(
            "SERVER_TRAFFIC_SECRET_0 {CR1} {}\n",
            "33".repeat(20)
        ));
        assert!(matches!(p, KeyLogProblem::BadLength { got: 20, .. }));
        let (_, p) = problem_at(&"x".repeat(MAX_LINE_LEN + 5));
        assert_eq!(p, KeyLogProblem::LineTooLong);
        let err = parse(&format!("CLIENT_RANDOM {CR1}\n")).expect_err("malformed");
        assert_eq!(
            err.to_string(),
            "keys.log:1: CLIENT_RANDOM needs a client random and a secret"
        );
    }

    #[test]
    fn missing_file_is_an_io_error_naming_it() {
        let err = KeyLog::load(Path::new("/nonexistent/keys.log")).expect_err("no file");
        assert!(matches!(err, KeyLogError::Io { .. }));
        assert!(err.to_string().contains("/nonexistent/keys.log"));
    }
}
