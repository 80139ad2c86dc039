//! The single integration-test binary (one binary, topic modules).
mod live;
