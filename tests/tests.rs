//! The single integration-test binary (one binary, topic modules).

mod util;

mod capture_corpus;
mod captures;
mod cli;
mod corpus;
mod keys;
mod profile_cli;
mod report_format;
