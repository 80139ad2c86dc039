//! The single integration-test binary (one binary, topic modules).

mod util;

mod capture_corpus;
mod robustness;
