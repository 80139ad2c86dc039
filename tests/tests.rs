//! The single integration-test binary (one binary, topic modules).
//! `robustness::mutate::alloc` installs the binary's counting allocator.

mod util;

mod alloc_free;
mod capture_corpus;
mod captures;
mod cli;
mod corpus;
mod ecs_format;
mod html_browser;
mod keys;
mod ladders;
mod layering;
mod live;
mod one_answer;
mod operations;
mod ordering;
mod profile_cli;
mod report_format;
mod robustness;
mod snapshots;
